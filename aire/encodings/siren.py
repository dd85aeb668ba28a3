"""SIREN's input encoding: frequencies drawn uniformly, W_0 ~ U(-1/d, 1/d) times omega_0."""

from __future__ import annotations

import math

import torch

from aire.hookspecs import hookimpl
from aire.interfaces import Encoding


class SirenEncoding(Encoding):
    """Uniform SIREN first layer; trainable by default, `frozen=True` keeps the frequencies fixed."""

    def __init__(self, frozen: bool = False) -> None:
        self.trainable = not frozen

    def initialize(self, weight: torch.Tensor, bias: torch.Tensor, omega0: float, generator: torch.Generator) -> None:
        d = weight.shape[1]
        weight.uniform_(-1.0 / d, 1.0 / d, generator=generator)
        bias.uniform_(-1.0 / math.sqrt(d), 1.0 / math.sqrt(d), generator=generator)


@hookimpl
def aire_add_encodings() -> dict[str, type]:
    return {"siren": SirenEncoding}
