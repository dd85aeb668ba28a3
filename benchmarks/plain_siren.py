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


def plain_train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, *, lr: float = 5e-4,
                lr_final: float = 5e-5, precision: str = "fp32", compile: bool = False, time_at: frozenset[int] = frozenset(),
                eval_every: int = 0, psnr_target: float | None = None) -> dict:
    """The same plain loop with the speed options a researcher would reach for: TF32 switches,
    bf16 autocast over the whole forward, torch.compile of the module.

    Returns synchronised timestamps after the steps in `time_at` (for ms/step), and every `eval_every`
    steps the PSNR (on [0, 1], as aire reports it) with the wall time since the start, so the time
    to `psnr_target` counts compilation and evaluation like a user's run does.
    """
    cuda = x.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
    model = torch.compile(net, dynamic=False) if compile else net
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (lr_final / lr) ** (s / steps))
    amp = torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    stamps, evals, reached = [], [], None
    try:
        sync()
        start = time.perf_counter()
        for step in range(steps):
            with amp:
                loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step + 1 in time_at:
                sync()
                stamps.append((step + 1, time.perf_counter() - start))
            if eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
                with torch.no_grad():
                    mse = torch.mean(((net(x).clamp(-1, 1) - y) / 2) ** 2).item()
                psnr = -10 * math.log10(max(mse, 1e-30))
                evals.append((step + 1, round(psnr, 3), round(time.perf_counter() - start, 3)))
                if reached is None and psnr_target is not None and psnr >= psnr_target:
                    reached = evals[-1]
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return {"stamps": stamps, "evals": evals, "reached": reached}
