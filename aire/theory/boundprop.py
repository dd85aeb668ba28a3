"""Certified sup over [-1, 1]^d of |f(x) - f~(x)| when one canonical layer changes (tight Theorem 2).

Theorem 2's induced-norm product (aire.theory.bounds) holds for any inputs in [-1, 1]^m at every
layer; a fitted network reaches far less of that cube, and its rows cancel. This module bounds the
change on what the networks actually compute: branch and bound over boxes of the input domain,
each box carried through both networks by Taylor models in x (aire.theory.taylor: a polynomial of
degree `order` plus a rigorous interval remainder, Makino & Berz 2003), so cancellations are kept
exactly up to that degree and only the remainders go through |A|.

The change of a sine layer after the perturbed one is propagated as its own Taylor model,
sin(z + dz) - sin(z) = cos(z) sin(dz) - sin(z) (1 - cos(dz)), so its remainder is proportional to
dz however small the perturbation; the change of the perturbed layer itself, (A~ - A) h + (c~ - c),
is exact in h. Every float64 rounding is added to the remainders (gamma_n per dot product, two
ulps per sine or cosine), so `bound` is an upper bound on the exact sup, not an estimate. Boxes
whose bound is largest are split in 2^d until the largest bound is within `target_ratio` of the
largest change seen at a box centre, or the box or time budget is spent.

auto_LiRPA (CROWN) would be the maintained library for linear relaxations, but its PyPI release
(0.3) requires torch < 1.13 (this project runs torch 2.13), and interval or linear relaxations over
[-1, 1]^d lose the cancellations that make fitted networks far stabler than Theorem 2 says.

Sine activations only: for FINER's sin((1 + |u| / w0) u) use aire.theory.bounds.vector_stability_bound.
"""

from __future__ import annotations

import math
import time
from typing import Any

import attrs
import numpy as np
import torch

from aire.theory import taylor as tm
from aire.theory.taylor import TM, U


@attrs.frozen
class Certificate:
    """Result of a certified search: `bound` is rigorous, `observed` is attained at a box centre."""

    bound: float  # sup_x |f(x) - f~(x)|_inf <= bound over the whole domain
    observed: float  # |f(x_c) - f~(x_c)|_inf at the worst box centre (a lower bound on the sup)
    boxes: int  # boxes evaluated
    leaves: int  # boxes in the final partition of the domain
    worst_point: tuple[float, ...]  # the box centre where `observed` was reached
    seconds: float = 0.0  # wall time spent

    @property
    def ratio(self) -> float:
        """bound / observed: how far the certificate is from what the networks actually do."""
        return self.bound / self.observed if self.observed > 0 else (1.0 if self.bound == 0 else math.inf)


def _sine_difference(sin_z: TM, cos_z: TM, z: TM, dz: TM, B: tm.Basis) -> TM:
    """sin(z + dz) - sin(z) = cos(z) sin(dz) - sin(z) (1 - cos(dz)): every remainder is then
    proportional to the change, however small; or, where narrower, |dz| times the largest |cos| in
    reach (mean value theorem)."""
    sin_d, cos_d = tm.sincos(dz, B)
    one_minus = TM(-cos_d.c, cos_d.R)
    one_minus.c[0] = one_minus.c[0] + 1.0
    one_minus.R = one_minus.R + 2 * U
    out = tm.add(tm.multiply(cos_z, sin_d, B), tm.multiply(sin_z, one_minus, B), 1.0, -1.0)
    e_max = dz.bound()
    reach = z.half_width() + e_max
    lo, hi = tm.sin_range(z.c[0] - reach + math.pi / 2, z.c[0] + reach + math.pi / 2)
    crude = torch.clamp(e_max * torch.maximum(lo.abs(), hi.abs()), max=2.0) * (1 + 4 * U)
    use = crude <= out.R
    c = torch.where(use, torch.zeros_like(out.c), out.c)
    return TM(c, torch.where(use, crude, out.R))


class _Problem:
    """The two networks as float64 tensors, ready to bound any batch of boxes."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], layer: int, new_weight: np.ndarray,
                 new_bias: np.ndarray, order: int, device: torch.device) -> None:
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731
        self.w = [t(w) for w, _ in pairs]
        self.b = [t(b) for _, b in pairs]
        self.w_abs = [w.abs() for w in self.w]
        self.layer = layer
        self.dw = t(new_weight) - self.w[layer]  # |fl(dw) - dw| <= u |dw|: added in bound()
        self.dw_abs = self.dw.abs() * (1 + 2 * U)
        self.db = t(new_bias) - self.b[layer]
        self.db_abs = self.db.abs() * (1 + 2 * U)
        self.d = self.w[0].shape[1]
        self.basis = tm.basis(self.d, order, str(device))
        self.device = device

    def bound(self, centre: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(upper bound on max over each box of |f - f~|_inf, |f - f~|_inf at the box centre)."""
        B = self.basis
        h = tm.variables(centre, r, B)
        last = len(self.w) - 1
        k = self.layer
        for i in range(k):  # the base network up to the changed layer's input
            h, _ = tm.sincos(tm.linear(h, self.w[i], self.w_abs[i], self.b[i]), B)
        delta = tm.linear(h, self.dw, self.dw_abs, self.db)  # (W~ - W) h + (b~ - b)
        delta.R = delta.R + U * (h.bound() @ self.dw_abs.T + self.db_abs)
        z = tm.linear(h, self.w[k], self.w_abs[k], self.b[k]) if k < last else None
        for i in range(k, last):
            h, cos_z = tm.sincos(z, B)
            step = _sine_difference(h, cos_z, z, delta, B)
            if i + 1 < last:
                z = tm.linear(h, self.w[i + 1], self.w_abs[i + 1], self.b[i + 1])
            delta = tm.linear(step, self.w[i + 1], self.w_abs[i + 1], None)
        return delta.bound().amax(dim=1), delta.c[0].abs().amax(dim=1)


