"""Reliability: a killed fit resumes exactly (across pruning and densification), NaNs roll back."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
import warnings

import pytest
import torch

import aire
from aire.plugins import PluginError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.state import CHECKPOINT_FILE, load_checkpoint
from tests.notices import recorded_notices

FIT = ["--hidden", "16", "16", "16", "--steps", "400", "--eval-every", "50", "--target-params", "0.6",
       "--seed", "3", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _aire(*argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "aire", *map(str, argv)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_killed_fit_resumes_to_the_same_result(image_path, tmp_path):
    whole = _aire("fit", "image", image_path, "--out", tmp_path / "whole", *FIT)
    assert whole.wait(300) == 0, whole.stderr.read()
    run = tmp_path / "killed"
    proc = _aire("fit", "image", image_path, "--out", run, *FIT, "--checkpoint-every", "20")
    deadline = time.time() + 300  # generous: a loaded 2-core CI machine imports torch slowly
    while time.time() < deadline and proc.poll() is None:  # kill it once a checkpoint after the first cut exists
        ck = run / CHECKPOINT_FILE
        if ck.exists():
            try:
                if load_checkpoint(run)["step"] >= 120:
                    break
            except Exception:  # being replaced right now; the rename is atomic, so retry
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    state = load_checkpoint(run)
    assert 120 <= state["step"] < 400, "the fit must have been interrupted mid-run"
    assert not (run / "metrics.json").exists()
    # SIGKILL can land while a checkpoint is being written: its scratch (.checkpoint.R.tmp) may stay, never
    # a half-written checkpoint; the resume, taking the lock afresh, removes it (planted here so it always runs)
    leftovers = {p.name for p in run.iterdir() if ".tmp" in p.name}
    stem = re.escape(Path(CHECKPOINT_FILE).stem)
    assert all(re.fullmatch(rf"\.{stem}\.[a-z0-9_]{{8}}\.tmp", n) for n in leftovers), leftovers
    (run / f".{Path(CHECKPOINT_FILE).stem}.deadbeef.tmp").write_bytes(b"half a checkpoint")
    resumed = _aire("fit", "--resume", run)
    assert resumed.wait(300) == 0, resumed.stderr.read()
    assert not [p for p in run.iterdir() if ".tmp" in p.name], "the resume must remove the killed writer's scratch"
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert a["architecture_final"] == b["architecture_final"] and a["params_final"] == b["params_final"]
    assert a["psnr"] == b["psnr"]
    assert a["architecture_initial"] == b["architecture_initial"]
    assert torch.equal(next(aire.load(run).parameters()), next(aire.load(tmp_path / "whole").parameters()))


def test_resume_without_checkpoint_is_one_line(tmp_path):
    done = _aire("fit", "--resume", tmp_path)
    assert done.wait(60) == 2
    err = done.stderr.read().strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0]


class NaNInjector:
    """A test plugin that poisons the network once, as a diverging fit would."""

    def __init__(self, at_step: int, times: int = 1):
        self.at_step, self.times = at_step, times

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        if step == self.at_step and self.times > 0:
            self.times -= 1
            with torch.no_grad():
                trainer.network.weights[1].fill_(float("nan"))


def _fit_with(plugin, steps=120, **train):
    signal = ImageSignal(image=synthetic_image(16))
    net = aire.build_network(signal, [12, 12])
    reg = aire.get_registry()
    reg.pm.register(plugin, name="nan-injector")
    try:
        with recorded_notices() as messages:
            result = aire.fit(signal, net, steps=steps, eval_every=20, progress=False,
                              schedule=aire.ScheduleConfig(kind="none"), **train)
    finally:
        reg.pm.unregister(name="nan-injector")
    return result, messages


def test_nan_loss_rolls_back_lowers_the_lr_and_finishes():
    result, messages = _fit_with(NaNInjector(at_step=45))
    assert result.metrics["rollbacks"] == 1 and not result.metrics["diverged"]
    rollback = [e for e in result.events if e["event"] == "rollback"]
    assert rollback[0]["failed_at"] in range(45, 50) and rollback[0]["to_step"] == 40
    assert any("rolled back to step 40" in m for m in messages)
    assert math.isfinite(result.metrics["psnr"])
    assert all(torch.isfinite(p).all() for p in result.network.parameters())
    assert result.metrics["steps_completed"] == 120


def test_repeated_divergence_stops_with_the_last_good_model():
    result, messages = _fit_with(NaNInjector(at_step=65, times=10), guard_max_failures=2)
    assert result.metrics["diverged"] and result.metrics["rollbacks"] == 3
    assert result.metrics["steps_completed"] == 60
    assert all(torch.isfinite(p).all() for p in result.network.parameters())
    assert math.isfinite(result.metrics["psnr"])
    assert any("stopping with the last good model" in m for m in messages)


def test_without_the_guard_nan_propagates():
    result, _ = _fit_with(NaNInjector(at_step=45), guard=False)
    assert not all(torch.isfinite(p).all() for p in result.network.parameters())


class Kill:
    """A test plugin that stops the process's fit at a step, as a kill would."""

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        if step == 61:
            raise RuntimeError("killed")


def test_a_rollback_after_a_resume_returns_to_the_last_good_evaluation(tmp_path):
    """Evaluations every 50 steps, a checkpoint at 60, a divergence at 65: the resumed fit rolls back to
    step 50 (the last good evaluation, kept in the checkpoint by the guard), not to the checkpoint's 60,
    and ends exactly as the uninterrupted fit does."""
    signal = ImageSignal(image=synthetic_image(16))
    settings = dict(steps=120, eval_every=50, checkpoint_every=60, batch_size=64, seed=1, progress=False,
                    schedule=aire.ScheduleConfig(kind="none"))
    reg = aire.get_registry()

    def fit(plugins, **kw):
        for name, plugin in plugins.items():
            reg.pm.register(plugin, name=name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return aire.fit(signal, aire.build_network(signal, [12, 12]), **settings, **kw)
        finally:
            for name in plugins:
                reg.pm.unregister(name=name)

    whole = fit({"nan-injector": NaNInjector(at_step=65)}, checkpoint_dir=tmp_path / "whole")
    with pytest.raises(PluginError, match="killed"):
        fit({"kill": Kill()}, checkpoint_dir=tmp_path / "killed")
    state = load_checkpoint(tmp_path / "killed")
    assert state["step"] == 60
    resumed = fit({"nan-injector": NaNInjector(at_step=65)}, resume=state)
    for result in (whole, resumed):
        rollbacks = [e for e in result.events if e["event"] == "rollback"]
        assert [(e["failed_at"], e["to_step"]) for e in rollbacks] == [(69, 50)]
        assert result.metrics["rollbacks"] == 1 and result.metrics["steps_completed"] == 120
    for a, b in zip(whole.network.parameters(), resumed.network.parameters()):
        assert torch.equal(a, b)
    assert [r["step"] for r in resumed.history] == [0, 50, 100, 120]
