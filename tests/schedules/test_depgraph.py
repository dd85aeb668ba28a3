"""The DepGraph baselines: torch-pruning's dependency graph and group L1 magnitude choose the neurons, our
SineMLP loses exactly those (the mirror's weights equal ours), at the magnitude baselines' steps."""

from __future__ import annotations

import sys

import pytest
import torch

import aire
from aire.config import ConfigError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer

pytest.importorskip("torch_pruning")
from aire.schedules.depgraph import DepGraphSchedule, mirror  # noqa: E402


def _trainer(kind: str, steps: int = 40, budget: float = 0.6) -> Trainer:
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 8, 8], seed=3)
    train = aire.TrainConfig(steps=steps, lr=1e-3, lr_final=1e-4, eval_every=steps, progress=False, guard=False)
    return Trainer(signal, net, train, aire.ScheduleConfig(kind=kind, target_params=budget))


def test_the_mirror_computes_the_same_function():
    trainer = _trainer("depgraph-oneshot")
    model, linears = mirror(trainer.network)
    x = torch.rand(5, 2) * 2 - 1
    assert len(linears) == 4
    assert torch.allclose(model(x), trainer.network(x), atol=1e-5)


def test_oneshot_removes_the_lowest_group_l1_neurons():
    trainer = _trainer("depgraph-oneshot")
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


def test_iterative_fit_cuts_three_times_to_the_budget():
    result = _trainer("depgraph-iterative", steps=30, budget=0.5).fit()
    assert sorted({e["step"] for e in result.events if e["event"] == "prune"}) == [3, 6, 9]
    assert result.metrics["params_final"] <= 0.5 * result.metrics["params_initial"]


def test_without_torch_pruning_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)
    with pytest.raises(ConfigError, match=r"aire-inr\[baselines\]"):
        _trainer("depgraph-oneshot")