def device_for(backend: Any = None) -> torch.device:
    """The torch device bound propagation runs on for a backend (aire.interfaces.Backend): CUDA for
    the cupy backend or a torch backend on a GPU, else the CPU. None picks aire.get_backend('auto')."""
    if backend is None:
        from aire.api import get_backend

        backend = get_backend("auto")
    if getattr(backend, "name", "") == "cupy" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device(getattr(backend, "device", None) or "cpu")


def certify_change(network: Any, layer: int, new_weight: Any, new_bias: Any, *, order: int = 5,
                   target_ratio: float = 4.0, max_boxes: int = 100_000, time_limit: float | None = None,
                   initial: int | None = None, batch: int = 128, device: str | torch.device | None = None) -> Certificate:
    """Rigorous sup over x in [-1, 1]^d of |f(x) - f~(x)|_inf when canonical layer `layer` becomes
    (new_weight, new_bias) (canonical form, omega_0 absorbed, like `network.canonical()`).

    Branch and bound: the domain starts as a grid of `initial`^d boxes (default 2^(12/d) per axis),
    then the boxes with the largest bounds are split in 2^d until the largest bound is at most
    `target_ratio` times the largest change seen at a box centre, `max_boxes` boxes were evaluated or
    `time_limit` seconds passed (the initial grid is always completed). `bound` is the largest bound
    over the final partition: always rigorous, tighter with more boxes. `order` is the Taylor models'
    degree. Cost: about 1-4 ms per box on one CPU core for a 256-wide 4-layer network (d = 2,
    order 5). Raises ValueError for non-sine activations.
    """
    if getattr(network, "activation", "sine") != "sine":
        raise ValueError("the certified bound handles sine activations only (FINER: use vector_stability_bound)")
    start = time.perf_counter()
    pairs = network.canonical()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    problem = _Problem(pairs, layer, new_weight, new_bias, order, dev)
    d = problem.d
    g = initial or max(1, round(2 ** (12 / d)))
    axis = -1 + (2 * torch.arange(g, dtype=torch.float64, device=dev) + 1) / g
    centre = torch.stack([m.reshape(-1) for m in torch.meshgrid(*[axis] * d, indexing="ij")], dim=1)
    r = torch.full((centre.shape[0],), 1.0 / g, dtype=torch.float64, device=dev)
    upper, value = _evaluate(problem, centre, r, batch)
    evaluated = centre.shape[0]
    best = int(torch.argmax(value))
    observed, worst = float(value[best]), centre[best].clone()
    corners = torch.tensor(list(np.ndindex(*[2] * d)), dtype=torch.float64, device=dev) * 2 - 1  # (2^d, d)
    while evaluated < max_boxes and (time_limit is None or time.perf_counter() - start < time_limit):
        if float(upper.max()) <= target_ratio * observed:
            break
        n_split = max(1, min(batch // len(corners), (max_boxes - evaluated) // len(corners)))
        order_ = torch.argsort(upper, descending=True)[:n_split]
        order_ = order_[upper[order_] > target_ratio * observed]
        keep = torch.ones_like(upper, dtype=torch.bool)
        keep[order_] = False
        half = r[order_] / 2
        kids = (centre[order_][:, None, :] + corners[None] * half[:, None, None]).reshape(-1, d)
        kid_r = half.repeat_interleave(len(corners))
        kid_upper, kid_value = _evaluate(problem, kids, kid_r, batch)
        evaluated += kids.shape[0]
        centre = torch.cat([centre[keep], kids])
        r = torch.cat([r[keep], kid_r])
        upper = torch.cat([upper[keep], kid_upper])
        j = int(torch.argmax(kid_value))
        if float(kid_value[j]) > observed:
            observed, worst = float(kid_value[j]), kids[j].clone()
    return Certificate(bound=float(upper.max()), observed=observed, boxes=evaluated, leaves=int(centre.shape[0]),
                       worst_point=tuple(float(v) for v in worst.cpu()), seconds=time.perf_counter() - start)


def _evaluate(problem: _Problem, centre: torch.Tensor, r: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    uppers, values = [], []
    for start in range(0, centre.shape[0], batch):
        u, v = problem.bound(centre[start:start + batch], r[start:start + batch])
        uppers.append(u)
        values.append(v)
    return torch.cat(uppers), torch.cat(values)


def removal_change(network: Any, layer: int, neurons: Any) -> tuple[int, np.ndarray, np.ndarray]:
    """(canonical layer, new weight, new bias) that removing `neurons` of sine layer `layer` amounts
    to: those columns of canonical layer layer + 1 set to zero (what remove_neurons does to f)."""
    w, b = network.canonical()[layer + 1]
    new_w = w.copy()
    new_w[:, np.asarray(neurons, dtype=np.int64).reshape(-1)] = 0.0
    return layer + 1, new_w, b


def certify_removal(network: Any, layer: int, neurons: Any, **settings: Any) -> Certificate:
    """certify_change for removing `neurons` of sine layer `layer`."""
    return certify_change(network, *removal_change(network, layer, neurons), **settings)
