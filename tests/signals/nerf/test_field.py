"""The colour head: seeded by its own generator, so building one leaves the global RNG alone."""

from __future__ import annotations

import torch
from torch import nn

from aire.signals.nerf.field import ColourHead, direction_dim


def test_building_a_colour_head_draws_nothing_from_the_global_generator():
    torch.manual_seed(123)
    ColourHead(8, 16, seed=5)
    after = torch.rand(4)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(4))


def test_colour_head_weights_are_nn_linear_defaults_under_its_seed():
    head = ColourHead(8, 16, seed=5)
    torch.manual_seed(5)
    hidden, out = nn.Linear(8 + direction_dim(), 16), nn.Linear(16, 3)
    for mine, reference in ((head.hidden, hidden), (head.out, out)):
        assert torch.equal(mine.weight, reference.weight) and torch.equal(mine.bias, reference.bias)
    assert not torch.equal(ColourHead(8, 16, seed=6).hidden.weight, head.hidden.weight)
