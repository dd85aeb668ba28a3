"""Contract checks for plugin authors (torchmetrics-style): run them on your own component.

    from aire.testing import check_pruning_criterion
    def test_my_criterion():
        check_pruning_criterion(MyCriterion())

Each check builds small real networks, exercises the interface's promises and raises
AssertionError with a message saying which promise broke.
"""

from __future__ import annotations

import copy
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch

from aire.config import NetworkConfig
from aire.encodings.siren import SirenEncoding
from aire.interfaces import Backend, DensificationPolicy, PruningCriterion, Signal
from aire.nn.sine_mlp import SineMLP


def small_network(widths=(7, 6, 5), in_features: int = 2, out_features: int = 3, seed: int = 0,
                  activation: str = "sine", dtype: torch.dtype = torch.float64) -> SineMLP:
    """A small random sine MLP (float64 by default) for contract and property tests."""
    config = NetworkConfig(in_features=in_features, out_features=out_features, widths=tuple(widths),
                           omega0_first=30.0, omega0_hidden=30.0)
    return SineMLP(config, SirenEncoding(), activation=activation, seed=seed, dtype=dtype)


def check_pruning_criterion(criterion: PruningCriterion) -> None:
    """Scores: one finite non-negative value per neuron, deterministic, side-effect free;
    select(k): k distinct valid indices; a neuron with a zero outgoing column scores lowest."""
    pickle.loads(pickle.dumps(criterion))
    for seed in range(3):
        net = small_network(seed=seed)
        before = [p.detach().clone() for p in net.parameters()]
        for layer in range(net.num_sine_layers):
            width = net.widths()[layer]
            s = criterion.scores(net, layer)
            assert s.shape == (width,), f"scores of layer {layer} have shape {tuple(s.shape)}, expected ({width},)"
            assert torch.isfinite(s).all() and (s >= 0).all(), "scores must be finite and non-negative"
            assert torch.equal(s, criterion.scores(net, layer)), "scores must be deterministic"
            for k in (0, 1, width - 1):
                picked = criterion.select(net, layer, k)
                assert picked.numel() == k and picked.unique().numel() == k, f"select({k}) must give {k} distinct indices"
                assert bool(((picked >= 0) & (picked < width)).all()), "select returned an index out of range"
            if width > 2:
                exclude = criterion.select(net, layer, 2)
                again = criterion.select(net, layer, width - 2, exclude)
                assert not set(again.tolist()) & set(exclude.tolist()), "select must never return excluded neurons"
        assert all(torch.equal(a, b) for a, b in zip(before, net.parameters())), "scoring must not change the network"
        for layer in range(net.num_sine_layers):
            width = net.widths()[layer]
            with torch.no_grad():
                net.outgoing(layer)[:, width // 2] = 0.0
            low = criterion.scores(net, layer)
            assert low[width // 2] <= low.min(), "a neuron with a zero outgoing column must score lowest"


def check_densification_policy(policy: DensificationPolicy) -> None:
    """propose(k) gives at most k rows of the input layer's shape; inserting them leaves f unchanged."""
    pickle.loads(pickle.dumps(policy))
    for seed in range(3):
        net = small_network(seed=seed)
        x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
        f0 = net(x).detach()
        bound = rounding_bound(net, x)
        from aire.interfaces import DensifyContext
        from aire.signals.image import ImageSignal, synthetic_image

        signal = ImageSignal(image=synthetic_image(16, seed=seed))
        net_f32 = copy.deepcopy(net).float()
        rows, bias = policy.propose(net, net.encoding, 3, DensifyContext(signal, net_f32, None))
        assert rows.dim() == 2 and rows.shape[1] == 2 and rows.shape[0] <= 3, f"bad row shape {tuple(rows.shape)}"
        assert bias.shape == (rows.shape[0],), "one bias per proposed row"
        assert torch.isfinite(rows).all() and torch.isfinite(bias).all(), "proposals must be finite"
        net.insert_input_frequencies(rows, bias)
        change = (net(x).detach() - f0).abs().max(dim=1).values
        assert (change <= bound + rounding_bound(net, x)).all(), "inserting proposed frequencies must leave f unchanged"


def check_backend(backend: Backend, atol: float = 1e-12) -> None:
    """bessel_j agrees with scipy and broadcasts like it; spectra and amplitudes have the right shapes."""
    import scipy.special

    rng = np.random.default_rng(0)
    n = rng.integers(-20, 21, size=(50, 1))
    x = rng.uniform(-30, 30, size=(1, 40))
    got = np.asarray(_to_numpy(backend.bessel_j(n, x)))
    assert got.shape == (50, 40), f"bessel_j must broadcast like scipy: got {got.shape}"
    err = np.abs(got - scipy.special.jv(n, x)).max()
    assert err <= atol, f"bessel_j differs from scipy by {err:.3g} > {atol}"
    k = rng.integers(-2, 3, size=(10, 4))
    a = rng.uniform(-2, 2, size=4)
    amp = np.asarray(_to_numpy(backend.harmonic_amplitudes(k, a)))
    ref = scipy.special.jv(k, a[None, :]).prod(axis=1)
    assert np.abs(amp - ref).max() <= 10 * atol, "harmonic_amplitudes must be prod_l J_{k_l}(a_l)"
    spec = np.asarray(_to_numpy(backend.power_spectrum(rng.normal(size=(8, 6, 3)))))
    assert spec.shape == (8, 6), f"power_spectrum of an (8, 6, 3) grid must be (8, 6), got {spec.shape}"


def check_signal(signal: Signal) -> None:
    """sample/training_loss/evaluate/export behave: batches line up, network inputs match the
    signal's in_features, make_model gives the network or a Model around it (which training_loss,
    evaluate and export receive), loss finite, metrics finite, files written."""
    from aire.interfaces import make_model

    net = small_network(in_features=signal.in_features, out_features=signal.out_features, dtype=torch.float32)
    x, y = signal.sample(None)
    assert x.shape[0] == y.shape[0], "full sample: inputs and targets must have as many rows"
    xb, yb = signal.sample(5, torch.Generator().manual_seed(0))
    assert xb.shape[0] == 5 == yb.shape[0], "mini-batch of 5 must have 5 samples"
    coords = signal.network_inputs(7, torch.Generator().manual_seed(0))
    assert coords.shape == (7, signal.in_features), f"network_inputs(7) must be (7, {signal.in_features})"
    assert net(coords).shape == (7, signal.out_features), "the network's output must have out_features channels"
    model = make_model(signal, net)  # TypeError unless the network or an aire.interfaces.Model around it
    loss = signal.training_loss(model, xb, yb)
    assert loss.dim() == 0 and torch.isfinite(loss), "training loss must be a finite scalar"
    metrics = signal.evaluate(model)
    assert metrics and all(np.isfinite(v) for v in metrics.values()), f"metrics must be finite: {metrics}"
    assert signal.quality_key in metrics, f"evaluate() must report the quality_key {signal.quality_key!r}"
    with tempfile.TemporaryDirectory() as tmp:
        files = signal.export(model, Path(tmp))
        assert files and all(Path(f).exists() for f in files), "export must write the files it returns"


def _to_numpy(value):
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(getattr(value, "get", lambda: value)())


def rounding_bound(network: SineMLP, x: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Per-sample bound on how far a forward pass in `dtype` (float64 or float32, no TF32) can be from
    the exact f(x) of the network's weights, any summation order.

    Standard dot-product error analysis, |fl(a.b) - a.b| <= gamma_n |a|.|b| with
    gamma_n = n u / (1 - n u), u = eps(dtype) / 2, propagated layer by layer through |A| and the
    activation's Lipschitz constant (1 for sine; 1 + 2|u|/omega_0 for FINER on the range reached); each
    sine adds 2u absolute (two ulps of a value in [-1, 1]: glibc and SLEEF (torch's CPU kernels) are
    within one ulp, CUDA's sinf within two). Two computations that differ only in summation order
    (e.g. before/after removing zero columns) differ by at most twice this.
    """
    u = float(torch.finfo(dtype).eps) / 2
    h = x.double()
    dh = torch.zeros_like(h)
    layers = network.canonical()
    for i, (w, b) in enumerate(layers):
        w_t, b_t = torch.from_numpy(w), torch.from_numpy(b)
        n = w.shape[1] + 3  # the dot product, the bias and the omega_0 scaling
        gamma = n * u / (1 - n * u)
        pre = h @ w_t.T + b_t
        du = dh @ w_t.abs().T + gamma * (h.abs() @ w_t.abs().T + b_t.abs())
        if i == len(layers) - 1:
            return du.max(dim=1).values
        if network.activation == "sine":
            lip = torch.ones_like(pre)
            h = torch.sin(pre)
        else:
            w0 = network.omega(i)
            lip = 1.0 + 2.0 * (pre.abs() + du) / w0
            h = torch.sin((1.0 + pre.abs() / w0) * pre)
        dh = lip * du + 2 * u  # the sine itself is correctly rounded to within an ulp
    raise AssertionError("unreachable")
