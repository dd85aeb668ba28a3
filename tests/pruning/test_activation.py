"""The activation-aware criterion: RMS of a neuron's output on the observed inputs times its outgoing
column L1 norm; it refuses to score without inputs and the aire schedule gives it some."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.config import ConfigError
from aire.pruning.activation import ActivationL1Criterion
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer


def _network():
    signal = ImageSignal(image=synthetic_image(8))
    return signal, aire.build_network(signal, [6, 5, 4], seed=1)


def test_scores_are_output_rms_times_column_l1():
    _, net = _network()
    x = torch.rand(50, 2) * 2 - 1
    criterion = ActivationL1Criterion()
    criterion.observe(x)
    with torch.no_grad():
        h1 = torch.sin(30.0 * (torch.sin(30.0 * (x @ net.weights[0].T + net.biases[0])) @ net.weights[1].T
                               + net.biases[1]))
    expected = h1.pow(2).mean(0).sqrt() * net.weights[2].detach().abs().sum(0)
    assert torch.allclose(criterion.scores(net, 1), expected, rtol=1e-5)


def test_a_neuron_silent_on_the_data_scores_zero_whatever_its_column():
    _, net = _network()
    with torch.no_grad():
        net.weights[1][2] = 0.0
        net.biases[1][2] = 0.0  # sin(0) = 0 everywhere
        net.weights[2][:, 2] = 10.0  # the largest column: column-l1 would keep it
    criterion = ActivationL1Criterion()
    criterion.observe(torch.rand(30, 2) * 2 - 1)
    assert criterion.select(net, 1, 1).tolist() == [2]


def test_without_inputs_it_refuses():
    _, net = _network()
    with pytest.raises(ConfigError, match="gave it no inputs"):
        ActivationL1Criterion().scores(net, 1)


def test_the_aire_schedule_shows_it_training_inputs():
    signal, net = _network()
    train = aire.TrainConfig(steps=20, eval_every=20, progress=False, guard=False)
    trainer = Trainer(signal, net, train, aire.ScheduleConfig(kind="aire", criterion="activation-l1", cycles=1, warmup=0.1,
                                                              twd_length=0.2, cycle_gap=0.0, target_params=0.7))
    result = trainer.fit()
    assert isinstance(trainer.schedule.criterion, ActivationL1Criterion)
    assert trainer.schedule.criterion.inputs.shape == (64, 2)  # 4096 asked, the 8 x 8 image has 64 pixels
    assert result.metrics["params_final"] <= 0.7 * result.metrics["params_initial"]
