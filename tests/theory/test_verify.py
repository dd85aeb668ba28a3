"""`aire verify` on fitted models: Theorem 2's bound, the tight one and the observed change side by side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aire
from aire.config import ScheduleConfig
from aire.signals.image import ImageSignal, synthetic_image
from aire.theory.verify import bound_rows, check_amplitude_expansion, format_bounds


def _fit(size: int, widths: tuple[int, ...], steps: int):
    signal = ImageSignal(image=synthetic_image(size))
    net = aire.build_network(signal, list(widths), seed=0)
    result = aire.fit(signal, net, steps=steps, schedule=ScheduleConfig(kind="none"), progress=False, eval_every=steps)
    return signal, result


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    signal, result = _fit(16, (32, 32, 32), 300)
    out = aire.save_run(result, signal, tmp_path_factory.mktemp("verify") / "run")
    return result.network.double().eval(), out


def test_tight_bounds_hold_and_track_the_observed_change(fitted):
    net, _ = fitted
    rows = bound_rows(net, max_boxes=2000)
    assert len(rows) == 4 + 3  # every canonical layer perturbed, 10% of every sine layer removed
    for row in rows:
        assert row.passed, row  # observed <= both bounds (+ rounding)
        assert row.tight <= row.classical * (1 + 1e-12)
        assert row.tight <= 10 * row.observed, row
    assert rows[0].classical >= 50 * rows[0].tight  # what Theorem 2's product misses at the first layer


def test_expansion_check_on_a_fitted_network(fitted):
    net, _ = fitted
    result = check_amplitude_expansion(net, 0, max_terms=20_000)
    assert result.passed, result.detail
    assert "mean square est" in result.detail


def test_verify_prints_the_three_columns(fitted, capsys):
    from aire.cli import main

    _, out = fitted
    assert main(["verify", str(out), "--budget", "4"]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("CHANGE"))
    assert header.split()[1:5] == ["THEOREM", "2", "TIGHT", "OBSERVED"]
    assert "layer 0 perturbed 1%" in text and "remove 3 of sine layer 1" in text and "0 failed" in text


def test_verify_refuses_a_negative_budget(fitted, capsys):
    from aire.cli import main

    _, out = fitted
    assert main(["verify", str(out), "--budget", "-1"]) == 2
    assert "--budget" in capsys.readouterr().err


@pytest.mark.slow
def test_fitted_256_wide_model_tight_bounds_and_expansion():
    """The issue's done-when: a fitted [256]*4 image model (24 px), every layer perturbed by 1%: the
    tight bound within 10x of the observed worst case; Theorem 1 truncated to 1e6 terms: a rigorous
    bound below 2, or the report of why not, and the mean-square estimate within 10x."""
    _, result = _fit(24, (256, 256, 256, 256), 300)
    net = result.network.double().eval()
    rows = bound_rows(net, max_boxes=20_000, prune_fraction=0.0)
    print("\n" + format_bounds(rows))
    for row in rows:
        assert row.passed and row.tight <= 10 * row.observed, row
    exp_check = check_amplitude_expansion(net, 0, max_terms=1_000_000, n_points=2048)
    print(exp_check.detail)
    assert exp_check.passed
    from aire.theory.expansion import amplitude_expansion

    exp = amplitude_expansion(net, 0, max_terms=1_000_000)
    x = np.random.default_rng(0).uniform(-1, 1, (2048, 2))
    with torch.no_grad():
        h = net.hidden_outputs(torch.from_numpy(x))[1][:, 0].numpy()
    observed = float(np.mean((exp(x) - h) ** 2))
    assert observed / 10 <= exp.mse_estimate <= 10 * observed
    # either informative, or proven not to be with this many terms: the error on the torus exceeds 2
    assert exp.sup_bound < 2 or (exp.torus_witness > 2 and exp.terms_needed > 1e6)


def test_verify_uses_the_gpu_backend_when_one_is_present(fitted, capsys, monkeypatch):
    """A backend registered as "cupy" that says it is available (as the aire-cupy plugin does on a GPU
    machine) is what `aire verify` computes the expansion's Bessel values with and places bounds by."""
    from aire.backends.torch_backend import TorchBackend
    from aire.cli import main
    from aire.plugins import DISABLE_ENV, reset_registry

    calls = []

    class FakeCupy(TorchBackend):
        name = "cupy"

        def bessel_j(self, orders, x):
            calls.append(np.shape(orders))
            return super().bessel_j(orders, x)

        @classmethod
        def available(cls):
            return True

    class Plugin:
        @aire.hookimpl
        def aire_add_backends(self):
            return {"cupy": FakeCupy}

    _, out = fitted
    monkeypatch.setenv(DISABLE_ENV, "cupy-backend")  # the real aire-cupy, when installed, stands aside
    reset_registry()
    try:
        aire.get_registry().pm.register(Plugin(), name="fake-cupy")
        assert main(["verify", str(out), "--budget", "0"]) == 0
    finally:
        reset_registry()
    text = capsys.readouterr().out
    device = "cuda" if torch.cuda.is_available() else "cpu"  # cupy's device is CUDA wherever torch sees one
    assert text.splitlines()[0] == f"backend: cupy (bound propagation on {device})"
    assert calls  # the fitted model's expansion went through the backend
    assert "model: harmonic expansion" in text and "0 failed" in text
