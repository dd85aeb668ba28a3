"""The `certified` criterion (vector Theorem 2 per neuron) and the cut-size prediction."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import aire
from aire.config import ScheduleConfig
from aire.pruning.certified import CertifiedCriterion, certified_scores, predict_cut
from aire.pruning.column_l1 import column_l1
from aire.signals.image import ImageSignal, synthetic_image
from aire.testing import check_pruning_criterion, small_network
from aire.theory.bounds import pruning_bound
from aire.theory.verify import _worst_ratio


def test_contract_and_registration():
    check_pruning_criterion(CertifiedCriterion())
    assert isinstance(aire.create("criterion", "certified"), CertifiedCriterion)


@settings(max_examples=10)
@given(d=st.integers(1, 3), widths=st.lists(st.integers(2, 6), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       data=st.data(), activation=st.sampled_from(["sine", "finer"]))
def test_each_score_bounds_removing_that_neuron(d, widths, seed, data, activation):
    net = small_network(widths, in_features=d, seed=seed, activation=activation)
    layer = data.draw(st.integers(0, len(widths) - 1))
    scores = certified_scores(net, layer)
    j = data.draw(st.integers(0, widths[layer] - 1))
    pruned = copy.deepcopy(net)
    pruned.remove_neurons(layer, torch.tensor([j]))
    assert _worst_ratio(net, pruned, float(scores[j]), seed, 256)[0] <= 1.0
    # never above Theorem 2's bound for the same neuron
    assert float(scores[j]) <= pruning_bound(net, layer, [j]) * (1 + 1e-12)


def test_scores_weigh_outgoing_weights_by_their_reach():
    # two neurons of layer 1 with equal outgoing L1 norms: the one feeding a neuron the output
    # ignores scores zero, column L1 cannot tell them apart
    net = small_network((3, 2, 2), in_features=2, out_features=1, seed=0)
    with torch.no_grad():
        net.weights[2].copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]) / net.omega(2))
        net.weights[3].copy_(torch.tensor([[1.0, 0.0]]))
    l1 = column_l1(net, 1)
    assert l1[0] == pytest.approx(float(l1[1]))
    scores = certified_scores(net, 1)
    assert float(scores[1]) == 0.0 and float(scores[0]) > 0.0


def _fitted(size: int = 16, widths=(32, 32, 32), steps: int = 300):
    signal = ImageSignal(image=synthetic_image(size))
    net = aire.build_network(signal, list(widths), seed=0)
    result = aire.fit(signal, net, steps=steps, schedule=ScheduleConfig(kind="none"), progress=False, eval_every=steps)
    return signal, result.network.double().eval()


def test_predicted_psnr_drop_against_the_measured_one():
    signal, net = _fitted()
    x, y = signal.sample(None)
    x, y = x.double(), y.double()
    with torch.no_grad():
        mse = float((net(x) - y).pow(2).mean())
    psnr = 10 * math.log10(4 / mse)
    layer, k = 1, 8
    neurons = torch.argsort(column_l1(net, layer))[:k]
    pred = predict_cut(net, layer, neurons, psnr, x)  # the signal's own points
    cut = copy.deepcopy(net)
    cut.remove_neurons(layer, neurons)
    with torch.no_grad():
        mse_cut = float((cut(x) - y).pow(2).mean())
    measured = 10 * math.log10(mse_cut / mse)
    assert measured > 1.0  # a real cut, not a no-op
    assert measured <= pred.psnr_drop_bound
    # the estimate drops only the cross term 2 <r, change>, at most 2 sqrt(mse m2) (Cauchy-Schwarz)
    m2 = pred.rms_change**2
    low = 10 * math.log10((math.sqrt(m2) - math.sqrt(mse)) ** 2 / mse) if m2 > mse else -math.inf
    high = 10 * math.log10((math.sqrt(m2) + math.sqrt(mse)) ** 2 / mse)
    assert low <= measured <= high
    # with targets on half the pixels the estimate sees the residual: within 1 dB of the drop on all
    half = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[: x.shape[0] // 2]
    sampled = predict_cut(net, layer, neurons, psnr, x[half], y[half])
    assert abs(sampled.psnr_drop_estimate - measured) <= 1.0
    # the signal's own PSNR (prediction clamped to [-1, 1]) is no worse than the unclamped one
    assert psnr - signal.evaluate(cut.float())["psnr"] <= pred.psnr_drop_bound + 1e-3
    # removing nothing predicts nothing; a zeroed column predicts no change
    assert predict_cut(net, layer, [], psnr, x).psnr_drop_estimate == 0.0
    with torch.no_grad():
        net.outgoing(layer)[:, 0] = 0.0
    assert predict_cut(net, layer, [0], psnr, x).psnr_drop_bound == 0.0
