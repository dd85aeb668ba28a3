"""column-lp: the criterion contract, its values against torch's norms, and its setting."""

import pytest
import torch

import aire
from aire.pruning.column_l1 import column_l1
from aire.testing import check_pruning_criterion, small_network
from aire_example.criterion import ColumnLpCriterion


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5, float("inf")])
def test_column_lp_honours_the_criterion_contract(p):
    check_pruning_criterion(ColumnLpCriterion(p=p))


def test_scores_are_the_p_norms_of_the_outgoing_columns():
    net = small_network(seed=3)
    for layer in range(3):
        column = net.outgoing(layer).detach()
        # p = 1 is the paper's criterion (float64: equal up to summation order)
        assert torch.allclose(ColumnLpCriterion(p=1).scores(net, layer), column_l1(net, layer), rtol=1e-12, atol=0)
        assert torch.allclose(ColumnLpCriterion(p=2).scores(net, layer), (column ** 2).sum(0).sqrt(), rtol=1e-12, atol=0)
        assert torch.equal(ColumnLpCriterion(p=float("inf")).scores(net, layer), column.abs().amax(0))


def test_the_setting_reaches_the_criterion_through_the_registry():
    assert aire.create("criterion", "column-lp").p == 1.0
    assert aire.create("criterion", "column-lp", p=2).p == 2.0
    with pytest.raises(aire.InputError, match="its settings: p"):
        aire.create("criterion", "column-lp", q=2)


@pytest.mark.parametrize("p", [0.5, -1.0, float("nan")])
def test_a_p_below_one_is_refused_naming_the_setting(p):
    with pytest.raises(aire.ConfigError, match="column-lp: p must be >= 1"):
        ColumnLpCriterion(p=p)
