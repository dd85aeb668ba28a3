"""The divergence guard: seeded by the first loss, rolls back to the last good evaluation with a lower
learning rate each time, stops after max_failures, and its state survives a checkpoint."""

from __future__ import annotations

import copy
import json
import math
import warnings

import pytest
import torch
import trimesh

import aire
from aire.signals.image import ImageSignal, synthetic_image
from aire.signals.sdf import SDFSignal
from aire.train.callbacks import DivergenceGuard
from tests.notices import expect_notice, notice_messages


class FakeTrainer:
    """The part of the trainer the guard uses: a state (step + events), rewind, log_event, stop."""

    def __init__(self) -> None:
        self.network = torch.nn.Linear(1, 1)
        self.step, self.events, self.should_stop = 0, [], False
        self.rewinds: list[int] = []

    def state_dict(self, exclude=None):
        assert exclude == "guard"  # a snapshot never nests the guard's own state
        return {"step": self.step, "events": copy.deepcopy(self.events)}

    def rewind(self, state):
        self.step, self.events = state["step"], copy.deepcopy(state["events"])
        self.rewinds.append(state["step"])
        self.rewound = True

    def log_event(self, kind, **info):
        self.events.append({"step": self.step, "event": kind, **info})


def _guard(read_every=10, **settings):
    return DivergenceGuard(read_at=lambda step: (step + 1) % read_every == 0, **settings)


def _feed(guard, trainer, losses):
    """Run the guard over one loss per step, as the loop does: a rollback ends the step there."""
    for loss in losses:
        if trainer.should_stop:
            return
        step, trainer.rewound = trainer.step, False
        guard.after_step(trainer, step, torch.tensor(loss))
        if not trainer.rewound:
            trainer.step = step + 1


def _started(guard):
    trainer = FakeTrainer()
    guard.on_fit_start(trainer)
    return trainer


def test_the_first_loss_seeds_the_guard_so_a_finite_explosion_is_caught(caplog):
    guard = _guard()
    trainer = _started(guard)
    with expect_notice(caplog, "loss diverged at step 9; rolled back to step 0"):
        _feed(guard, trainer, [0.5] + [1e6] * 9)  # finite, but 2e6 times the initial model's loss
    assert trainer.rewinds == [0]
    assert [e for e in trainer.events if e["event"] == "rollback"] == \
        [{"step": 0, "event": "rollback", "failed_at": 9, "to_step": 0}]
    assert guard.lr_scale == 0.5 and guard.rollbacks == 1 and not guard.diverged


def test_a_loss_within_factor_of_the_lowest_is_healthy_and_lowers_it(caplog):
    guard = _guard(factor=1e3)
    trainer = _started(guard)
    _feed(guard, trainer, [0.5, 9, 9, 9, 9, 9, 9, 9, 9, 400.0, 0.2] + [0.3] * 9)  # 400 < 1e3 * 0.5
    assert trainer.rewinds == [] and guard.best_loss == pytest.approx(0.3)  # the lowest observed: steps 0, 9, 19
    with expect_notice(caplog, "at step 29"):
        _feed(guard, trainer, [0.3] * 9 + [301.0])  # > 1e3 * 0.3 at step 29
    assert trainer.rewinds == [0] and trainer.events[-1]["failed_at"] == 29


def test_nan_and_inf_are_failures(caplog):
    for bad in (float("nan"), float("inf")):
        guard = _guard()
        trainer = _started(guard)
        with expect_notice(caplog, "at step 9"):
            _feed(guard, trainer, [0.5] * 9 + [bad])
        assert guard.rollbacks == 1


def test_every_rollback_lowers_the_lr_again_keeps_the_log_and_the_last_one_stops(caplog):
    guard = _guard(max_failures=2, lr_factor=0.5)
    trainer = _started(guard)
    _feed(guard, trainer, ([0.5] * 9 + [float("nan")]) * 3)
    assert guard.rollbacks == 3 and guard.diverged and trainer.should_stop
    assert guard.lr_scale == 0.25  # x0.5 at each of the first two rollbacks; the third stops instead
    # each rewind restores the snapshot's events, yet every rollback stays in the log
    assert [e["event"] for e in trainer.events] == ["rollback"] * 3
    assert "stopping with the last good model from step 0" in notice_messages(caplog)[-1]


