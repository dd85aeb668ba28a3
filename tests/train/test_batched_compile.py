"""torch.compile of a batched fit's loss from the last cut on (aire.train.batched_compile)."""

from __future__ import annotations

import attrs
import pytest
import torch

from aire.train import compile_policy as policy
from aire.train.batched_compile import BATCHED_PRIORS, BatchedCompiler


def run(compiler: BatchedCompiler, steps: int) -> list[int]:
    """Drive `compiler` like the trainer; returns the steps at which the loss went through it."""
    called = []
    for step in range(steps):
        compiler.start(step)
        compiler(torch.tensor(float(step)))
        called.append(step)
        compiler.end(step)
    return called


def test_waits_for_the_final_widths_then_times_eager_steps_and_declines_what_does_not_pay():
    compiler = BatchedCompiler(lambda x: x * 2, final_step=10, steps=40, device_type="cpu", probe_steps=3)
    run(compiler, 13)
    assert compiler.phase == "probe" and len(compiler._eager) == 2  # step 10 is the untimed warm-up
    run_from = [compiler.start(13), compiler(torch.tensor(1.0)), compiler.end(13)]
    assert run_from[1] == 2.0
    (decision,) = compiler.decisions
    # microsecond steps save nothing against BATCHED_PRIORS' compilation: stay eager, decided once
    assert decision["step"] == 14 and decision["steps_left"] == 26 and decision["compile"] is False
    assert decision["predicted_compile_s"] >= BATCHED_PRIORS["cpu"].compile_seconds
    assert compiler.phase == "done" and compiler.call is compiler.function and compiler.compiles == 0
    run(compiler, 5)
    assert compiler.summary() == {"decisions": [decision]}


def test_batched_costs_are_their_own_beside_the_single_fit_s():
    policy.forget_costs()
    try:
        assert policy.expected_costs("cpu-batched", BATCHED_PRIORS) == BATCHED_PRIORS["cpu"]
        policy.record_costs("cpu-batched", policy.CompileCosts(3.0, 2.0))
        assert policy.expected_costs("cpu-batched", BATCHED_PRIORS) == policy.CompileCosts(3.0, 2.0)
        assert policy.expected_costs("cpu") == policy.PRIORS["cpu"]  # single fits keep theirs
        assert policy.expected_costs("mps-batched", BATCHED_PRIORS) == BATCHED_PRIORS["cuda"]
    finally:
        policy.forget_costs()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:TWD left")
def test_a_compiled_batched_fit_cuts_the_same_neurons_and_reaches_the_eager_psnr():
    """Forced compilation (a real inductor compile: ~20 s): the cuts all happen before it, so the
    architecture and the events are the eager batch's; the compiled steps fuse operations (another
    rounding), so the PSNR agrees to 1e-3 dB rather than bit for bit."""
    from aire.many.batched import fit_batched
    from aire.signals.image import ImageSignal, synthetic_image
    from aire.spec import resolve

    spec = resolve({"signal": "image", "path": ".", "network": {"widths": [12, 12, 12]},
                    "train": {"steps": 120, "eval_every": 40, "progress": False, "lr": 1e-3},
                    "schedule": {"target_params": 0.5, "kind": "aire-cubic"}})
    images = [synthetic_image(16, seed=i) for i in range(2)]
    eager = fit_batched([ImageSignal(image=im) for im in images], spec, seeds=[0, 1])
    with policy.forced():
        compiled = fit_batched([ImageSignal(image=im) for im in images],
                               attrs.evolve(spec, train=attrs.evolve(spec.train, compile=True)), seeds=[0, 1])
    last_cut = max(e["step"] for e in eager[0].events)
    for e, c in zip(eager, compiled):
        assert c.metrics["compiles"] == 1 and c.metrics["compile"]["compiled_at"] > last_cut
        assert c.metrics["compile"]["reverted"] is False and "failed" not in c.metrics["compile"]
        assert c.events == e.events and c.metrics["architecture_final"] == e.metrics["architecture_final"]
        assert abs(c.metrics["psnr"] - e.metrics["psnr"]) < 1e-3
