"""Volume rendering: closed forms for constant densities, importance sampling where the weight is."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from aire.signals.nerf import render


@given(st.floats(0.0, 50.0), st.floats(0.0, 3.0), st.floats(0.01, 4.0), st.integers(2, 64),
       st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), st.booleans())
def test_constant_density_slab_matches_the_closed_form(sigma, t0, length, n, colour, jitter):
    """Density sigma over [t0, t1]: opacity 1 - exp(-sigma (t1 - t0)), colour c * opacity + white * (1 - opacity)."""
    near = torch.tensor([t0], dtype=torch.float64)
    far = near + length
    edges = render.bin_edges(near, far, n)
    t = render.stratified_points(edges, jitter)
    assert bool(((t >= edges[:, :-1]) & (t <= edges[:, 1:])).all())
    dens = torch.full_like(t, sigma)
    rgb = torch.tensor(colour, dtype=torch.float64).expand(1, n, 3)
    out, weights = render.composite(dens, rgb, edges)
    opacity = 1.0 - math.exp(-sigma * length)
    expected = torch.tensor(colour, dtype=torch.float64) * opacity + (1.0 - opacity)
    # float64 sums of n terms: a few n * eps of rounding
    tol = 64 * n * torch.finfo(torch.float64).eps
    assert abs(weights.sum().item() - opacity) <= tol
    assert torch.allclose(out[0], expected, atol=tol, rtol=0)


def test_two_slabs_front_one_hides_the_back_one():
    """Opaque red in front of green: the front colour wins; transmittance is the product of the slabs'."""
    edges = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
    sigma = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    rgb = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=torch.float64)
    out, w = render.composite(sigma, rgb, edges)
    a1, a2 = 1 - math.exp(-2.0), 1 - math.exp(-3.0)
    assert torch.allclose(w, torch.tensor([[a1, (1 - a1) * a2]], dtype=torch.float64))
    white = math.exp(-5.0)
    assert torch.allclose(out, torch.tensor([[a1 + white, (1 - a1) * a2 + white, white]], dtype=torch.float64))


def test_zero_length_rays_render_the_background():
    edges = render.bin_edges(torch.tensor([2.0]), torch.tensor([2.0]), 8)
    out, w = render.composite(torch.full((1, 8), 1e3), torch.zeros(1, 8, 3), edges)
    assert torch.equal(out, torch.ones(1, 3)) and torch.equal(w, torch.zeros(1, 8))


@given(st.integers(0, 15), st.booleans())
def test_importance_samples_fall_in_the_bin_holding_the_weight(k, jitter):
    edges = render.bin_edges(torch.tensor([1.0, 0.0]), torch.tensor([3.0, 1.6]), 16)
    weights = torch.zeros(2, 16)
    weights[:, k] = 1.0
    pts = render.importance_points(edges, weights, 64, jitter, torch.Generator().manual_seed(k))
    lo, hi = edges[:, k:k + 1], edges[:, k + 1:k + 2]
    # weights get 1e-5 added (every bin stays reachable): at most a few of 64 draws land elsewhere
    inside = ((pts >= lo - 1e-6) & (pts <= hi + 1e-6)).float().mean()
    assert inside >= 0.95
    assert torch.equal(pts, pts.sort(dim=-1).values)


def test_importance_sampling_follows_a_two_bin_density():
    """Uniform draws through the inverse CDF: the fraction per bin matches its share of the weight."""
    edges = torch.tensor([[0.0, 1.0, 2.0]])
    weights = torch.tensor([[1.0, 3.0]])
    pts = render.importance_points(edges, weights, 4000, jitter=False)
    assert abs((pts < 1.0).float().mean().item() - 0.25) < 1e-3


def test_edges_around_points_close_the_interval():
    pts = torch.tensor([[1.0, 2.0, 4.0]])
    e = render.edges_around(pts, torch.tensor([0.5]), torch.tensor([5.0]))
    assert torch.equal(e, torch.tensor([[0.5, 1.5, 3.0, 5.0]]))


def test_colour_head_per_ray_direction_term_equals_the_concatenated_layer():
    """The head computes its direction term once per ray; that is the same as one Linear layer on
    [features, encoded direction] for every sample."""
    from aire.signals.nerf.field import ColourHead, encode_direction

    head = ColourHead(5, 8, seed=1).double()
    feats = torch.randn(4, 6, 5, dtype=torch.float64)
    dirs = torch.nn.functional.normalize(torch.randn(4, 1, 3, dtype=torch.float64), dim=-1)
    full = torch.cat([feats, encode_direction(dirs).expand(4, 6, -1)], dim=-1)
    reference = torch.sigmoid(head.out(torch.relu(head.hidden(full))))
    assert torch.allclose(head(feats, dirs), reference, atol=1e-12)
