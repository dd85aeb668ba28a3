"""The reference: a plain 30-line PyTorch SIREN loop, as a researcher would write it.

Used by the benchmarks to time our trainer against the simplest correct loop on the same machine,
in the same process, at equal architecture.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn


class SineLayer(nn.Module):
    def __init__(self, n_in: int, n_out: int, omega0: float, first: bool) -> None:
        super().__init__()
        self.linear, self.omega0 = nn.Linear(n_in, n_out), omega0
        bound = 1 / n_in if first else math.sqrt(6 / n_in) / omega0
        nn.init.uniform_(self.linear.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega0 * self.linear(x))


def plain_siren(in_features: int, widths: list[int], out_features: int, omega0: float = 30.0) -> nn.Sequential:
    layers = [SineLayer(a, b, omega0, i == 0) for i, (a, b) in enumerate(zip([in_features, *widths], widths))]
    last = nn.Linear(widths[-1], out_features)
    nn.init.uniform_(last.weight, -math.sqrt(6 / widths[-1]) / omega0, math.sqrt(6 / widths[-1]) / omega0)
    return nn.Sequential(*layers, last)


def plain_fit(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float = 5e-4,
              lr_final: float = 5e-5) -> float:
    """Full-batch Adam with exponential lr decay; returns seconds per step."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (lr_final / lr) ** (s / steps))
    start = time.perf_counter()
    for _ in range(steps):
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return (time.perf_counter() - start) / steps
