"""Checks of the AIRe paper's theorems against real networks; each returns the worst observed ratio to its bound.

A ratio <= 1 passes. Bounds are the theorems' own plus float64 rounding (aire.testing.rounding_bound
and the FFT's error), never tuned constants. Used by the hypothesis tests and by `aire verify`.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import attrs
import numpy as np
import torch

from aire.testing import rounding_bound, small_network
from aire.theory.bounds import pruning_bound, stability_bound, vector_stability_bound
from aire.theory.harmonic import amplitude_bound, harmonic_expansion
from aire.theory.spectrum import network_spectrum

EPS = float(np.finfo(np.float64).eps)


@attrs.frozen
class CheckResult:
    name: str
    ratio: float  # worst observed / allowed; <= 1 passes
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.ratio <= 1.0)


def _points(d: int, n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def check_expansion(net: Any, neuron: int, max_order: int, n_points: int = 512, seed: int = 0) -> CheckResult:
    """Truncated Theorem 1 series vs the neuron, within the tail bound; |alpha_k| within its bound."""
    exp = harmonic_expansion(net, neuron, max_order)
    x = _points(net.weights[0].shape[1], n_points, seed)
    with torch.no_grad():
        h = net.double().hidden_outputs(x)[1][:, neuron].numpy()
    series = exp(x.numpy())
    # rounding of the series evaluation: each term's sine and product, summed
    rounding = 4 * EPS * (np.abs(exp.amplitude).sum() * (1 + np.abs(exp.frequency).sum(1).max() + np.abs(exp.phase).max(initial=0)) + 1)
    error = np.abs(series - h).max()
    allowed = exp.tail_bound + rounding + float(rounding_bound(net, x).max())
    a = net.canonical()[1][0][neuron]
    # J_n is computed to relative 1e-10 (the backend's documented accuracy), so a product of m
    # factors may exceed the exact value by a factor (1 + 1e-10)^m
    slack = (1 + 1e-10) ** a.shape[0]
    amp_ratio = float((np.abs(exp.amplitude) / (amplitude_bound(exp.k, a) * slack + 1e-300)).max())
    return CheckResult("harmonic expansion", max(error / allowed, amp_ratio),
                       f"{len(exp)} terms, error {error:.2e} <= tail {exp.tail_bound:.2e}; "
                       f"max |alpha_k| / bound {amp_ratio:.3f}")


def lattice_off_energy(net: Any, generators: list[int], n_per_generator: int = 64) -> CheckResult:
    """1-D network with integer input frequencies q_i * pi: no energy off multiples of gcd(q) in any neuron."""
    g = 0
    for q in generators:
        g = math.gcd(g, int(q))
    n = int(np.lcm.reduce([int(q) for q in generators])) * n_per_generator
    worst, detail = 0.0, ""
    targets = [(layer, j) for layer in range(net.num_sine_layers) for j in range(net.widths()[layer])] + [(None, 0)]
    for layer, j in targets:
        spec = network_spectrum(net, resolution=n, period=2.0, layer=layer, neuron=j) if layer is not None \
            else network_spectrum(net, resolution=n, period=2.0)
        k = np.rint(spec.axes[0] / math.pi).astype(np.int64)
        off = (k % g) != 0
        off_amp = math.sqrt(float((spec.amplitude[off] ** 2).sum()))
        total = math.sqrt(float((spec.amplitude**2).sum()))
        # FFT error (Higham: ~ log2(n) eps ||X||) plus the samples' own rounding, through Parseval
        x = torch.linspace(-1, 1, n + 1, dtype=torch.float64)[:n, None]
        sample_err = float(rounding_bound(net, x).max())
        allowed = 10 * math.log2(n) * EPS * total + sample_err
        ratio = off_amp / allowed
        if ratio >= worst:
            worst, detail = ratio, f"off-lattice amplitude {off_amp:.1e} (layer {layer}, neuron {j}), total {total:.2f}"
    return CheckResult("lattice spectrum", worst, detail)


def _ascent(diff: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, steps: int = 40) -> torch.Tensor:
    """Gradient ascent of |difference| over [-1, 1]^d from starting points x0."""
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        (-diff(x).sum()).backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1, 1)
    return x.detach()


def _with_canonical_layer(net: Any, layer: int, weight: np.ndarray, bias: np.ndarray) -> Any:
    other = copy.deepcopy(net).double()
    scale = other.omega(layer) if layer < other.num_sine_layers else 1.0
    with torch.no_grad():
        other.weights[layer].copy_(torch.from_numpy(weight) / scale)
        other.biases[layer].copy_(torch.from_numpy(bias) / scale)
    return other


def _worst_ratio(net: Any, other: Any, bound: float, seed: int, n_points: int) -> tuple[float, float]:
    """Largest |f - f~|_inf over random points and gradient-ascent refinements of the 16 worst,
    and its ratio to `bound` plus both networks' rounding bounds."""
    d = net.weights[0].shape[1]

    def diff(x: torch.Tensor) -> torch.Tensor:
        return (net(x) - other(x)).abs().max(dim=1).values

    x = _points(d, n_points, seed)
    with torch.no_grad():
        first = diff(x)
    x_best = _ascent(diff, x[torch.argsort(first, descending=True)[:16]])
    with torch.no_grad():
        pts = torch.cat([x, x_best])
        observed = diff(pts)
        slack = rounding_bound(net, pts) + rounding_bound(other, pts)
    return float((observed / (bound + slack)).max()), float(observed.max())


