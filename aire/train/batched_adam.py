"""Adam over a batched network's stacked parameters, with a learning rate per member.

The update is torch.optim.Adam's (Kingma & Ba 2015, torch's defaults betas=(0.9, 0.999), eps=1e-8,
no weight decay) written out on the stacked tensors: elementwise, so member n's update is its own
single fit's. The moments are keyed by the parameter's place in the network (("weights", i),
("biases", i)) rather than by the tensor object, because surgery replaces the tensors; ``remap``
gathers them with the same per-member index as the parameter (surviving entries keep their moments,
new ones start at zero, the step count is kept), as aire.nn.surgery does for a single fit.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from aire.nn.batched_mlp import BatchedSineMLP, gather_members


class BatchedAdam:
    """Adam for a :class:`BatchedSineMLP`; ``member_lr`` (N,) scales each member's step (0 freezes one)."""

    def __init__(self, network: BatchedSineMLP, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.network, self.lr, self.betas, self.eps = network, float(lr), betas, float(eps)
        self.step_count = 0
        self.member_lr = torch.ones(network.members, device=network.weights[0].device)
        self.state: dict[tuple[str, int], dict[str, torch.Tensor]] = {}

    def params(self) -> Iterator[tuple[tuple[str, int], torch.Tensor]]:
        for name in ("weights", "biases"):
            for i, p in enumerate(getattr(self.network, name)):
                if p.requires_grad:
                    yield (name, i), p

    def zero_grad(self) -> None:
        for _, p in self.params():
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1 ** self.step_count
        correction2_sqrt = math.sqrt(1 - beta2 ** self.step_count)
        for key, p in self.params():
            if p.grad is None:
                continue
            state = self.state.setdefault(key, {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)})
            m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / correction2_sqrt).add_(self.eps)
            step_size = (self.lr / correction1) * self.member_lr.view(-1, *([1] * (p.dim() - 1)))
            p.sub_(step_size * m / denom)

    def remap(self, key: tuple[str, int], dim: int, index: torch.Tensor) -> None:
        """Follow a surgery of parameter `key` along `dim` with per-member `index` (see gather_members)."""
        state = self.state.get(key)
        if state:
            for name, value in state.items():
                state[name] = gather_members(value, dim, index)

    def moments(self, key: tuple[str, int]) -> list[torch.Tensor]:
        """The moment tensors of parameter `key` (empty before its first step)."""
        return list(self.state.get(key, {}).values())
