"""Precision and speed options of the trainer: the guard observes without syncing, bf16 keeps the first
layer exact and stays within the documented accuracy of fp32, one compilation survives surgery."""

from __future__ import annotations

import warnings

import pytest
import torch

import aire
from aire.config import ConfigError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.precision import autocast, matmul_precision
from aire.train.callbacks import DivergenceGuard

#: the documented bf16 contract (docs/benchmarks/speed.md): a short fit ends within this many dB of fp32
BF16_PSNR_TOLERANCE_DB = 1.0


def _fit(device="cpu", steps=120, schedule=None, nudge=False, **train):
    signal = ImageSignal(image=synthetic_image(24))
    net = aire.build_network(signal, [24, 24, 24])
    if nudge:  # every weight one float32 ulp up
        with torch.no_grad():
            for w in net.weights:
                w.copy_(torch.nextafter(w, torch.full_like(w, float("inf"))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return aire.fit(signal, net, steps=steps, eval_every=40, progress=False, device=device,
                        schedule=schedule or aire.ScheduleConfig(kind="none"), **train)


def test_precision_is_validated():
    with pytest.raises(ConfigError, match="precision"):
        aire.TrainConfig(precision="fp16")


def test_guard_only_observes_and_is_read_once_per_eval_boundary(monkeypatch):
    """The guard never changes a healthy fit, and its one sync happens at eval boundaries only."""
    reads, steps = [], []

    class StepSpy:  # aire_step_end comes right before the guard's after_step of the same step
        @aire.hookimpl
        def aire_step_end(self, trainer, step, loss):
            steps.append(step)

    verdict = DivergenceGuard.verdict
    monkeypatch.setattr(DivergenceGuard, "verdict", lambda self: reads.append(steps[-1]) or verdict(self))
    registry = aire.get_registry()
    registry.pm.register(StepSpy(), name="step-spy")
    try:
        guarded = _fit(guard=True)
    finally:
        registry.pm.unregister(name="step-spy")
    unguarded = _fit(guard=False)
    assert reads == [39, 79, 119]  # read before the step counter advances at steps 40, 80, 120
    for a, b in zip(guarded.network.parameters(), unguarded.network.parameters()):
        assert torch.equal(a, b)


def test_bf16_autocast_keeps_the_first_layer_in_full_precision(device):
    signal = ImageSignal(image=synthetic_image(16)).to(device)
    net = aire.build_network(signal, [16, 16]).to(device)
    exact = net.hidden_outputs(signal.coords)
    with autocast("bf16", torch.device(device)):
        mixed = net.hidden_outputs(signal.coords)
        out = net(signal.coords)
    assert mixed[0].dtype == torch.float32 and torch.equal(mixed[0], exact[0])
    assert mixed[1].dtype == torch.bfloat16 and out.dtype == torch.bfloat16


def test_bf16_fit_is_within_the_documented_tolerance_of_fp32(device):
    fp32 = _fit(device, precision="fp32").metrics
    bf16 = _fit(device, precision="bf16").metrics
    assert bf16["precision"] == "bf16"
    assert abs(bf16["psnr"] - fp32["psnr"]) <= BF16_PSNR_TOLERANCE_DB


def test_matmul_precision_restores_the_global_switches():
    before = torch.backends.cuda.matmul.allow_tf32
    with matmul_precision("tf32"):
        assert torch.backends.cuda.matmul.allow_tf32
    with matmul_precision("fp32"):
        assert not torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32 == before


@pytest.mark.slow  # one real compilation: ~10 s on an idle core, a minute on the shared machine
def test_compile_survives_surgery_and_matches_eager():
    """Forced to compile at its first decision, an AIRe fit (two densify/prune cycles) compiles its forward
    once: the dynamic-shape graph serves every width after the cuts. It ends at the eager fit's architecture
    and PSNR. Tolerance, derived: the compiled kernels compute the same function with float32 rounding in
    another order, a difference of a few ulps per step; how far the fit carries such a difference to the
    final PSNR is measured by an eager fit from weights moved by one ulp (delta). The compiled fit may
    differ 100 times as much (a few ulps per step over every step), and at least 1e-5 dB (a relative MSE
    change of 2.3e-6, ~40 float32 ulps), never more."""
    import torch._dynamo

    from aire.train import compile_policy

    schedule = aire.ScheduleConfig(kind="aire", target_params=0.5, cycles=2)
    eager = _fit(steps=200, schedule=schedule).metrics
    moved = _fit(steps=200, schedule=schedule, nudge=True).metrics
    delta = abs(moved["psnr"] - eager["psnr"])
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    with compile_policy.forced():
        compiled = _fit(steps=200, schedule=schedule, compile=True).metrics
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs == 1  # no recompilation after surgery
    assert compiled["compiles"] == 1 and eager["compiles"] == 0 and "compile" not in eager
    assert compiled["compile"]["compiled_at"] == 6 and compiled["compile"]["reverted"] is False  # 1 warm-up + 5 timed
    assert compiled["architecture_final"] == eager["architecture_final"]
    assert abs(compiled["psnr"] - eager["psnr"]) <= max(100 * delta, 1e-5)
