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


class _Change:
    """One changed canonical layer: its new parameters and the difference, as float64 tensors."""

    def __init__(self, layer: int, new_w: torch.Tensor, new_b: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> None:
        self.layer, self.new_w, self.new_b = layer, new_w, new_b
        self.dw = new_w - w  # |fl(dw) - dw| <= u |dw|: added in _Problem.bound
        self.dw_abs = self.dw.abs() * (1 + 2 * U)
        self.db = new_b - b
        self.db_abs = self.db.abs() * (1 + 2 * U)
        self.none = not (bool(self.dw.any()) or bool(self.db.any()))  # f~ = f exactly


class _Problem:
    """The network and its changed versions as float64 tensors, ready to bound any batch of boxes.
    The base network's Taylor models are computed once per box and shared by every change."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], changes: list[tuple[int, Any, Any]], order: int,
                 device: torch.device) -> None:
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731
        self.w = [t(w) for w, _ in pairs]
        self.b = [t(b) for _, b in pairs]
        self.w_abs = [w.abs() for w in self.w]
        self.changes = [_Change(k, t(nw), t(nb), self.w[k], self.b[k]) for k, nw, nb in changes]
        self.d = self.w[0].shape[1]
        self.basis = tm.basis(self.d, order, str(device))
        self.device = device

    def bound(self, centre: torch.Tensor, r: torch.Tensor, active: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(upper bounds on max over each box of |f - f~|_inf, |f - f~|_inf at the box centres), each
        (len(active), boxes), for the changes numbered in `active`."""
        B = self.basis
        last = len(self.w) - 1
        first = min(self.changes[j].layer for j in active)
        inputs = [tm.variables(centre, r, B)]  # inputs[i]: the Taylor model of canonical layer i's input
        zs, sines, cosines = {}, {}, {}
        for i in range(last):
            z = tm.linear(inputs[-1], self.w[i], self.w_abs[i], self.b[i])
            h, cos_z = tm.sincos(z, B)
            if i >= first:
                zs[i], sines[i], cosines[i] = z, h, cos_z
            inputs.append(h)
        uppers, values = [], []
        for j in active:
            ch = self.changes[j]
            if ch.none:
                uppers.append(torch.zeros(centre.shape[0], dtype=torch.float64, device=self.device))
                values.append(torch.zeros_like(uppers[-1]))
                continue
            h = inputs[ch.layer]
            delta = tm.linear(h, ch.dw, ch.dw_abs, ch.db)  # (W~ - W) h + (b~ - b)
            delta.R = delta.R + U * (h.bound() @ ch.dw_abs.T + ch.db_abs)
            for i in range(ch.layer, last):
                step = _sine_difference(sines[i], cosines[i], zs[i], delta, B)
                delta = tm.linear(step, self.w[i + 1], self.w_abs[i + 1], None)
            uppers.append(delta.bound().amax(dim=1))
            values.append(self.centre_change(centre, ch))
        return torch.stack(uppers), torch.stack(values)

    def centre_change(self, x: torch.Tensor, ch: _Change) -> torch.Tensor:
        """|f~(x) - f(x)|_inf at points x (n, d) by plain float64 forward passes: what is observed."""
        last = len(self.w) - 1
        h, h_new = x, x
        for i in range(last + 1):
            w_new = ch.new_w if i == ch.layer else self.w[i]
            b_new = ch.new_b if i == ch.layer else self.b[i]
            z, z_new = h @ self.w[i].T + self.b[i], h_new @ w_new.T + b_new
            h, h_new = (torch.sin(z), torch.sin(z_new)) if i < last else (z, z_new)
        return (h_new - h).abs().amax(dim=1)


def device_for(backend: Any = None) -> torch.device:
    """The torch device bound propagation runs on for a backend (aire.interfaces.Backend): CUDA for
    the cupy backend or a torch backend on a GPU, else the CPU. None picks aire.get_backend('auto')."""
    if backend is None:
        from aire.backends import get_backend

        backend = get_backend("auto")
    if getattr(backend, "name", "") == "cupy" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device(getattr(backend, "device", None) or "cpu")


def certify_change(network: Any, layer: int, new_weight: Any, new_bias: Any, **settings: Any) -> Certificate:
    """Rigorous sup over x in [-1, 1]^d of |f(x) - f~(x)|_inf when canonical layer `layer` becomes
    (new_weight, new_bias) (canonical form, omega_0 absorbed, like `network.canonical()`).
    Settings as for certify_many."""
    return certify_many(network, [(layer, new_weight, new_bias)], **settings)[0]


def certify_many(network: Any, changes: list[tuple[int, Any, Any]], *, order: int = 5, target_ratio: float = 4.0,
                 max_boxes: int = 100_000, time_limit: float | None = None, initial: int | None = None,
                 batch: int = 128, device: str | torch.device | None = None, threads: int | None = 1) -> list[Certificate]:
    """One certificate per change (canonical layer, new weight, new bias), sharing the base network's
    Taylor models on every box.

    Branch and bound: the domain starts as a grid of `initial`^d boxes (default 2^(12/d) per axis,
    fewer when `time_limit` would not cover them), then the boxes with the largest bound relative to
    what their change shows are split in 2^d, until every change's largest bound is at most
    `target_ratio` times the largest change seen at a box centre, `max_boxes` boxes were evaluated or
    `time_limit` seconds passed (the initial grid is always completed). A change that has converged
    keeps its parent box's bound on the children (still valid). `bound` is the largest bound over the
    final partition: always rigorous, tighter with more boxes. `order` is the Taylor models' degree.
    Cost: about 1-4 ms per box and change on one CPU core for a 256-wide 4-layer network (d = 2, order
    5), less per change when they share boxes. `threads`: torch's CPU threads during the call
    (restored after; None leaves them): the work is many small elementwise operations, which one
    thread runs as fast as two on an idle machine and an order of magnitude faster on a busy one.
    Raises ValueError for non-sine activations.
    """
    if getattr(network, "activation", "sine") != "sine":
        raise ValueError("the certified bound handles sine activations only (FINER: use vector_stability_bound)")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _branch_and_bound(network, changes, order, target_ratio, max_boxes, time_limit, initial, batch, device)
    finally:
        torch.set_num_threads(before)


def _branch_and_bound(network: Any, changes: list[tuple[int, Any, Any]], order: int, target_ratio: float,
                      max_boxes: int, time_limit: float | None, initial: int | None, batch: int,
                      device: str | torch.device | None) -> list[Certificate]:
    start = time.perf_counter()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    problem = _Problem(network.canonical(), list(changes), order, dev)
    n_change, d = len(problem.changes), problem.d
    everyone = list(range(n_change))
    g = initial or _initial_grid(problem, d, time_limit, batch, dev)
    axis = -1 + (2 * torch.arange(g, dtype=torch.float64, device=dev) + 1) / g
    centre = torch.stack([m.reshape(-1) for m in torch.meshgrid(*[axis] * d, indexing="ij")], dim=1)
    r = torch.full((centre.shape[0],), 1.0 / g, dtype=torch.float64, device=dev)
    upper, value = _evaluate(problem, centre, r, batch, everyone)  # (changes, boxes)
    evaluated = centre.shape[0]
    best = torch.argmax(value, dim=1)
    observed = value[torch.arange(n_change), best].clone()
    worst = centre[best].clone()
    corners = torch.tensor(list(np.ndindex(*[2] * d)), dtype=torch.float64, device=dev) * 2 - 1  # (2^d, d)
    while evaluated < max_boxes and (time_limit is None or time.perf_counter() - start < time_limit):
        limit = target_ratio * observed[:, None]
        active = [j for j in everyone if float(upper[j].max()) > float(limit[j])]
        if not active:
            break
        excess = (upper[active] / limit[active].clamp_min(1e-300)).amax(dim=0)  # worst relative bound per box
        n_split = max(1, min(batch // len(corners), (max_boxes - evaluated) // len(corners)))
        order_ = torch.argsort(excess, descending=True)[:n_split]
        order_ = order_[excess[order_] > 1]
        keep = torch.ones(centre.shape[0], dtype=torch.bool, device=dev)
        keep[order_] = False
        half = r[order_] / 2
        kids = (centre[order_][:, None, :] + corners[None] * half[:, None, None]).reshape(-1, d)
        kid_r = half.repeat_interleave(len(corners))
        kid_upper = upper[:, order_].repeat_interleave(len(corners), dim=1)  # parents' bounds hold for children
        fresh_upper, fresh_value = _evaluate(problem, kids, kid_r, batch, active)
        kid_upper[active] = torch.minimum(kid_upper[active], fresh_upper)
        evaluated += kids.shape[0]
        centre = torch.cat([centre[keep], kids])
        r = torch.cat([r[keep], kid_r])
        upper = torch.cat([upper[:, keep], kid_upper], dim=1)
        for row, j in enumerate(active):
            i = int(torch.argmax(fresh_value[row]))
            if float(fresh_value[row, i]) > float(observed[j]):
                observed[j], worst[j] = fresh_value[row, i], kids[i]
    seconds = time.perf_counter() - start
    return [Certificate(bound=float(upper[j].max()), observed=float(observed[j]), boxes=evaluated,
                        leaves=int(centre.shape[0]), worst_point=tuple(float(v) for v in worst[j].cpu()),
                        seconds=seconds) for j in everyone]


def _initial_grid(problem: _Problem, d: int, time_limit: float | None, batch: int, dev: torch.device) -> int:
    """Boxes per axis of the first partition: 2^(12/d), fewer when a time limit would not cover that
    many (timed on a probe batch, leaving a fifth of the time for refinement)."""
    g = max(1, round(2 ** (12 / d)))
    if time_limit is None:
        return g
    probe = torch.zeros(min(batch, 32), d, dtype=torch.float64, device=dev)
    start = time.perf_counter()
    problem.bound(probe, torch.full((probe.shape[0],), 0.5, dtype=torch.float64, device=dev),
                  list(range(len(problem.changes))))
    per_box = (time.perf_counter() - start) / probe.shape[0]
    affordable = int((0.8 * time_limit / max(per_box, 1e-9)) ** (1 / d))
    return max(2, min(g, affordable))


def _evaluate(problem: _Problem, centre: torch.Tensor, r: torch.Tensor, batch: int,
              active: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    uppers, values = [], []
    for start in range(0, centre.shape[0], batch):
        u, v = problem.bound(centre[start:start + batch], r[start:start + batch], active)
        uppers.append(u)
        values.append(v)
    return torch.cat(uppers, dim=1), torch.cat(values, dim=1)


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
