"""SPEC section 2 checked on the real network classes with hypothesis.

Every assertion is `observed <= bound` where the bound is the theorem's plus float64 rounding
(see aire.theory.verify); none is a tuned constant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aire.testing import small_network
from aire.theory import pruning_bound
from aire.theory.harmonic import amplitude_bound, harmonic_expansion
from aire.theory.verify import (check_densify, check_expansion, check_pruning, check_stability, check_surgery,
                                lattice_off_energy)

dims = st.integers(1, 3)
seeds = st.integers(0, 10_000)


@settings(max_examples=15)
@given(d=dims, m=st.integers(1, 4), w=st.integers(1, 4), seed=seeds, order=st.integers(2, 7),
       w0=st.floats(5.0, 60.0))
def test_truncated_expansion_is_within_the_tail_bound(d, m, w, seed, order, w0):
    net = small_network((m, w, 2), in_features=d, seed=seed)
    net.omega0_hidden = w0  # larger hidden omega_0: larger a_l, slower convergence
    result = check_expansion(net, seed % w, order, n_points=256, seed=seed)
    assert result.passed, result.detail


@given(m=st.integers(1, 5), seed=seeds, order=st.integers(1, 5))
def test_amplitudes_obey_their_bound_and_the_expansion_is_complete_at_high_order(m, seed, order):
    net = small_network((m, 3), in_features=2, seed=seed)
    exp = harmonic_expansion(net, 0, order)
    a = net.canonical()[1][0][0]
    assert (np.abs(exp.amplitude) <= amplitude_bound(exp.k, a) * (1 + 1e-10) ** m + 1e-300).all()
    assert (np.abs(exp.k).sum(axis=1) <= order).all()
    # every frequency is the integer combination sum_l k_l omega_l
    np.testing.assert_allclose(exp.frequency, exp.k @ net.canonical()[0][0], rtol=0, atol=1e-12)


def test_expansion_stays_tractable_for_hundreds_of_frequencies():
    net = small_network((300, 8), in_features=2, seed=1)
    exp = harmonic_expansion(net, 0, 2, max_terms=20_000)
    assert len(exp) <= 20_000
    x = np.random.default_rng(0).uniform(-1, 1, (256, 2))
    with torch.no_grad():
        h = net.hidden_outputs(torch.from_numpy(x))[1][:, 0].numpy()
    assert np.abs(exp(x) - h).max() <= exp.tail_bound  # honest even when loose


@settings(max_examples=10)
@given(q=st.integers(1, 7), widths=st.lists(st.integers(1, 5), min_size=2, max_size=3), seed=seeds)
def test_single_input_frequency_gives_only_its_multiples_in_every_neuron(q, widths, seed):
    net = small_network((1, *widths), in_features=1, seed=seed)
    with torch.no_grad():
        net.weights[0].fill_(q * math.pi / net.omega(0))
    result = lattice_off_energy(net, [q], n_per_generator=32)
    assert result.passed, result.detail


@settings(max_examples=10)
@given(q1=st.integers(1, 6), q2=st.integers(1, 6), seed=seeds)
def test_commensurate_frequencies_stay_on_their_lattice(q1, q2, seed):
    net = small_network((2, 4, 3), in_features=1, seed=seed)
    with torch.no_grad():
        net.weights[0].copy_(torch.tensor([[q1], [q2]], dtype=torch.float64) * math.pi / net.omega(0))
    result = lattice_off_energy(net, [q1, q2], n_per_generator=16)
    assert result.passed, result.detail


@settings(max_examples=12)
@given(d=dims, widths=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=seeds, data=st.data(),
       scale=st.floats(0.001, 1.0), activation=st.sampled_from(["sine", "finer"]))
def test_stability_bound_holds_for_random_perturbations_of_every_layer(d, widths, seed, data, scale, activation):
    net = small_network(widths, in_features=d, seed=seed, activation=activation)
    layer = data.draw(st.integers(0, len(widths)))
    result = check_stability(net, layer, scale, seed=seed, n_points=512)
    assert result.passed, result.detail


@settings(max_examples=12)
@given(d=dims, widths=st.lists(st.integers(2, 6), min_size=1, max_size=3), seed=seeds, data=st.data(),
       activation=st.sampled_from(["sine", "finer"]))
def test_pruning_changes_f_by_at_most_the_pruning_bound(d, widths, seed, data, activation):
    net = small_network(widths, in_features=d, seed=seed, activation=activation)
    layer = data.draw(st.integers(0, len(widths) - 1))
    neurons = data.draw(st.lists(st.integers(0, widths[layer] - 1), min_size=1, max_size=widths[layer] - 1, unique=True))
    result = check_pruning(net, layer, neurons, seed=seed, n_points=512)
    assert result.passed, result.detail


@given(seed=seeds, factor=st.floats(1e-6, 0.99))
def test_twd_shrinks_the_pruning_bound_by_its_decay_factor(seed, factor):
    net = small_network((5, 4, 3), seed=seed)
    before = pruning_bound(net, 1, [0, 2])
    with torch.no_grad():
        net.outgoing(1)[:, [0, 2]] *= factor  # what TWD does to its targets
    assert pruning_bound(net, 1, [0, 2]) == pytest.approx(before * factor, rel=1e-12)


@given(d=dims, widths=st.lists(st.integers(2, 6), min_size=1, max_size=3), seed=seeds)
def test_surgery_exact_and_densification_doubles(d, widths, seed):
    net = small_network(widths, in_features=d, seed=seed)
    surgery = check_surgery(net, seed)
    assert surgery.passed, surgery.detail
    doubling = check_densify(net)
    assert doubling.passed, doubling.detail


def test_finer_has_no_harmonic_expansion():
    with pytest.raises(ValueError, match="sine"):
        harmonic_expansion(small_network(activation="finer"), 0, 2)


def test_verify_command_runs_and_passes(capsys):
    from aire.cli import main

    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "harmonic expansion" in out and "lattice spectrum" in out and "0 failed" in out
