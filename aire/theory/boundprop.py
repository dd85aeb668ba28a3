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
import os
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


SMALL_CHANGE = 0.1  # |dz| below which the sine difference is its second-order Taylor polynomial in dz


def _sine_difference(sin_z: TM, cos_z: TM, z: TM, dz: TM, B: tm.Basis) -> TM:
    """sin(z + dz) - sin(z) = cos(z) sin(dz) - sin(z) (1 - cos(dz)): every remainder is then
    proportional to the change, however small; or, where narrower, |dz| times the largest |cos| in
    reach (mean value theorem). On the boxes where |dz| <= SMALL_CHANGE for every neuron (a small
    perturbation), cos(z) dz - sin(z) dz^2 / 2 with Taylor's remainder |dz|^3 / 6 (sin's third
    derivative is at most 1) instead: three products instead of sincos(dz) and two, the remainder at
    most |dz|^2 / 6 < 0.2% of the change. The choice is per box, so a box's bound does not depend on
    the batch it is evaluated in."""
    e_max = dz.bound(B)
    small = e_max.amax(dim=1) <= SMALL_CHANGE
    if bool(small.all()):
        out = _small_difference(sin_z, cos_z, dz, e_max, B)
    elif not bool(small.any()):
        out = _full_difference(sin_z, cos_z, dz, B)
    else:
        parts = torch.nonzero(small).reshape(-1), torch.nonzero(~small).reshape(-1)
        pick = [[tm.select(m, boxes) for m in (sin_z, cos_z, dz)] for boxes in parts]
        done = (_small_difference(*pick[0], e_max[parts[0]], B), _full_difference(*pick[1], B))
        deg = torch.empty(B.order + 1, *dz.R.shape, dtype=dz.R.dtype, device=dz.R.device)
        out = TM(torch.empty_like(dz.c), torch.empty_like(dz.R), deg)
        for boxes, part in zip(parts, done):
            out.c[:, boxes], out.R[boxes], out.deg[:, boxes] = part.c, part.R, part.degree_sums(B)
    reach = z.half_width(B) + e_max
    lo, hi = tm.sin_range(z.c[0] - reach + math.pi / 2, z.c[0] + reach + math.pi / 2)
    crude = torch.clamp(e_max * torch.maximum(lo.abs(), hi.abs()), max=2.0) * (1 + 4 * U)
    use = crude <= out.R
    if not bool(use.any()):
        return out
    out.c.masked_fill_(use, 0.0)  # out is this function's own
    return TM(out.c, torch.where(use, crude, out.R))


def _small_difference(sin_z: TM, cos_z: TM, dz: TM, e_max: torch.Tensor, B: tm.Basis) -> TM:
    """cos(z) dz - sin(z) dz^2 / 2, remainder |dz|^3 / 6 (e_max: bound on |dz|)."""
    out = tm.add(tm.multiply(cos_z, dz, B), tm.multiply(sin_z, tm.multiply(dz, dz, B), B), 1.0, -0.5, B)
    out.R = (out.R + e_max * e_max * e_max / 6 * (1 + 8 * U)) * (1 + 2 * U)
    return out


def _full_difference(sin_z: TM, cos_z: TM, dz: TM, B: tm.Basis) -> TM:
    """cos(z) sin(dz) - sin(z) (1 - cos(dz))."""
    sin_d, cos_d = tm.sincos(dz, B)
    one_minus = TM(-cos_d.c, cos_d.R + 2 * U)
    one_minus.c[0] = one_minus.c[0] + 1.0
    deg = cos_d.degree_sums(B).clone()  # the same but for the constant term
    deg[0] = one_minus.c[0].abs() * (1 + tm.gamma(B.size))
    one_minus.deg = deg
    return tm.add(tm.multiply(cos_z, sin_d, B), tm.multiply(sin_z, one_minus, B), 1.0, -1.0, B)


