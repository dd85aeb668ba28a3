"""TUNER-style integer-lattice encoding: input frequencies are integer vectors times 2*pi/period.

The network is then periodic with that period in every coordinate and, by Theorem 1 and induction,
its whole spectrum lies on the lattice (2*pi/period) Z^d. The frequencies are a dense low band (all
integer vectors with max-norm <= r, one of each +-k pair) plus a sparse random set up to a bandlimit.
Frozen by default (trainable frequencies would leave the lattice); doubling keeps them on it.
"""

from __future__ import annotations

import itertools
import math

import torch

from aire.config import ConfigError
from aire.hookspecs import hookimpl
from aire.interfaces import Encoding


def half_space(vectors: torch.Tensor) -> torch.Tensor:
    """Mask of integer vectors whose first nonzero entry is positive (one of each +-k pair, no 0)."""
    mask = torch.zeros(vectors.shape[0], dtype=torch.bool)
    decided = torch.zeros_like(mask)
    for col in range(vectors.shape[1]):
        v = vectors[:, col]
        mask |= (~decided) & (v > 0)
        decided |= v != 0
    return mask


class LatticeEncoding(Encoding):
    """Input frequencies on (2*pi/period) Z^d: a dense low band, then random lattice points up to `bandlimit`."""

    def __init__(self, period: float = 2.0, bandlimit: int | None = None, low_band: int | None = None,
                 frozen: bool = True) -> None:
        if period <= 0:
            raise ConfigError(f"period must be positive, got {period}")
        self.period = float(period)
        self.bandlimit = bandlimit
        self.low_band = low_band
        self.trainable = not frozen

    def settings(self) -> dict:
        return {"period": self.period, "bandlimit": self.bandlimit, "low_band": self.low_band,
                "frozen": not self.trainable}

    @property
    def base(self) -> float:
        """The lattice spacing 2*pi/period in radians per unit."""
        return 2 * math.pi / self.period

    def integer_frequencies(self, m: int, d: int, omega0: float, generator: torch.Generator) -> torch.Tensor:
        """m distinct integer vectors (m x d): the low band first, then random ones up to the bandlimit."""
        bandlimit = self.bandlimit if self.bandlimit is not None else max(1, round(omega0 / math.pi))
        chosen: list[tuple[int, ...]] = []
        radius = 0
        low = self.low_band if self.low_band is not None else bandlimit
        while len(chosen) < m and radius < low:  # shells of growing max-norm
            radius += 1
            shell = torch.tensor([v for v in itertools.product(range(-radius, radius + 1), repeat=d)
                                  if max(abs(c) for c in v) == radius])
            shell = shell[half_space(shell)]
            if len(chosen) + shell.shape[0] > m:  # a partial shell: random members of it
                shell = shell[torch.randperm(shell.shape[0], generator=generator)[: m - len(chosen)]]
            chosen.extend(tuple(int(c) for c in v) for v in shell)
        seen = set(chosen)
        attempts = 0
        while len(chosen) < m:
            v = torch.randint(-bandlimit, bandlimit + 1, (d,), generator=generator)
            t = tuple(int(c) for c in v)
            if any(t) and half_space(v[None])[0] and t not in seen:
                seen.add(t)
                chosen.append(t)
            attempts += 1
            if attempts > 1000 * m:
                raise ConfigError(f"cannot place {m} distinct frequencies within bandlimit {bandlimit} in {d}-D")
        return torch.tensor(chosen[:m], dtype=torch.float64)

    def initialize(self, weight: torch.Tensor, bias: torch.Tensor, omega0: float, generator: torch.Generator) -> None:
        m, d = weight.shape
        k = self.integer_frequencies(m, d, omega0, generator)
        weight.copy_((k * self.base / omega0).to(weight.dtype))  # omega0 * W = k * 2 pi / period
        bias.uniform_(-math.pi / omega0, math.pi / omega0, generator=generator)


@hookimpl
def aire_add_encodings() -> dict:
    return {"lattice": LatticeEncoding}