def check_stability(net: Any, layer: int, scale: float, seed: int = 0, n_points: int = 2048) -> CheckResult:
    """Theorem 2: a random perturbation of one layer moves f by at most stability_bound."""
    net = copy.deepcopy(net).double()
    w, b = net.canonical()[layer]
    rng = np.random.default_rng(seed)
    new_w = w + scale * rng.standard_normal(w.shape) * (np.abs(w).mean() + 1e-3)
    new_b = b + scale * rng.standard_normal(b.shape) * (np.abs(b).mean() + 1e-3)
    bound = stability_bound(net, layer, new_w, new_b)
    ratio, worst = _worst_ratio(net, _with_canonical_layer(net, layer, new_w, new_b), bound, seed, n_points)
    return CheckResult("stability bound (Theorem 2)", ratio, f"layer {layer}: max change {worst:.2e} <= {bound:.2e}")


def check_pruning(net: Any, layer: int, neurons: list[int], seed: int = 0, n_points: int = 2048) -> CheckResult:
    """Removing neurons changes f by at most pruning_bound (random points and gradient ascent)."""
    net = copy.deepcopy(net).double()
    bound = pruning_bound(net, layer, neurons)
    pruned = copy.deepcopy(net)
    pruned.remove_neurons(layer, torch.tensor(neurons))
    ratio, worst = _worst_ratio(net, pruned, bound, seed, n_points)
    return CheckResult("pruning bound", ratio, f"layer {layer}, {len(neurons)} neurons: {worst:.2e} <= {bound:.2e}")