class _Change:
    """One changed canonical layer: its new parameters and the difference, as float64 tensors."""

    def __init__(self, layer: int, new_w: torch.Tensor, new_b: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> None:
        self.layer, self.new_w, self.new_b = layer, new_w, new_b
        self.dw = new_w - w  # |fl(dw) - dw| <= u |dw|: added in _Problem.bound
        self.dw_abs = self.dw.abs() * (1 + 2 * U)
        self.db = new_b - b
        self.db_abs = self.db.abs() * (1 + 2 * U)
        self.none = not (bool(self.dw.any()) or bool(self.db.any()))  # f~ = f exactly
        # the input columns the change reads (removing neurons zeroes a few columns): only those
        # of the layer's input model enter (W~ - W) h, the others being multiplied by exact zeros
        used = torch.nonzero(self.dw.ne(0).any(dim=0)).reshape(-1)
        self.columns = None if used.numel() > 0.75 * self.dw.shape[1] else used
        if self.columns is not None:
            self.dw, self.dw_abs = self.dw[:, self.columns], self.dw_abs[:, self.columns]


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

    def bound(self, centre: torch.Tensor, r: torch.Tensor, active: list[int],
              need: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(upper bounds on max over each box of |f - f~|_inf, |f - f~|_inf at the box centres), each
        (len(active), boxes), for the changes numbered in `active`. All boxes go through the base
        network together (one matrix product per layer for the whole batch); `need` (bool,
        (len(active), boxes)) limits each change's own propagation to the boxes it needs (+inf
        elsewhere: the caller keeps the parent's bound there)."""
        B = self.basis
        last = len(self.w) - 1
        n_box = centre.shape[0]
        first = min(self.changes[j].layer for j in active)
        inputs = [tm.variables(centre, r, B)]  # inputs[i]: the Taylor model of canonical layer i's input
        zs, sines, cosines = {}, {}, {}
        for i in range(last):
            z = tm.linear(inputs[-1], self.w[i], self.w_abs[i], self.b[i], B)
            h, cos_z = tm.sincos(z, B)
            inputs.append(h)
            if i >= first - 1:  # sines[first - 1] is the input of the first changed layer
                zs[i], sines[i], cosines[i] = z, h, cos_z
                for m in (z, h, cos_z):  # once here, shared by every change (and kept by tm.select)
                    m.degree_sums(B)
        uppers = torch.full((len(active), n_box), math.inf, dtype=torch.float64, device=self.device)
        values = torch.zeros_like(uppers)
        for row, j in enumerate(active):
            ch = self.changes[j]
            values[row] = self.centre_change(centre, ch)
            if ch.none:
                uppers[row] = 0.0
                continue
            boxes = None
            if need is not None and not bool(need[row].all()):
                boxes = torch.nonzero(need[row]).reshape(-1)
                if boxes.numel() == 0:
                    continue
                if boxes.numel() > 0.75 * n_box:  # not worth the copies: bound them all
                    boxes = None
            pick = (lambda m: m) if boxes is None else (lambda m: tm.select(m, boxes))  # noqa: E731
            h = tm.select(inputs[ch.layer], boxes, ch.columns)
            delta = tm.linear(h, ch.dw, ch.dw_abs, ch.db)  # (W~ - W) h + (b~ - b)
            delta.R = delta.R + U * (h.bound(B) @ ch.dw_abs.T + ch.db_abs)
            for i in range(ch.layer, last):
                step = _sine_difference(pick(sines[i]), pick(cosines[i]), pick(zs[i]), delta, B)
                delta = tm.linear(step, self.w[i + 1], self.w_abs[i + 1], None, B)
            upper = delta.bound(B).amax(dim=1)
            if boxes is None:
                uppers[row] = upper
            else:
                uppers[row, boxes] = upper
        return uppers, values

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
                 batch: int = 128, device: str | torch.device | None = None,
                 threads: int | str | None = 1) -> list[Certificate]:
    """One certificate per change (canonical layer, new weight, new bias), sharing the base network's
    Taylor models on every box.

    Branch and bound: the domain starts as a grid of `initial`^d boxes (default: the coarsest grid at
    which the Taylor models stop blowing up, found on a pilot of random boxes, capped by `max_boxes`
    and by what 80% of `time_limit` covers; see _initial_grid), then the boxes with the largest bound
    relative to what their change shows are split in 2^d, until every change's largest bound is at
    most `target_ratio` times the largest change seen at a box centre, `max_boxes` boxes were
    evaluated or `time_limit` seconds passed (the initial grid is always completed). Every box of a
    batch goes through the base network at once (one matrix product per layer for the whole batch);
    a child is bounded only for the changes its parent still fails, the others keeping the parent's
    bound (still valid). `bound` is the largest bound over the final partition: always rigorous,
    tighter with more boxes. `order` is the Taylor models' degree.
    Cost: about 5 ms per box for a 256-wide 4-layer network and nine changes (d = 2, order 5, one
    CPU core of a busy machine; 0.9 ms of it the base network), less per change when they share
    boxes. `threads`: torch's CPU threads during the call (restored after; None leaves them): two
    threads are faster on an idle machine but an order of magnitude slower on a busy one (measured),
    so "auto" times both on a pilot and drops back to one as soon as a batch runs slow (_Threads).
    Raises ValueError for non-sine activations.
    """
    if getattr(network, "activation", "sine") != "sine":
        raise ValueError("the certified bound handles sine activations only (FINER: use vector_stability_bound)")
    if not (threads is None or threads == "auto" or (isinstance(threads, int) and threads >= 1)):
        raise ValueError(f"threads must be a positive integer, 'auto' or None, got {threads!r}")
    before = torch.get_num_threads()
    control = _Threads(threads == "auto")
    if isinstance(threads, int):
        torch.set_num_threads(threads)
    try:
        return _branch_and_bound(network, changes, order, target_ratio, max_boxes, time_limit, initial, batch, device,
                                 control)
    finally:
        torch.set_num_threads(before)


class _Threads:
    """threads="auto": several CPU threads while they prove faster than one. Timed on a pilot (one
    thread, then up to four, twice each); kept only if 20% faster, and dropped for good when a batch
    takes over twice the one-thread time per box (other processes make idle threads spin)."""

    def __init__(self, auto: bool) -> None:
        self.auto = auto
        self.one = math.inf  # seconds per box with one thread, on the pilot

    def choose(self, problem: _Problem, dev: torch.device) -> None:
        if not self.auto or dev.type != "cpu":
            return
        many = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        n = 2 * PILOT_BOXES
        centres = torch.rand(n, problem.d, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
        radius = torch.full((n,), 1 / 64, dtype=torch.float64)
        seconds = {1: math.inf, many: math.inf}
        for threads in [1, many] * 2 if many > 1 else []:
            torch.set_num_threads(threads)
            start = time.perf_counter()
            problem.bound(centres.to(dev), radius.to(dev), list(range(len(problem.changes))))
            seconds[threads] = min(seconds[threads], time.perf_counter() - start)
        self.one = seconds[1] / n
        torch.set_num_threads(many if seconds[many] < 0.8 * seconds[1] else 1)

    def watch(self, seconds_per_box: float) -> None:
        if self.auto and torch.get_num_threads() > 1 and seconds_per_box > 2 * self.one:
            torch.set_num_threads(1)


def _branch_and_bound(network: Any, changes: list[tuple[int, Any, Any]], order: int, target_ratio: float,
                      max_boxes: int, time_limit: float | None, initial: int | None, batch: int,
                      device: str | torch.device | None, control: _Threads) -> list[Certificate]:
    start = time.perf_counter()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    problem = _Problem(network.canonical(), list(changes), order, dev)
    n_change, d = len(problem.changes), problem.d
    everyone = list(range(n_change))
    control.choose(problem, dev)
    g = initial or _initial_grid(problem, d, time_limit, max_boxes, target_ratio, dev)
    centre, r = _grid(g, d, dev)
    done: list[tuple[torch.Tensor, torch.Tensor]] = []  # results of the grid's first batches
    if time_limit is not None and initial is None:
        # the grid is always completed: time its first batches (until one runs on a steady thread
        # count) and shrink it to what 80% of the time covers
        while len(done) * batch < centre.shape[0]:
            began, threads, at = time.perf_counter(), torch.get_num_threads(), len(done) * batch
            done.append(_evaluate(problem, centre[at:at + batch], r[at:at + batch], batch, everyone, control=control))
            if torch.get_num_threads() == threads:
                per_box = (time.perf_counter() - began) / done[-1][0].shape[1]
                left = max(0.0, 0.8 * time_limit - (time.perf_counter() - start))  # the pilot may have used it
                affordable = max(2, int((left / per_box) ** (1 / d)))
                if affordable < g:
                    g, done = affordable, []
                    centre, r = _grid(g, d, dev)
                break
    at = len(done) * batch
    if at < centre.shape[0]:
        done.append(_evaluate(problem, centre[at:], r[at:], batch, everyone, control=control))
    upper, value = (torch.cat([part[i] for part in done], dim=1) for i in (0, 1))  # (changes, boxes)
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
        need = kid_upper[active] > limit[active]  # a change within its target on the parent keeps its bound
        fresh_upper, fresh_value = _evaluate(problem, kids, kid_r, batch, active, need, control)
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


PILOT_BOXES = 16  # random boxes per candidate size when choosing the first grid


def _grid(g: int, d: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (g^d, d) and radii (g^d,) of the g^d equal boxes of [-1, 1]^d."""
    axis = -1 + (2 * torch.arange(g, dtype=torch.float64, device=dev) + 1) / g
    centre = torch.stack([m.reshape(-1) for m in torch.meshgrid(*[axis] * d, indexing="ij")], dim=1)
    return centre, torch.full((centre.shape[0],), 1.0 / g, dtype=torch.float64, device=dev)


def _initial_grid(problem: _Problem, d: int, time_limit: float | None, max_boxes: int, target_ratio: float,
                  dev: torch.device) -> int:
    """Boxes per axis of the first partition: the coarsest grid whose boxes are small enough for the
    Taylor models to hold the cancellations, capped by the budget.

    A model's remainder grows like r^(P+1) on boxes of radius r and is amplified by |A| at every layer,
    so there is a radius above which bounds blow up (hundreds of times the change) and below which
    they are within a few times of it: splitting from a coarser grid only pays for levels that are
    all split again. Candidate sizes g = 4, 6, 9, ... (x1.5, x1.25 near the goal) are tried on PILOT_BOXES random boxes
    of radius 1/g until the median over boxes and changes of bound / change at the box centre is at
    most 3 target_ratio; the grid is capped at 2^(16/d) per axis, at half of `max_boxes` and, under
    a time limit, at what 80% of it would cover at half the pilot's cost per box (full batches cost
    less per box than the pilot's; the caller times the first batch and shrinks the grid if needed)."""
    everyone = list(range(len(problem.changes)))
    centres = torch.rand(PILOT_BOXES, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    centres = centres.to(dev)
    g_max = max(2.0, min(2 ** (16 / d), (max_boxes / 2) ** (1 / d)))
    per_box = math.inf
    g = 4.0
    while True:
        start = time.perf_counter()
        upper, value = problem.bound(centres, torch.full((PILOT_BOXES,), 1.0 / g, dtype=torch.float64, device=dev),
                                     everyone)
        per_box = min(per_box, (time.perf_counter() - start) / PILOT_BOXES)
        if time_limit is not None:
            g_max = min(g_max, max(2.0, (0.8 * time_limit / (0.5 * per_box)) ** (1 / d)))
        ratio = (upper / value)[upper > 0]  # changes that are none, or boxes bounded to zero, say nothing
        median = float(ratio.nanmedian()) if ratio.numel() else 0.0
        if median <= 3 * target_ratio or g >= g_max:
            return max(2, int(min(g, g_max)))
        g = math.ceil(g * (1.5 if median > 10 * target_ratio else 1.25))  # larger steps while far off


def _evaluate(problem: _Problem, centre: torch.Tensor, r: torch.Tensor, batch: int, active: list[int],
              need: torch.Tensor | None = None, control: _Threads | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    uppers, values = [], []
    for start in range(0, centre.shape[0], batch):
        part = None if need is None else need[:, start:start + batch]
        began = time.perf_counter()
        u, v = problem.bound(centre[start:start + batch], r[start:start + batch], active, part)
        if control is not None:
            control.watch((time.perf_counter() - began) / u.shape[1])
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
