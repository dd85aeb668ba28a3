"""When compiling pays: saving = steps_left * eager step * (1 - 1/speedup) against compile seconds / CPU share."""

from __future__ import annotations

import pytest

from aire.train import compile_policy as policy
from aire.train.compile_policy import CompileCosts, decide


def test_compiles_only_when_the_steps_left_repay_the_compilation():
    costs = CompileCosts(compile_seconds=15.0, speedup=2.5)
    # 300 steps of 60 ms save 300 * 0.06 * (1 - 1/2.5) = 10.8 s < 15 s: stay eager
    short = decide(step=5, steps_left=300, eager_step_seconds=0.06, costs=costs)
    assert short.saving_s == pytest.approx(10.8) and short.predicted_compile_s == 15.0 and not short.compile
    # 500 steps save 18 s > 15 s: compile
    long = decide(step=5, steps_left=500, eager_step_seconds=0.06, costs=costs)
    assert long.saving_s == pytest.approx(18.0) and long.compile
    assert long.as_dict() == {"step": 5, "steps_left": 500, "eager_ms": 60.0, "cpu_share": 1.0,
                              "predicted_compile_s": 15.0, "speedup": 2.5, "saving_s": 18.0, "compile": True}


def test_a_shared_core_makes_the_compilation_dearer():
    costs = CompileCosts(compile_seconds=15.0, speedup=2.5)
    # half a core: the 15 idle-core seconds take 30; 18 s of saving no longer repay them
    half = decide(step=5, steps_left=500, eager_step_seconds=0.06, costs=costs, cpu_share=0.5)
    assert half.predicted_compile_s == pytest.approx(30.0) and not half.compile
    # the share is clipped to [0.05, 1]: never an infinite or negative prediction
    assert decide(0, 500, 0.06, costs, cpu_share=0.0).predicted_compile_s == pytest.approx(300.0)
    assert decide(0, 500, 0.06, costs, cpu_share=3.0).predicted_compile_s == pytest.approx(15.0)


def test_no_speedup_never_compiles():
    for speedup in (1.0, 0.8):
        d = decide(step=0, steps_left=10**6, eager_step_seconds=1.0, costs=CompileCosts(0.0, speedup))
        assert not d.compile and d.saving_s <= 0.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="steps left"):
        decide(step=0, steps_left=-1, eager_step_seconds=0.1, costs=CompileCosts(1.0, 2.0))
    with pytest.raises(ValueError, match="step time"):
        decide(step=0, steps_left=10, eager_step_seconds=-0.1, costs=CompileCosts(1.0, 2.0))


def test_measured_costs_replace_the_prior_for_this_process():
    policy.forget_costs()
    try:
        assert policy.expected_costs("cpu") == policy.PRIORS["cpu"]
        assert policy.expected_costs("mps") == policy.PRIORS["cuda"]  # unknown devices: the cautious prior
        policy.record_costs("cpu", CompileCosts(4.0, 3.0))
        assert policy.expected_costs("cpu") == CompileCosts(4.0, 3.0)
        assert policy.expected_costs("cuda") == policy.PRIORS["cuda"]
    finally:
        policy.forget_costs()


def test_probe_decision_uses_the_median_step_and_the_fits_cpu_share():
    # five eager steps of 40-80 ms wall (median 60 ms) with half of it on the fitting thread's CPU
    eager = [(0.04, 0.02), (0.06, 0.03), (0.08, 0.04), (0.06, 0.03), (0.06, 0.03)]
    costs = CompileCosts(compile_seconds=5.0, speedup=2.5)
    record, median, share = policy.decide_from_probe(5, 500, eager, costs, "cpu")
    assert median == pytest.approx(0.06) and share == pytest.approx(0.5)
    # 500 * 0.06 * 0.6 = 18 s saved against 5 / 0.5 = 10 s of compilation
    assert record == decide(5, 500, 0.06, costs, 0.5).as_dict() and record["compile"]
    assert policy.decide_from_probe(5, 500, eager, costs, "cuda")[2] == 1.0  # a GPU's share is not the CPU's
    with policy.forced():
        forced = policy.decide_from_probe(5, 1, eager, costs, "cpu")[0]
    assert forced["compile"] and forced["forced"]


def test_compiled_steps_are_checked_against_the_eager_ones_and_their_costs_kept():
    policy.forget_costs()
    try:
        outcome = {"eager_ms": 60.0, "cpu_share": 0.5, "first_compiled_step_s": 8.06}
        assert not policy.check_compiled(outcome, [0.03, 0.02, 0.04], "cpu")  # 2x faster: keep it
        assert outcome["compiled_ms"] == 30.0 and outcome["speedup"] == 2.0 and outcome["compile_s"] == 8.0
        assert policy.expected_costs("cpu") == CompileCosts(4.0, 2.0)  # idle-core seconds: 8 s at half a core
        slower = {"eager_ms": 60.0, "cpu_share": 1.0, "first_compiled_step_s": 1.0}
        assert policy.check_compiled(slower, [0.07, 0.06, 0.08], "cpu-batched")  # not faster: back to eager
        assert policy.expected_costs("cpu-batched") == CompileCosts(pytest.approx(0.94), pytest.approx(60 / 70))
        with policy.forced():
            assert not policy.check_compiled(dict(slower), [0.07], "cpu-batched")  # forced stays compiled
    finally:
        policy.forget_costs()


def test_forced_blocks_nest_and_end():
    assert not policy.is_forced()
    with policy.forced():
        with policy.forced():
            assert policy.is_forced()
        assert policy.is_forced()
    assert not policy.is_forced()


def test_a_backend_that_cannot_compile_leaves_the_fit_eager(monkeypatch):
    import torch
    import torch._dynamo

    import aire
    from aire.signals.image import ImageSignal, synthetic_image

    def broken(*args, **kwargs):
        raise torch._dynamo.exc.BackendCompilerFailed(broken, RuntimeError("no C++ compiler found"), None)

    monkeypatch.setattr(torch, "compile", lambda model, dynamic: broken)
    net = aire.build_network(ImageSignal(image=synthetic_image(8)), [6, 6])
    wrapped = policy.DynamicCompiled(net)
    assert list(wrapped.parameters()) == [] and wrapped.widths() == net.widths()  # the model's, not its own
    x = torch.rand(5, 2)
    with pytest.warns(UserWarning, match=r"no C\+\+ compiler found"):
        assert torch.equal(wrapped(x), net(x))
    assert wrapped.failed == "RuntimeError: no C++ compiler found"
    assert torch.equal(wrapped(x), net(x))  # and stays eager, without another warning
