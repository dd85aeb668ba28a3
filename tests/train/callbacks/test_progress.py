"""The progress bar: starts where a resumed fit stands, shows the quality and the parameter count."""

from __future__ import annotations

import io
import os
import select

import pytest

from aire.train.callbacks import ProgressBar
from aire.train.callbacks.progress import FALLBACK_COLUMNS


class FakeTrainer:
    step = 30


def test_the_bar_follows_the_steps_and_shows_the_quality():
    out = io.StringIO()
    progress = ProgressBar(steps=100, quality_key="psnr", file=out)
    trainer = FakeTrainer()
    progress.on_fit_start(trainer)
    assert progress.bar.n == 30 and progress.bar.total == 100  # a resumed fit starts at its step
    trainer.step = 50
    progress.on_evaluate(trainer, {"step": 50, "loss": 0.1, "params": 1234, "psnr": 27.123456, "seconds": 1.0})
    assert progress.bar.n == 50
    assert progress.bar.postfix == "psnr=27.12, params=1234"
    progress.on_train_end(trainer)
    assert progress.bar is None and progress.state_dict() == {}


def test_the_bar_moves_every_step_with_rate_and_time_left():
    out = io.StringIO()
    progress = ProgressBar(steps=10, quality_key="psnr", file=out)
    trainer = FakeTrainer()
    trainer.step = 0
    progress.on_fit_start(trainer)
    progress.bar.mininterval = 0  # draw every update, so the text can be read
    progress.bar.miniters = 1
    for step in range(1, 5):
        trainer.step = step
        progress.on_step_end(trainer, step)
        assert progress.bar.n == step
    shown = out.getvalue().split("\r")[-1]
    assert "4/10" in shown and "step/s" in shown and "<" in shown  # elapsed<remaining
    trainer.step = 2  # a rollback
    progress.on_step_end(trainer, 2)
    assert progress.bar.n == 2
    progress.on_train_end(trainer)


def test_the_parameter_count_follows_each_structural_change_and_the_quality_says_when_it_was_measured():
    progress = ProgressBar(steps=100, quality_key="psnr", file=io.StringIO())
    trainer = FakeTrainer()
    trainer.step, trainer.events = 0, []
    progress.on_fit_start(trainer)
    progress.on_evaluate(trainer, {"step": 0, "loss": None, "params": 643, "psnr": 11.4234, "seconds": 0.0})
    assert progress.bar.postfix == "psnr=11.42, params=643"
    trainer.events.append({"step": 20, "event": "prune", "params": 495})
    trainer.step = 21
    progress.on_step_end(trainer, 21)
    assert progress.bar.postfix == "psnr=11.42 (step 0), params=495"  # before the cut: said so
    trainer.events.append({"step": 30, "event": "twd_start", "params": 495, "targets": {}})
    progress.on_step_end(trainer, 31)
    assert progress.bar.postfix == "psnr=11.42 (step 0), params=495"
    trainer.step = 40
    progress.on_evaluate(trainer, {"step": 40, "loss": 0.1, "params": 495, "psnr": 20.0, "seconds": 1.0})
    assert progress.bar.postfix == "psnr=20, params=495"
    progress.on_step_end(trainer, 41)  # no new event: the evaluation's numbers stay
    assert progress.bar.postfix == "psnr=20, params=495"
    progress.on_train_end(trainer)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_a_terminal_that_reports_no_width_still_shows_the_bar():
    """A pseudo-terminal of size 0 x 0 (what `script` or a CI runner may open) made tqdm's dynamic size -1 x -1
    and the bar draw nothing for the whole fit: it is drawn at a fixed width instead."""
    master, slave = os.openpty()  # a new pty reports 0 rows, 0 columns
    try:
        assert os.get_terminal_size(slave).columns == 0
        with os.fdopen(slave, "w", closefd=False) as terminal:
            progress = ProgressBar(steps=10, quality_key="psnr", file=terminal)
            trainer = FakeTrainer()
            trainer.step = 0
            progress.on_fit_start(trainer)
            assert progress.bar.ncols == FALLBACK_COLUMNS
            progress.bar.mininterval, progress.bar.miniters = 0, 1
            for step in range(1, 4):
                trainer.step = step
                progress.on_step_end(trainer, step)
            terminal.flush()
            written = b""
            while select.select([master], [], [], 5)[0]:  # what the terminal received (never blocks on nothing)
                written += os.read(master, 65536)
                if b"3/10" in written:
                    break
            shown = written.decode("utf-8", "replace").split("\r")
            progress.on_train_end(trainer)
    finally:
        os.close(master)
        os.close(slave)
    drawn = [line for line in shown if "3/10" in line]
    assert drawn and "step/s" in drawn[-1] and len(drawn[-1]) <= FALLBACK_COLUMNS
