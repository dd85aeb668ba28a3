"""The DepGraph baselines: torch-pruning's dependency graph and group L1 magnitude choose the neurons, our
SineMLP loses exactly those (the mirror's weights equal ours), at the magnitude baselines' steps."""

from __future__ import annotations

import sys

import pytest
import torch

from aire.config import ConfigError

pytest.importorskip("torch_pruning")
from aire.schedules.depgraph import DepGraphSchedule, mirror  # noqa: E402


def test_the_mirror_computes_the_same_function(make_trainer):
    trainer = make_trainer("depgraph-oneshot")
    model, linears = mirror(trainer.network)
    x = torch.rand(5, 2) * 2 - 1
    assert len(linears) == 4
    assert torch.allclose(model(x), trainer.network(x), atol=1e-5)


def test_oneshot_removes_the_lowest_group_l1_neurons(make_trainer):
    trainer = make_trainer("depgraph-oneshot")
    schedule = trainer.schedule
    assert isinstance(schedule, DepGraphSchedule)
    schedule.on_fit_start(trainer)
    assert schedule.steps == [12]
    net = trainer.network
    # group L1 of neuron j of layer 1: its incoming row and its outgoing column (torch-pruning's mean of the two)
    group = net.weights[1].detach().abs().sum(1) + net.weights[2].detach().abs().sum(0)
    before = net.weights[1].detach().clone()
    trainer.step = 12
    schedule.before_step(trainer, 12)
    width = net.widths()[1]
    kept = torch.sort(torch.argsort(group, stable=True)[8 - width:]).values
    assert width < 8 and net.num_parameters() <= 0.6 * trainer.initial_params
    assert torch.equal(net.weights[1].detach(), before[kept])
    assert schedule.lr_origin == 12
    assert {e["method"] for e in trainer.events if e["event"] == "prune"} == {"depgraph"}


def test_iterative_fit_cuts_three_times_to_the_budget(make_trainer):
    result = make_trainer("depgraph-iterative", steps=30, budget=0.5).fit()
    assert sorted({e["step"] for e in result.events if e["event"] == "prune"}) == [3, 6, 9]
    assert result.metrics["params_final"] <= 0.5 * result.metrics["params_initial"]


def test_without_torch_pruning_the_error_names_the_extra(make_trainer, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)
    with pytest.raises(ConfigError, match=r"aire-inr\[baselines\]"):
        make_trainer("depgraph-oneshot")
