"""The radiance field around the adaptive network: position -> (density, features) by the sine MLP,
(features, view direction) -> colour by a small ReLU head that is never pruned.

Positions are normalised into [-1, 1]^3 by the scene's half-size `bound` before the network sees them.
Density is softplus(raw - 1) (mip-NeRF's choice: smooth, never dead like ReLU, small at start so the
first renders are mostly background instead of fog).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import skip_init

#: direction encoding: the unit direction plus sin/cos of it at these frequencies
DIRECTION_FREQUENCIES = (1.0, 2.0)
DENSITY_SHIFT = 1.0


def encode_direction(dirs: torch.Tensor) -> torch.Tensor:
    """A low-order encoding of unit directions: (d, sin(f d), cos(f d)) for f in DIRECTION_FREQUENCIES."""
    parts = [dirs]
    for f in DIRECTION_FREQUENCIES:
        parts += [torch.sin(f * dirs), torch.cos(f * dirs)]
    return torch.cat(parts, dim=-1)


def direction_dim() -> int:
    return 3 * (1 + 2 * len(DIRECTION_FREQUENCIES))


class ColourHead(nn.Module):
    """(features F, view direction) -> RGB in (0, 1): one ReLU hidden layer, sigmoid output."""

    def __init__(self, features: int, width: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.features, self.width = int(features), int(width)
        self.hidden = skip_init(nn.Linear, self.features + direction_dim(), self.width)
        self.out = skip_init(nn.Linear, self.width, 3)
        # seeded from its own generator, so building a head never touches (or races on) the global RNG;
        # same draws, in the same order, as nn.Linear.reset_parameters under torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(int(seed))
        for layer in (self.hidden, self.out):
            _reset_linear(layer, generator)

    def forward(self, features: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        """RGB of features (..., F) seen along unit directions broadcastable to (..., 3); the direction
        term of the hidden layer is computed once per direction (per ray), not once per sample."""
        w = self.hidden.weight
        view = F.linear(encode_direction(dirs), w[:, self.features:], self.hidden.bias)
        h = F.relu(F.linear(features, w[:, :self.features]) + view)
        return torch.sigmoid(self.out(h))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _reset_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """nn.Linear's default initialisation (Kaiming-uniform weight with a = sqrt(5), uniform bias in
    +-1/sqrt(fan_in)) drawn from `generator`."""
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def density(raw: torch.Tensor) -> torch.Tensor:
    """Density from the network's first output channel."""
    return F.softplus(raw - DENSITY_SHIFT)


def query(network: nn.Module, head: ColourHead, points: torch.Tensor, dirs: torch.Tensor,
          bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Density (...,) and colour (..., 3) at world points (..., 3) seen along unit directions
    broadcastable to them (e.g. (R, 1, 3) for R rays of S points)."""
    shape = points.shape[:-1]
    out = network((points / bound).reshape(-1, 3)).reshape(*shape, -1)
    return density(out[..., 0]), head(out[..., 1:], dirs)
