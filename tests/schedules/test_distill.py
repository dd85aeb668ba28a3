"""aire-distill: during TWD the network with its targets' columns at 0 is pulled toward the pre-TWD
network's outputs; the targets' own gradients stay 0 and their columns are put back."""

from __future__ import annotations

import pytest
import torch

from aire.config import ConfigError
from aire.schedules.distill import DistillSchedule


def _in_twd(make_trainer, weight=1.0):
    trainer = make_trainer("aire-distill", steps=40, budget=0.7, cycles=1, warmup=0.1, twd_length=0.25,
                           cycle_gap=0.0, densify_k=0, prune_layers=(1,), settings={"distill_weight": weight})
    schedule = trainer.schedule
    schedule.on_fit_start(trainer)
    start = schedule.cycles[0].start
    for step in range(start + 1):
        trainer.step = step
        schedule.before_step(trainer, step)
        if step < start:
            schedule.after_step(trainer, step, trainer.training_step(step))
    return trainer, schedule


def test_the_loss_compares_the_pruned_network_with_the_teacher(make_trainer):
    trainer, schedule = _in_twd(make_trainer)
    assert isinstance(schedule, DistillSchedule)
    net, x, targets = trainer.network, schedule.inputs, schedule.twd_targets[1]
    assert torch.allclose(schedule.teacher_outputs, net(x).detach())  # nothing decayed yet
    with torch.no_grad():
        pruned = [w.detach().clone() for w in net.weights]
        pruned[2][:, targets] = 0.0
        h = torch.sin(30.0 * (x @ pruned[0].T + net.biases[0]))
        h = torch.sin(30.0 * (h @ pruned[1].T + net.biases[1]))
        h = torch.sin(30.0 * (h @ pruned[2].T + net.biases[2]))
        expected = ((h @ pruned[3].T + net.biases[3]) - schedule.teacher_outputs).pow(2).sum(1).mean()
    loss, saved = schedule.distillation_loss(net)
    assert float(loss) == pytest.approx(float(expected), rel=1e-4)
    assert torch.count_nonzero(net.outgoing(1)[:, targets]) == 0 and set(saved) == {1}


def test_after_backward_adds_the_distillation_gradient_and_restores_the_columns(make_trainer):
    trainer, schedule = _in_twd(make_trainer, weight=2.0)
    net = trainer.network
    step = trainer.step
    columns = net.outgoing(1).detach().clone()
    x, y = trainer.signal.sample(None)
    trainer.optimizer.zero_grad()
    trainer.signal.training_loss(net, x, y).backward()
    plain = net.weights[1].grad.clone()
    schedule.after_backward(trainer, step)
    loss, saved = schedule.distillation_loss(net)
    distill_grad = torch.autograd.grad(2.0 * loss, net.weights[1])[0]
    with torch.no_grad():
        net.outgoing(1)[:, schedule.twd_targets[1]] = saved[1]
    assert torch.allclose(net.weights[1].grad, plain + distill_grad, atol=1e-6)
    assert torch.equal(net.outgoing(1).detach(), columns)  # the targets' columns are back
    assert torch.count_nonzero(net.outgoing(1).grad[:, schedule.twd_targets[1]]) == 0  # and excluded from Adam


def test_the_cut_drops_the_teacher_and_a_negative_weight_is_refused(make_trainer):
    trainer, schedule = _in_twd(make_trainer)
    trainer.step = schedule.cycles[0].prune
    schedule.before_step(trainer, trainer.step)
    assert schedule.teacher_outputs is None and trainer.network.widths()[1] < 8
    with pytest.raises(ConfigError, match="distill_weight must be >= 0"):
        make_trainer("aire-distill", settings={"distill_weight": -1})
