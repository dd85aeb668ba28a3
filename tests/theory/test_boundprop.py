"""The certified (branch-and-bound, Taylor-model) change bound is never violated.

Observed changes are measured by the real networks at random points and at gradient-ascent points
(aire.theory.verify._worst_ratio), each allowed its own float64 rounding (aire.testing.rounding_bound);
nothing else is tolerated.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aire.testing import small_network
from aire.theory.boundprop import _Problem, certify_change, certify_many, certify_removal, device_for, removal_change
from aire.theory.bounds import stability_bound, vector_pruning_bound, vector_stability_bound
from aire.theory.verify import _with_canonical_layer, _worst_ratio


def _perturbed(net, layer: int, scale: float, seed: int):
    w, b = net.canonical()[layer]
    rng = np.random.default_rng(seed)
    new_w = w + scale * rng.standard_normal(w.shape) * (np.abs(w).mean() + 1e-3)
    new_b = b + scale * rng.standard_normal(b.shape) * (np.abs(b).mean() + 1e-3)
    return new_w, new_b


@settings(max_examples=12)
@given(d=st.integers(1, 3), widths=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       data=st.data(), log_scale=st.floats(-5, 0), order=st.integers(2, 5))
def test_certified_change_is_never_exceeded(d, widths, seed, data, log_scale, order):
    net = small_network(widths, in_features=d, seed=seed)
    layer = data.draw(st.integers(0, len(widths)))
    new_w, new_b = _perturbed(net, layer, 10**log_scale, seed)
    cert = certify_change(net, layer, new_w, new_b, order=order, max_boxes=300, initial=max(2, round(64 ** (1 / d))))
    ratio, worst = _worst_ratio(net, _with_canonical_layer(net, layer, new_w, new_b), cert.bound, seed, 256)
    assert ratio <= 1.0, f"observed {worst:.3e} > certified {cert.bound:.3e}"
    assert cert.observed <= cert.bound


@settings(max_examples=8)
@given(d=st.integers(1, 2), widths=st.lists(st.integers(2, 6), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       data=st.data())
def test_certified_removal_is_never_exceeded(d, widths, seed, data):
    net = small_network(widths, in_features=d, seed=seed)
    layer = data.draw(st.integers(0, len(widths) - 1))
    neurons = data.draw(st.lists(st.integers(0, widths[layer] - 1), min_size=1, max_size=widths[layer] - 1, unique=True))
    cert = certify_removal(net, layer, neurons, order=4, max_boxes=300)
    pruned = copy.deepcopy(net)
    pruned.remove_neurons(layer, torch.tensor(neurons))
    ratio, worst = _worst_ratio(net, pruned, cert.bound, seed, 256)
    assert ratio <= 1.0, f"observed {worst:.3e} > certified {cert.bound:.3e}"
    # the cheap vector bound is rigorous too, and never above Theorem 2's product
    vector = vector_pruning_bound(net, layer, neurons)
    assert _worst_ratio(net, pruned, vector, seed, 256)[0] <= 1.0


@settings(max_examples=10)
@given(d=st.integers(1, 3), widths=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       data=st.data(), activation=st.sampled_from(["sine", "finer"]))
def test_vector_bound_holds_and_never_exceeds_theorem_2(d, widths, seed, data, activation):
    net = small_network(widths, in_features=d, seed=seed, activation=activation)
    layer = data.draw(st.integers(0, len(widths)))
    new_w, new_b = _perturbed(net, layer, 0.05, seed)
    vector = vector_stability_bound(net, layer, new_w, new_b)
    assert vector <= stability_bound(net, layer, new_w, new_b) * (1 + 1e-12)
    assert _worst_ratio(net, _with_canonical_layer(net, layer, new_w, new_b), vector, seed, 256)[0] <= 1.0


def test_centre_values_are_the_networks_difference():
    net = small_network((6, 5, 4), in_features=2, seed=3)
    new_w, new_b = _perturbed(net, 1, 0.1, 0)
    cert = certify_change(net, 1, new_w, new_b, order=4, max_boxes=2000)
    other = _with_canonical_layer(net, 1, new_w, new_b)
    x = torch.tensor([cert.worst_point], dtype=torch.float64)
    with torch.no_grad():
        at_worst = float((other(x) - net(x)).abs().max())
    assert at_worst == pytest.approx(cert.observed, rel=1e-9, abs=1e-15)
    # converged well below Theorem 2's product on this small network
    assert cert.bound <= 4.0 * cert.observed
    assert cert.bound < stability_bound(net, 1, new_w, new_b)


def test_finer_is_refused_and_the_device_follows_the_backend():
    net = small_network(activation="finer")
    w, b = net.canonical()[1]
    with pytest.raises(ValueError, match="sine"):
        certify_change(net, 1, w, b)

    class FakeTorch:
        name, device = "torch", "cpu"

    assert device_for(FakeTorch()) == torch.device("cpu")


def test_no_change_is_certified_exactly_and_at_once():
    net = small_network((4, 3), seed=1)
    w, b = net.canonical()[1]
    cert = certify_change(net, 1, w, b, order=3)
    # at once: the first grid (the coarsest the pilot tries, nothing to blow up) is never split
    assert cert.bound == 0.0 and cert.observed == 0.0 and cert.boxes == cert.leaves == 4 * 4


def test_batched_and_per_box_evaluation_give_the_same_bounds(monkeypatch):
    """Many boxes as one tensor computation bound each box as evaluating it alone does (the choices
    made inside, such as the small-perturbation sine difference, are per box), and a change limited
    to some boxes bounds exactly those."""
    from aire.theory import boundprop

    used = {"small": 0, "full": 0}
    for kind in used:
        original = getattr(boundprop, f"_{kind}_difference")
        monkeypatch.setattr(boundprop, f"_{kind}_difference",
                            lambda *a, _f=original, _k=kind: used.__setitem__(_k, used[_k] + a[2].c.shape[1]) or _f(*a))
    net = small_network((6, 5, 4), in_features=2, seed=4)
    changes = [(1, *_perturbed(net, 1, 0.005, 0)), removal_change(net, 0, [1, 3]), (0, *_perturbed(net, 0, 0.3, 1))]
    problem = _Problem(net.canonical(), changes, 5, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    centre = torch.rand(24, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    r = torch.rand(24, generator=gen, dtype=torch.float64) * 0.3 + 0.01  # boxes of many sizes
    everyone = [0, 1, 2]
    upper, value = problem.bound(centre, r, everyone)
    assert used["small"] > 0 and used["full"] > 0  # the batch mixed both sine differences
    assert torch.isfinite(upper).all() and (upper >= value).all()
    for i in range(24):
        alone, at_centre = problem.bound(centre[i:i + 1], r[i:i + 1], everyone)
        torch.testing.assert_close(alone[:, 0], upper[:, i], rtol=1e-12, atol=0)
        torch.testing.assert_close(at_centre[:, 0], value[:, i], rtol=1e-12, atol=0)
    need = torch.rand(3, 24, generator=gen) < 0.4
    some, _ = problem.bound(centre, r, everyone, need)
    assert torch.isinf(some[~need]).all()  # not bounded: the caller keeps the parent's bound there
    torch.testing.assert_close(some[need], upper[need], rtol=1e-12, atol=0)


def test_auto_threads_certify_the_same_domain():
    """threads="auto" only changes how fast: the bounds hold and the thread count is restored."""
    net = small_network((5, 4), in_features=2, seed=2)
    new_w, new_b = _perturbed(net, 1, 0.05, 0)
    before = torch.get_num_threads()
    fixed = certify_many(net, [(1, new_w, new_b)], max_boxes=400, initial=8)[0]
    auto = certify_many(net, [(1, new_w, new_b)], max_boxes=400, initial=8, threads="auto")[0]
    assert torch.get_num_threads() == before
    ratio, _ = _worst_ratio(net, _with_canonical_layer(net, 1, new_w, new_b), auto.bound, 0, 256)
    assert ratio <= 1.0
    assert auto.boxes == fixed.boxes and auto.bound == pytest.approx(fixed.bound, rel=1e-12)
    with pytest.raises(ValueError, match="threads"):
        certify_many(net, [(1, new_w, new_b)], threads=0)


def test_a_time_limit_spent_before_the_grid_still_certifies_the_whole_domain():
    """The pilot may use the whole time limit: the first grid is then the coarsest, completed anyway."""
    net = small_network((6, 5, 4), in_features=2, seed=3)
    new_w, new_b = _perturbed(net, 1, 0.05, 0)
    cert = certify_many(net, [(1, new_w, new_b)], time_limit=1e-6, batch=2)[0]  # grid larger than a batch
    assert cert.boxes == cert.leaves == 2 * 2
    ratio, _ = _worst_ratio(net, _with_canonical_layer(net, 1, new_w, new_b), cert.bound, 0, 256)
    assert ratio <= 1.0
