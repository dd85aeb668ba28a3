"""The trainer: TWD really zeroes its targets, the cut obeys Theorem 2, budgets hold, densify adds 2*omega_j."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import aire
from aire.config import ConfigError
from aire.signals.image import ImageSignal, synthetic_image
from aire.testing import rounding_bound
from aire.theory import pruning_bound
from aire.train import schedule as sched


class Probe:
    """A plugin that checks the network at the TWD start and at the cut, in float64."""

    def __init__(self):
        self.start_norms = {}
        self.cuts = []

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        schedule = trainer.schedule
        if schedule.twd_phase and step == schedule.twd_phase[0]:  # after the first decay step
            first_decay = 1 - sched.alpha(0, schedule.twd_phase[1], schedule.config.alpha_max)
            for layer, targets in schedule.twd_targets.items():
                columns = trainer.network.outgoing(layer).detach()[:, targets]
                net64 = copy.deepcopy(trainer.network).double()
                with torch.no_grad():
                    net64.outgoing(layer)[:, targets] /= first_decay
                self.start_norms[layer] = (targets.clone(), columns.abs().sum(0) / first_decay,
                                           pruning_bound(net64, layer, targets.numpy()))

    @aire.hookimpl
    def aire_before_prune(self, trainer, layer, neurons):
        net64 = copy.deepcopy(trainer.network).double()
        x = torch.rand(2048, 2, generator=torch.Generator().manual_seed(layer), dtype=torch.float64) * 2 - 1
        before = net64(x).detach()
        bound = pruning_bound(net64, layer, neurons.numpy())
        r0 = rounding_bound(net64, x)
        net64.remove_neurons(layer, neurons)
        change = (net64(x).detach() - before).abs().max(dim=1).values
        targets, start, start_bound = self.start_norms[layer]
        now = trainer.network.outgoing(layer).detach()[:, targets].abs().sum(0)
        self.cuts.append(dict(layer=layer, change=change, allowed=bound + r0 + rounding_bound(net64, x),
                              bound=bound, start_bound=start_bound, start=start, now=now,
                              removed=neurons.numel(), targets=targets.numel()))


def _signal(size=16):
    return ImageSignal(image=synthetic_image(size))


def test_twd_drives_targets_to_zero_and_the_cut_obeys_theorem_2():
    signal = _signal()
    net = aire.build_network(signal, [12, 12, 12])
    schedule = aire.ScheduleConfig(warmup=0.2, cycles=2, twd_length=0.2, cycle_gap=0.1, alpha_max=0.5,
                                   prune_fraction=0.25, prune_layers=(0, 1, 2), densify_k=0)
    probe = Probe()
    reg = aire.get_registry()
    reg.pm.register(probe, name="probe")
    try:
        result = aire.fit(signal, net, steps=200, eval_every=50, progress=False, schedule=schedule)
    finally:
        reg.pm.unregister(name="probe")
    assert len(probe.cuts) == 2 * 3  # two cycles, three sine layers
    shrink = sched.twd_shrink(40, 0.5)
    for cut in probe.cuts:
        assert cut["removed"] == cut["targets"]  # every target fell below epsilon, nothing else did
        # the targeted columns were frozen and scaled: now = start * prod(1 - alpha_t), to float32 rounding
        torch.testing.assert_close(cut["now"], cut["start"] * shrink, rtol=40 * 2 ** -23, atol=1e-30)
        assert (cut["change"] <= cut["allowed"]).all()  # Theorem 2 holds at the real cut
        assert cut["bound"] < cut["start_bound"] * 1e-2  # and TWD shrank the bound (column factor 4e-4)
    assert result.network.widths()[:-1] == [7, 7, 7]  # 12 -> 9 -> 7 (round(0.25 * 9) = 2)
    prunes = [e for e in result.events if e["event"] == "prune"]
    assert [e["removed"] for e in prunes] == [3, 3, 3, 2, 2, 2]
    assert all(e["theorem2_bound"] == pytest.approx(c["bound"], rel=1e-4) for e, c in zip(prunes, probe.cuts))


@settings(max_examples=12)
@given(budget=st.floats(0.2, 1.0), cycles=st.integers(1, 3), densify=st.integers(0, 3),
       widths=st.lists(st.integers(4, 12), min_size=1, max_size=3))
def test_parameter_budget_is_respected(budget, cycles, densify, widths):
    signal = _signal(8)
    net = aire.build_network(signal, widths)
    schedule = aire.ScheduleConfig(kind="aire", target_params=budget, cycles=cycles, warmup=0.1, twd_length=0.1, cycle_gap=0.1,
                                   densify_k=densify)
    initial = net.num_parameters()
    grown = widths[0]
    for _ in range(len(sched.plan(schedule, 60))):
        grown += densify
    minimal = sched.count_parameters(2, [grown] + [1] * (len(widths) - 1), 3) if len(widths) > 1 \
        else sched.count_parameters(2, [1], 3)
    if minimal > budget * initial:  # hidden layers alone cannot reach it: a clear error, before any step
        with pytest.raises(ConfigError, match="target_params .* out of reach"):
            aire.fit(signal, net, steps=60, eval_every=30, progress=False, schedule=schedule)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short TWD phases warn that targets are cut above epsilon
        result = aire.fit(signal, net, steps=60, eval_every=30, progress=False, schedule=schedule)
    m = result.metrics
    assert m["params_final"] <= budget * m["params_initial"]
    assert m["params_final"] == sum(p.numel() for p in result.network.parameters())
    assert m["architecture_final"] == result.network.widths()


def test_densification_adds_doubled_frequencies_with_zero_outgoing_weights():
    signal = _signal()
    net = aire.build_network(signal, [10, 10])
    trainer_ref = {}

    class Grab:
        @aire.hookimpl
        def aire_after_densify(self, trainer, added):
            trainer_ref["w0"] = trainer.network.weights[0].detach().clone()
            trainer_ref["out"] = trainer.network.outgoing(0).detach().clone()
            trainer_ref["added"] = added

        @aire.hookimpl
        def aire_fit_start(self, trainer):
            trainer_ref["initial_w0"] = trainer.network.weights[0].detach().clone()
            trainer_ref["initial_col"] = trainer.network.outgoing(0).detach().abs().sum(0)

    reg = aire.get_registry()
    reg.pm.register(Grab(), name="grab")
    try:
        aire.fit(signal, net, steps=30, eval_every=30, progress=False,
                 schedule=aire.ScheduleConfig(warmup=0.0, cycles=1, twd_length=0.3, cycle_gap=0.0,
                                              densify_k=3, prune_fraction=0.0, criterion="column-l1",
                                              prune_layers=(0, 1)),
                 lr=1e-12, lr_final=1e-12)  # a frozen fit: the scores at densify time are the initial ones
    finally:
        reg.pm.unregister(name="grab")
    assert trainer_ref["added"] == 3
    w0 = trainer_ref["w0"]
    assert w0.shape == (13, 2)
    top = torch.argsort(trainer_ref["initial_col"], descending=True)[:3]
    torch.testing.assert_close(w0[10:], 2 * trainer_ref["initial_w0"][top], rtol=1e-5, atol=1e-7)
    assert torch.equal(trainer_ref["out"][:, 10:], torch.zeros(10, 3))


def test_plain_schedule_keeps_the_architecture_and_learns():
    signal = _signal()
    net = aire.build_network(signal, [32, 32])
    result = aire.fit(signal, net, steps=200, eval_every=50, progress=False, lr=2e-3, lr_final=2e-4,
                      schedule=aire.ScheduleConfig(kind="none"))
    assert result.metrics["params_final"] == result.metrics["params_initial"]
    assert result.history[-1]["psnr"] > result.history[0]["psnr"] + 5


def test_same_seed_same_result_on_cpu():
    runs = []
    for _ in range(2):
        signal = _signal()
        net = aire.build_network(signal, [8, 8], seed=4)
        runs.append(aire.fit(signal, net, steps=40, eval_every=20, progress=False, seed=4, batch_size=64,
                             schedule=aire.ScheduleConfig(kind="aire", target_params=0.6, cycles=1)).metrics)
    assert runs[0]["psnr"] == runs[1]["psnr"] and runs[0]["architecture_final"] == runs[1]["architecture_final"]


def test_default_schedule_prunes_hidden_layers_and_densifies_a_quarter_of_the_input_width():
    signal = _signal()
    net = aire.build_network(signal, [16, 12, 12])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=100, eval_every=50, progress=False,
                          schedule=aire.ScheduleConfig(target_params=0.7))
    densify = [e for e in result.events if e["event"] == "densify"]
    assert [e["added"] for e in densify] == [4, 5]  # 25 % of 16, then of 20
    assert {e["layer"] for e in result.events if e["event"] == "prune"} <= {1, 2}
    assert result.metrics["architecture_final"][0] == 16 + 4 + 5
    assert result.metrics["params_final"] <= 0.7 * result.metrics["params_initial"]


def test_lr_rewind_restarts_the_decay_at_each_cut():
    signal = _signal(8)
    net = aire.build_network(signal, [8, 8])
    lrs = []

    class Spy:
        @aire.hookimpl
        def aire_step_end(self, trainer, step, loss):
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

    reg = aire.get_registry()
    reg.pm.register(Spy(), name="spy")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aire.fit(signal, net, steps=100, eval_every=100, progress=False, lr=1e-3, lr_final=1e-4,
                     schedule=aire.ScheduleConfig(cycles=1, warmup=0.2, twd_length=0.1, cycle_gap=0.0, densify_k=0))
    finally:
        reg.pm.unregister(name="spy")
    assert lrs[0] == pytest.approx(1e-3) and lrs[29] < 1e-3
    assert lrs[30] == pytest.approx(1e-3)  # the cut happens before step 30
    assert lrs[-1] == pytest.approx(1e-3 * 0.1 ** (69 / 70))


class Recorder(aire.interfaces.Callback):
    """Writes down every hook call of the loop."""

    state_key = "recorder"

    def __init__(self):
        self.calls = []

    def on_fit_start(self, trainer):
        self.calls.append(("on_fit_start", trainer.step))

    def before_step(self, trainer, step):
        self.calls.append(("before_step", step))

    def after_backward(self, trainer, step):
        assert trainer.network.weights[1].grad is not None
        self.calls.append(("after_backward", step))

    def after_step(self, trainer, step, loss):
        self.calls.append(("after_step", step))

    def on_evaluate(self, trainer, row):
        self.calls.append(("on_evaluate", row["step"]))

    def on_step_end(self, trainer, step):
        self.calls.append(("on_step_end", step))

    def on_train_end(self, trainer):
        self.calls.append(("on_train_end", trainer.step))

    def on_fit_end(self, trainer, metrics):
        self.calls.append(("on_fit_end", metrics["steps_completed"]))

    def state_dict(self):
        return {"calls": len(self.calls)}


def test_the_loop_calls_each_callback_hook_in_order():
    from aire.train.trainer import Trainer

    signal = _signal(8)
    recorder = Recorder()
    train = aire.TrainConfig(steps=3, eval_every=2, progress=False)
    trainer = Trainer(signal, aire.build_network(signal, [6, 6]), train, aire.ScheduleConfig(kind="none"),
                      callbacks=[recorder])
    trainer.fit()
    step = lambda s: [("before_step", s), ("after_backward", s), ("after_step", s)]  # noqa: E731
    assert recorder.calls == [
        ("on_fit_start", 0), ("on_evaluate", 0),
        *step(0), ("on_step_end", 1),
        *step(1), ("on_evaluate", 2), ("on_step_end", 2),
        *step(2), ("on_evaluate", 3), ("on_step_end", 3),
        ("on_train_end", 3), ("on_fit_end", 3)]
    assert trainer.state_dict()["callbacks"]["recorder"] == {"calls": len(recorder.calls)}


class JitteredImage(ImageSignal):
    """An image signal whose loss draws noise, as NeRF's ray jitter does."""

    def training_loss(self, model, inputs, targets, generator=None):
        self.generators = getattr(self, "generators", []) + [generator]
        noise = torch.rand(inputs.shape, generator=generator, device=generator.device) * 1e-3
        return self.loss(model(inputs + noise), targets)


