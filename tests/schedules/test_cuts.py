"""Shared cut bookkeeping: the pruned layers, neurons per layer for a parameter target, the surgery's
events, the rewound learning rate, and inputs shown only to data-aware criteria."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.config import ConfigError
from aire.pruning.column_l1 import ColumnL1Criterion
from aire.schedules import cuts
from aire.train import schedule as sched


def test_prunable_layers_default_to_the_hidden_ones_and_refuse_missing_layers(make_trainer):
    net = make_trainer("magnitude-oneshot").network  # 3 sine layers
    assert cuts.prunable_layers(net, None) == [1, 2]
    assert cuts.prunable_layers(net, (0, 2)) == [0, 2]
    with pytest.raises(ConfigError, match=r"prune_layers \[3\] do not exist"):
        cuts.prunable_layers(net, (1, 3))


def test_neurons_per_layer_reach_the_target_with_one_shrink_factor(make_trainer):
    trainer = make_trainer("magnitude-oneshot")
    target = 0.6 * trainer.initial_params
    k = cuts.neurons_per_layer(trainer, [1, 2], target)
    expected = sched.budget_widths(2, [8, 8, 8], 3, [1, 2], target)
    assert k == {1: 8 - expected[1], 2: 8 - expected[2]}
    assert cuts.neurons_per_layer(trainer, [1], 1.0) == {1: 7}  # never the whole layer


def test_cut_removes_the_neurons_and_logs_the_event(make_trainer):
    trainer = make_trainer("magnitude-oneshot")
    before = trainer.network.weights[2].detach().clone()
    seen = []
    cuts.cut(trainer, 1, torch.tensor([0, 5]), prepare=lambda: seen.append(trainer.network.widths()[1]), note=3)
    assert seen == [8]  # prepare runs before the surgery
    assert trainer.network.widths()[:-1] == [8, 6, 8]
    assert torch.equal(trainer.network.weights[2].detach(), before[:, [1, 2, 3, 4, 6, 7]])
    event = trainer.events[-1]
    assert (event["event"], event["layer"], event["removed"], event["note"]) == ("prune", 1, 2, 3)


def test_rewound_lr_restarts_the_exponential_decay_at_the_origin():
    train = aire.TrainConfig(steps=100, lr=1e-3, lr_final=1e-5)
    assert cuts.rewound_lr(0, train, 0) == pytest.approx(1e-3)
    assert cuts.rewound_lr(50, train, 0) == pytest.approx(1e-4)
    assert cuts.rewound_lr(20, train, 20) == pytest.approx(1e-3)
    assert cuts.rewound_lr(60, train, 20) == pytest.approx(1e-4)  # half way from the origin to the end


def test_only_data_aware_criteria_are_shown_inputs(make_trainer):
    trainer = make_trainer("magnitude-oneshot")

    class Seeing(ColumnL1Criterion):
        def observe(self, inputs):
            self.inputs = inputs

    seeing = Seeing()
    cuts.show_inputs(seeing, trainer, torch.Generator().manual_seed(0), n=10)
    assert seeing.inputs.shape == (10, 2) and float(seeing.inputs.abs().max()) <= 1.0
    blind = ColumnL1Criterion()
    cuts.show_inputs(blind, trainer, torch.Generator().manual_seed(0), n=10)
    assert not hasattr(blind, "inputs")