def test_snapshots_are_taken_only_after_finite_evaluations():
    guard = _guard()
    trainer = _started(guard)
    trainer.step = 10
    guard.on_evaluate(trainer, {"step": 10, "loss": 0.4, "psnr": float("nan"), "seconds": 1.0})
    assert guard.snapshot["step"] == 0
    guard.on_evaluate(trainer, {"step": 10, "loss": 0.4, "psnr": 20.0, "seconds": 1.0})
    assert guard.snapshot["step"] == 10


def test_state_dict_round_trip_continues_the_same_way(caplog):
    guard = _guard()
    trainer = _started(guard)
    with expect_notice(caplog):
        _feed(guard, trainer, [0.5] * 9 + [float("nan")] + [0.4] * 10)
    restored = _guard()
    restored.load_state_dict(copy.deepcopy(guard.state_dict()))
    assert restored.state_dict() == guard.state_dict()
    assert restored.lr_scale == 0.5 and restored.rollbacks == 1 and restored.best_loss == pytest.approx(0.4)
    # a resumed guard is not re-seeded: it reads on from the lowest loss it had
    restored.on_fit_start(trainer)
    guard.on_fit_start(trainer)
    for g in (guard, restored):
        with expect_notice(caplog, "at step 19"):
            _feed(g, copy.deepcopy(trainer), [0.4] * 9 + [401.0])  # steps 10-19: > 1e3 * 0.4 at 19


# ------------------------------------------------------------------------- real fits
def _image():
    return ImageSignal(image=synthetic_image(16))


def _sdf():
    box = trimesh.creation.box(extents=(4.0, 2.0, 1.0))
    return SDFSignal(mesh=box, samples=2000, validation_samples=1000, eval_resolution=12, mesh_resolution=12,
                     chamfer_samples=500)


@pytest.mark.parametrize("make_signal, lr, precision", [(_image, 1e3, "fp32"), (_image, 1e8, "fp32"),
                                                       (_image, 1e3, "bf16"), (_sdf, 1e3, "fp32")],
                         ids=["image-lr1e3", "image-lr1e8", "image-lr1e3-bf16", "sdf-lr1e3"])
def test_an_exploding_learning_rate_is_caught_and_the_fit_stops_with_the_initial_model(make_signal, lr, precision):
    """Adam at these rates makes the loss jump 1e4-1e17 times in one step and then hover, finite:
    only a guard seeded with the initial loss sees it (before, these fits reported diverged: false)."""
    signal = make_signal()
    net = aire.build_network(signal, [12, 12])
    initial = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=60, eval_every=20, batch_size=256, progress=False, lr=lr,
                          precision=precision, schedule=aire.ScheduleConfig(kind="none"))
    m = result.metrics
    assert m["diverged"] and m["rollbacks"] == 4 and m["steps_completed"] == 0  # guard_max_failures 3, + the stop
    assert sum(e["event"] == "rollback" for e in result.events) == m["rollbacks"]
    assert all(torch.equal(a, b) for a, b in zip(initial.parameters(), result.network.parameters()))
    assert m["final_loss"] is None  # no step was kept
    quality = signal.quality_key
    assert m[quality] == result.history[0][quality] and len(result.history) == 1


class Poison:
    """A plugin that fills the network with NaN at step 5."""

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        if step == 5:
            with torch.no_grad():
                trainer.network.weights[1].fill_(float("nan"))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the NaN reconstruction's PNG
def test_metrics_and_history_files_are_strict_json_and_agree_on_rollbacks(tmp_path):
    signal = _image()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diverged = aire.fit(signal, aire.build_network(signal, [12, 12]), steps=60, eval_every=20, progress=False,
                            lr=1e3, schedule=aire.ScheduleConfig(kind="none"))
        registry = aire.get_registry()
        registry.pm.register(Poison(), name="poison")
        try:
            unguarded = aire.fit(signal, aire.build_network(signal, [12, 12]), steps=20, eval_every=20,
                                 progress=False, guard=False, schedule=aire.ScheduleConfig(kind="none"))
        finally:
            registry.pm.unregister(name="poison")
    assert math.isnan(unguarded.metrics["psnr"])  # nothing stops NaN without the guard ...

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in JSON"))

    for name, result in (("diverged", diverged), ("unguarded", unguarded)):
        out = aire.save_run(result, signal, tmp_path / name)
        metrics = strict((out / "metrics.json").read_text())
        history = strict((out / "history.json").read_text())
        assert sum(e["event"] == "rollback" for e in history["events"]) == metrics["rollbacks"]
    assert metrics["psnr"] is None and history["history"][-1]["psnr"] is None  # ... but the files say null
    assert strict((tmp_path / "diverged" / "metrics.json").read_text())["diverged"] is True