class OldStyleImage(ImageSignal):
    """A signal plugin written before training_loss took a generator."""

    def training_loss(self, model, inputs, targets):
        return self.loss(model(inputs), targets)


def test_draws_inside_the_loss_come_from_the_trainers_own_generator():
    from aire.train.trainer import Trainer

    signal = JitteredImage(image=synthetic_image(8))
    trainer = Trainer(signal, aire.build_network(signal, [6, 6]), aire.TrainConfig(steps=4, progress=False, seed=5),
                      aire.ScheduleConfig(kind="none"))
    trainer.fit()
    assert signal.generators == [trainer.device_generator] * 4
    assert trainer.device_generator.initial_seed() != trainer.generator.initial_seed() == 5  # independent streams
    old = OldStyleImage(image=synthetic_image(8))
    assert aire.fit(old, aire.build_network(old, [6, 6]), steps=4, progress=False,
                    schedule=aire.ScheduleConfig(kind="none")).metrics["steps_completed"] == 4


def test_a_signal_metric_named_like_a_trainer_metric_is_refused_not_overwritten():
    class Clashing(ImageSignal):
        def final_metrics(self, model):
            return {"precision": 0.5}  # e.g. an F-score's precision, beside the training's "fp32"

    signal = Clashing(image=synthetic_image(8))
    with pytest.raises(RuntimeError, match=r"Clashing signal reports metrics named \['precision'\]"):
        aire.fit(signal, aire.build_network(signal, [4, 4]), steps=2, eval_every=1, progress=False,
                 schedule=aire.ScheduleConfig(kind="none"))