def check_surgery(net: Any, seed: int = 0) -> CheckResult:
    """Zero-column removal and zero-column insertion leave f unchanged (to float64 rounding)."""
    net = copy.deepcopy(net).double()
    x = _points(net.weights[0].shape[1], 512, seed)
    worst = 0.0
    for layer in range(net.num_sine_layers):
        if net.widths()[layer] < 2:
            continue
        with torch.no_grad():
            net.outgoing(layer)[:, 0] = 0.0
            before = net(x)
        b0 = rounding_bound(net, x)
        net.remove_neurons(layer, torch.tensor([0]))
        with torch.no_grad():
            change = (net(x) - before).abs().max(dim=1).values
        worst = max(worst, float((change / (b0 + rounding_bound(net, x))).max()))
    with torch.no_grad():
        before = net(x)
    b0 = rounding_bound(net, x)
    net.insert_input_frequencies(torch.randn(2, x.shape[1], dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    with torch.no_grad():
        change = (net(x) - before).abs().max(dim=1).values
    worst = max(worst, float((change / (b0 + rounding_bound(net, x))).max()))
    return CheckResult("surgery exactness", worst, "zero-column removal and insertion")


def check_densify(net: Any) -> CheckResult:
    """Top-K doubling adds exactly the frequencies 2 * omega_j (the policy as installed, through the registry)."""
    from aire.plugins import create

    net = copy.deepcopy(net).double()
    omega = net.canonical()[0][0]
    m = omega.shape[0]
    rows, bias = create("policy", "topk-doubling").propose(net, net.encoding, min(3, m))
    net.insert_input_frequencies(rows, bias)
    new = net.canonical()[0][0][m:]
    scores = np.abs(net.canonical()[1][0][:, :m]).sum(0)
    top = np.argsort(-scores, kind="stable")[: rows.shape[0]]
    err = np.abs(new - 2 * omega[top]).max()
    allowed = 4 * EPS * np.abs(omega).max()
    return CheckResult("densification doubles", float(err / max(allowed, 1e-300)), f"{rows.shape[0]} frequencies added")


def run_checks(model: Any = None, seed: int = 0, backend: Any = None) -> list[CheckResult]:
    """Every check on random networks (d = 1..3) and, given one, on a fitted model; `backend`
    (aire.interfaces.Backend, None: the torch reference) computes the fitted model's Bessel values."""
    results: list[CheckResult] = []
    for d in (1, 2, 3):
        net = small_network((4, 5, 3), in_features=d, seed=seed + d)
        results.append(attrs.evolve(check_expansion(net, 0, 10 if d == 1 else 6, seed=seed), name=f"harmonic expansion (d={d})"))
        results.append(attrs.evolve(check_stability(net, d % 3, 0.1, seed=seed), name=f"stability bound (d={d})"))
        results.append(attrs.evolve(check_pruning(net, 1, [0, 2], seed=seed), name=f"pruning bound (d={d})"))
        results.append(attrs.evolve(check_surgery(net, seed=seed), name=f"surgery exactness (d={d})"))
        results.append(attrs.evolve(check_densify(net), name=f"densification doubles (d={d})"))
    one = small_network((1, 5, 4), in_features=1, seed=seed)
    with torch.no_grad():
        one.weights[0].fill_(5 * math.pi / one.omega(0))
    results.append(attrs.evolve(lattice_off_energy(one, [5]), name="lattice spectrum (q=5)"))
    two = small_network((2, 5, 4), in_features=1, seed=seed + 1)
    with torch.no_grad():
        two.weights[0].copy_(torch.tensor([[4.0], [6.0]], dtype=torch.float64) * math.pi / two.omega(0))
    results.append(attrs.evolve(lattice_off_energy(two, [4, 6]), name="lattice spectrum (q=4,6)"))
    if model is not None:
        model = copy.deepcopy(model).double()
        if model.activation == "sine" and model.num_sine_layers >= 2:
            results.append(check_amplitude_expansion(model, 0, seed=seed, backend=backend))
        results.append(attrs.evolve(check_surgery(model, seed), name="model: surgery exactness"))
    return results


def first_layer_rounding(net: Any, x: np.ndarray, neuron: int) -> float:
    """Bound on the float64 rounding of the network's own h_{1,neuron}(x) over points x (n, d): dot
    products with the omega_0 scaling (Higham's gamma_{n+3}) and two ulps per sine, as in
    aire.testing.rounding_bound but for the first hidden layer."""
    (omega, phi), (a, c) = net.canonical()[:2]
    u = EPS / 2
    g0, g1 = ((n * u) / (1 - n * u) for n in (omega.shape[1] + 3, a.shape[1] + 3))
    e0 = g0 * (np.abs(x) @ np.abs(omega).T + np.abs(phi)) + 2 * u
    return float((e0 @ np.abs(a[neuron]) + g1 * (np.abs(a[neuron]).sum() + abs(c[neuron])) + 2 * u).max())


def check_amplitude_expansion(net: Any, neuron: int, max_terms: int = 100_000, n_points: int = 1024, seed: int = 0,
                              backend: Any = None) -> CheckResult:
    """Theorem 1 truncated to the `max_terms` largest terms: the observed sup error within the
    rigorous bound; the detail reports the mean-square estimate against the observed one, and how
    many terms the L1 bound would need where the bound says nothing (above 2)."""
    from aire.theory.expansion import amplitude_expansion

    exp = amplitude_expansion(net, neuron, max_terms=max_terms, backend=backend)
    x = _points(net.weights[0].shape[1], n_points, seed)
    with torch.no_grad():
        h = net.double().hidden_outputs(x)[1][:, neuron].numpy()
    error = exp(x.numpy()) - h
    # rounding of the series: each argument (|x| <= 1) and sine, and the sum of the terms
    arg = 1 + np.abs(exp.frequency).sum(axis=1) + np.abs(exp.phase)
    rounding = 4 * EPS * (arg @ np.abs(exp.amplitude) + len(exp) * np.abs(exp.amplitude).sum())
    allowed = exp.sup_bound + rounding + first_layer_rounding(net, x.numpy(), neuron)
    mse = float(np.mean(error**2))
    needed = "" if exp.sup_bound < 2 else (
        f"; a rigorous bound < 2 needs ~{exp.terms_needed:.1e} terms (torus error {exp.torus_witness:.3g} "
        f"at theta = sign(a) pi/2 with these)")
    detail = (f"neuron {neuron}, {len(exp)} terms: sup error {np.abs(error).max():.3g} <= {exp.sup_bound:.3g}; "
              f"mean square est {exp.mse_estimate:.3g} vs observed {mse:.3g}{needed}")
    return CheckResult("model: harmonic expansion (amplitude-ordered)", float(np.abs(error).max() / allowed), detail)


@attrs.frozen
class BoundRow:
    """One change of one layer: Theorem 2's bound, the tight one, and what the networks actually do."""

    name: str
    classical: float  # Theorem 2's induced-norm product (rigorous)
    tight: float  # min(vector bound, branch-and-bound certificate) (rigorous)
    observed: float  # largest |f - f~|_inf found (random points, gradient ascent, box centres)
    ratio: float  # observed / (min bound + both networks' rounding): <= 1 passes
    boxes: int = 0  # boxes the certificate evaluated (0: not certified, e.g. FINER)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.ratio <= 1.0)


def bound_rows(model: Any, seed: int = 0, budget: float = 45.0, scale: float = 0.01, prune_fraction: float = 0.1,
               device: Any = None, order: int = 5, max_boxes: int | None = None) -> list[BoundRow]:
    """Classical vs tight vs observed for a relative perturbation `scale` of every canonical layer and
    for removing the `prune_fraction` lowest-column-L1 neurons of every sine layer.

    The certificates share one branch and bound (aire.theory.boundprop.certify_many) of `budget`
    seconds (wall); with more, the tight column converges (it stops early once every change is
    within 4x of what it shows). `max_boxes` replaces the time budget with a box budget, for
    reproducible runs."""
    from aire.theory.boundprop import certify_many, device_for, removal_change
    from aire.theory.bounds import vector_pruning_bound

    net = copy.deepcopy(model).double()
    changes = []
    pairs = net.canonical()
    for layer, (w, b) in enumerate(pairs):
        rng = np.random.default_rng(seed + layer)
        new_w = w + scale * rng.standard_normal(w.shape) * (np.abs(w).mean() + 1e-3)
        new_b = b + scale * rng.standard_normal(b.shape) * (np.abs(b).mean() + 1e-3)
        changes.append((f"layer {layer} perturbed {scale:.0%}", layer, new_w, new_b,
                        stability_bound(net, layer, new_w, new_b), vector_stability_bound(net, layer, new_w, new_b)))
    for layer in range(net.num_sine_layers):
        width = net.widths()[layer]
        k = int(round(prune_fraction * width))
        if k < 1 or width <= k:
            continue
        neurons = np.argsort(np.abs(net.outgoing(layer).detach().numpy()).sum(axis=0), kind="stable")[:k]
        canon, new_w, new_b = removal_change(net, layer, neurons)
        changes.append((f"remove {k} of sine layer {layer}", canon, new_w, new_b, pruning_bound(net, layer, neurons),
                        vector_pruning_bound(net, layer, neurons)))
    dev = device if device is not None else device_for()
    certs = [None] * len(changes)
    if net.activation == "sine" and (budget > 0 or max_boxes is not None):
        certs = certify_many(net, [(layer, new_w, new_b) for _, layer, new_w, new_b, _, _ in changes], order=order,
                             device=dev, max_boxes=max_boxes or 10**9, time_limit=None if max_boxes else budget,
                             threads="auto")  # every core while they prove faster than one
    rows = []
    for (name, layer, new_w, new_b, classical, vector), cert in zip(changes, certs):
        tight = vector if cert is None else min(vector, cert.bound)
        other = _with_canonical_layer(net, layer, new_w, new_b)
        ratio, observed = _worst_ratio(net, other, min(classical, tight), seed, 1024)
        rows.append(BoundRow(name, classical, tight, max(observed, cert.observed if cert else 0.0), ratio,
                             cert.boxes if cert else 0, cert.seconds if cert else 0.0))
    return rows


def format_bounds(rows: list[BoundRow]) -> str:
    """The side-by-side table `aire verify MODEL` prints."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'CHANGE'.ljust(width)}  {'THEOREM 2':>10}  {'TIGHT':>10}  {'OBSERVED':>10}  {'TIGHT/OBS':>9}  RESULT"]
    for r in rows:
        lines.append(f"{r.name.ljust(width)}  {r.classical:>10.3g}  {r.tight:>10.3g}  {r.observed:>10.3g}  "
                     f"{r.tight / max(r.observed, 1e-300):>9.3g}  {'pass' if r.passed else 'FAIL'}")
    return "\n".join(lines)


def format_checks(results: list[CheckResult]) -> str:
    """The check / worst ratio / pass table."""
    width = max(len(r.name) for r in results)
    lines = [f"{'CHECK'.ljust(width)}  {'WORST RATIO TO BOUND':>20}  RESULT  DETAIL"]
    for r in results:
        lines.append(f"{r.name.ljust(width)}  {r.ratio:>20.3g}  {'pass' if r.passed else 'FAIL'}    {r.detail}")
    return "\n".join(lines)
