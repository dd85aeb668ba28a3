"""history.jsonl: appended at every evaluation and event while the fit runs, equal to the history at the end,
rewritten when the history is rewound, and moved from `<out>.live` into the run folder by `aire fit`."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

import aire
from aire.cli import main
from aire.errors import InputError
from aire.interfaces import Callback
from aire.loggers import live_dir, prepare_live_dir
from aire.loggers import history_jsonl
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer

SCHEDULE = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, target_params=0.8,
                               densify_k=2, prune_layers=(1,))


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class ReadsTheLog(Callback):
    """After every step: how many evaluation lines history.jsonl holds at that moment."""

    def __init__(self, path):
        self.path, self.seen = path, {}

    def on_step_end(self, trainer, step):
        self.seen[step] = sum(e["kind"] == "evaluation" for e in lines(self.path))


def test_history_jsonl_grows_at_every_evaluation_and_ends_equal_to_the_history(tmp_path):
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 8, 8], seed=1)
    train = aire.TrainConfig(steps=40, eval_every=10, progress=False)
    reader = ReadsTheLog(tmp_path / "history.jsonl")
    result = Trainer(signal, net, train, SCHEDULE, callbacks=[reader]).fit(log_dir=tmp_path)
    # the evaluation at step 0, then one every 10 steps, each on disk when the step that made it ends
    assert reader.seen == {s: 1 + s // 10 for s in range(1, 41)}
    written = lines(tmp_path / "history.jsonl")
    assert [e for e in written if e["kind"] == "evaluation"] == [
        {"kind": "evaluation", **row} for row in json.loads(json.dumps(result.history))]
    assert [{k: v for k, v in e.items() if k != "kind"} for e in written if e["kind"] == "event"] == \
        json.loads(json.dumps(result.events))
    assert [e["event"] for e in written if e["kind"] == "event"] == ["densify", "twd_start", "prune"]
    assert written[-1]["kind"] == "final" and written[-1]["params_final"] == result.metrics["params_final"]
    steps = [e["step"] for e in written[:-1]]
    assert steps == sorted(steps)


def test_without_a_log_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    signal = ImageSignal(image=synthetic_image(8))
    aire.fit(signal, aire.build_network(signal, [4, 4]), steps=4, eval_every=2, progress=False,
             schedule=aire.ScheduleConfig(kind="none"))
    assert list(tmp_path.iterdir()) == []


class FakeTrainer:
    def __init__(self, folder, history, events):
        self.log_dir, self.history, self.events = folder, history, events


def test_a_rewound_history_rewrites_the_file(tmp_path):
    rows = [{"step": 0, "loss": None, "psnr": 10.0}, {"step": 10, "loss": 0.5, "psnr": 20.0}]
    trainer = FakeTrainer(tmp_path, list(rows), [])
    history_jsonl.aire_after_evaluate(trainer, rows[-1])
    assert len(lines(tmp_path / "history.jsonl")) == 2
    trainer.history = rows[:1]  # a rollback restored the snapshot of step 0
    trainer.events = [{"step": 12, "event": "rollback"}]
    history_jsonl.aire_after_event(trainer, trainer.events[0])
    assert lines(tmp_path / "history.jsonl") == [{"kind": "evaluation", **rows[0]},
                                                 {"kind": "event", "step": 12, "event": "rollback"}]
    history_jsonl.aire_fit_end(trainer, {"psnr": float("nan")})
    assert lines(tmp_path / "history.jsonl")[-1] == {"kind": "final", "psnr": None}


def test_aire_fit_writes_history_jsonl_into_the_run_folder_and_removes_the_live_folder(tmp_path, capsys):
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(12) * 255).round().astype(np.uint8))
    out = tmp_path / "run"
    assert main(["fit", "image", str(image), "--out", str(out), "--hidden", "8", "8", "--steps", "6",
                 "--eval-every", "3", "--schedule", "none"]) == 0
    assert f"live log: {live_dir(out) / 'history.jsonl'}" in capsys.readouterr().err
    assert not live_dir(out).exists()
    history = json.loads((out / "history.json").read_text())["history"]
    assert [e for e in lines(out / "history.jsonl") if e["kind"] == "evaluation"] == [
        {"kind": "evaluation", **row} for row in history]


def test_a_live_folder_aire_did_not_write_is_refused(tmp_path):
    folder = tmp_path / "run.live"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds files aire did not write"):
        prepare_live_dir(folder, resume=False)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_leftover_live_folder_is_replaced_and_kept_on_resume(tmp_path):
    folder = prepare_live_dir(tmp_path / "run.live", resume=False)
    (folder / "history.jsonl").write_text("old\n")
    assert (prepare_live_dir(folder, resume=True) / "history.jsonl").read_text() == "old\n"
    assert not (prepare_live_dir(folder, resume=False) / "history.jsonl").exists()


class InterruptAt:
    """A test plugin: Ctrl-C at the end of one step, as a user would press it."""

    def __init__(self, step):
        self.step = step

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        if step == self.step:
            raise KeyboardInterrupt


def test_after_resume_history_jsonl_holds_each_step_once_in_order_continuing_the_first_run(tmp_path, capsys):
    """A fit interrupted at step 38 (checkpoints every 10: the last at 30, after which the live log got the
    evaluation of step 35) and resumed: the run folder's history.jsonl has every evaluation step once, in
    order, and begins with the interrupted run's own lines (the resumed fit is bit for bit the same, so even
    the lines after the checkpoint come back equal but for their clock)."""
    from aire.train.state import load_checkpoint

    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(12) * 255).round().astype(np.uint8))
    out = tmp_path / "run"
    argv = ["fit", "image", str(image), "--out", str(out), "--hidden", "8", "8", "8", "--steps", "50",
            "--eval-every", "5", "--target-params", "0.8", "--schedule", "aire", "--checkpoint-every", "10", "--quiet"]
    registry = aire.get_registry()
    registry.pm.register(InterruptAt(38), name="interrupt-at")
    try:
        assert main(argv) == 130
    finally:
        registry.pm.unregister(name="interrupt-at")
    first = lines(live_dir(out) / "history.jsonl")
    checkpoint_step = load_checkpoint(out)["step"]
    assert checkpoint_step == 30 and [e["step"] for e in first if e["kind"] == "evaluation"] == list(range(0, 40, 5))
    assert main(["fit", "--resume", str(out), "--quiet"]) == 0
    assert not live_dir(out).exists()
    final = lines(out / "history.jsonl")
    assert [e["step"] for e in final if e["kind"] == "evaluation"] == list(range(0, 55, 5))  # each once, in order
    assert [e["kind"] for e in final].count("final") == 1 and final[-1]["kind"] == "final"
    steps = [e["step"] for e in final[:-1]]
    assert steps == sorted(steps)
    assert {e["event"] for e in final if e["kind"] == "event"} >= {"densify", "prune"}
    # a cut's quality after its recovery was pending when the first run stopped; the resumed fit measured it
    # at the end (the recovery lasts until then): complete the first run's lines with it, nothing else
    pending = [i for i, e in enumerate(first) if str(e.get("measured", {}).get("recovered", "")).startswith("pending")]
    assert pending, "the last cycle's cuts recover until the end of the fit"
    for i in pending:
        done = final[i]["measured"]
        assert isinstance(done["recovered"], float) and done["recovered_step"] == 50
        first[i] = {**first[i], "measured": {**first[i]["measured"], "recovered": done["recovered"], "recovered_step": 50}}
    kept = [e for e in first if e["step"] <= checkpoint_step]  # what the checkpoint holds: kept as written
    assert final[:len(kept)] == kept
    clockless = [{k: v for k, v in e.items() if k != "seconds"} for e in first]
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in final[:len(first)]] == clockless
    history = json.loads((out / "history.json").read_text())["history"]
    assert [e for e in final if e["kind"] == "evaluation"] == [{"kind": "evaluation", **row} for row in history]


def test_an_event_completed_after_it_was_written_rewrites_the_file(tmp_path):
    rows = [{"step": 0, "loss": None, "psnr": 10.0}]
    events = [{"step": 0, "event": "prune", "measured": {"recovered": "pending"}}]
    trainer = FakeTrainer(tmp_path, list(rows), events)
    history_jsonl.aire_after_event(trainer, events[0])
    assert lines(tmp_path / "history.jsonl")[-1]["measured"] == {"recovered": "pending"}
    events[0]["measured"]["recovered"] = 12.5  # the schedule measured the quality after the recovery
    trainer.history.append({"step": 10, "loss": 0.5, "psnr": 12.5})
    history_jsonl.aire_after_evaluate(trainer, trainer.history[-1])
    assert lines(tmp_path / "history.jsonl") == [{"kind": "evaluation", **rows[0]}, {"kind": "event", **events[0]},
                                                 {"kind": "evaluation", **trainer.history[-1]}]


def test_an_interrupt_without_a_checkpoint_says_where_the_log_so_far_is(tmp_path, capsys):
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(12) * 255).round().astype(np.uint8))
    out = tmp_path / "run"
    registry = aire.get_registry()
    registry.pm.register(InterruptAt(12), name="interrupt-at")
    try:
        capsys.readouterr()
        assert main(["fit", "image", str(image), "--out", str(out), "--hidden", "8", "8", "--steps", "50",
                     "--eval-every", "5", "--quiet"]) == 130
    finally:
        registry.pm.unregister(name="interrupt-at")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"aire: interrupted; nothing was written to {out} (the log so far is in {live_dir(out)})"]
    logged = [e["step"] for e in lines(live_dir(out) / "history.jsonl") if e["kind"] == "evaluation"]
    assert not out.exists() and logged == [0, 5, 10]
