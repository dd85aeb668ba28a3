"""Trainer state and checkpoints: each callback saves its own part, a mid-run state resumes exactly
(inside a TWD phase too), and a checkpoint of an older format is refused in one line."""

from __future__ import annotations

import warnings

import pytest
import torch

import aire
from aire.errors import InputError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.state import CHECKPOINT_FILE, FORMAT_VERSION, load_checkpoint, save_checkpoint
from aire.train.trainer import Trainer

SCHEDULE = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=2, twd_length=0.2, cycle_gap=0.1, densify_k=2, target_params=0.7)


def _fit(tmp_path=None, resume=None):
    signal = ImageSignal(image=synthetic_image(16))
    net = aire.build_network(signal, [12, 12, 12], seed=1)
    train = aire.TrainConfig(steps=100, eval_every=25, batch_size=96, seed=2, progress=False, checkpoint_every=20)
    trainer = Trainer(signal, net, train, SCHEDULE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 20-step TWD phases leave targets above epsilon
        return trainer, trainer.fit(resume=resume, checkpoint_dir=tmp_path)


def _without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_a_mid_twd_state_resumes_bit_identically(tmp_path):
    """The checkpoint at step 20 falls inside the first TWD phase (steps 10-30): the schedule's
    targets, the generators and the optimizer's moments must all come back."""
    _, whole = _fit()
    _fit(tmp_path)  # a checkpointing fit leaves its last checkpoint, at step 80
    late = load_checkpoint(tmp_path)
    early = _checkpoint_at(20)
    assert late["step"] == 80 and early["step"] == 20
    assert early["callbacks"]["schedule"]["twd_phase"] == (10, 20) and early["callbacks"]["schedule"]["twd_targets"]
    for resume in (early, late):
        _, resumed = _fit(resume=resume)
        for a, b in zip(whole.network.parameters(), resumed.network.parameters()):
            assert torch.equal(a, b)
        assert _without_seconds(resumed.history) == _without_seconds(whole.history)
        assert resumed.events == whole.events and resumed.metrics["psnr"] == whole.metrics["psnr"]


def _checkpoint_at(step):
    """The state a checkpointing fit writes at the top of `step`."""
    class Grab(aire.interfaces.Callback):
        def on_step_end(self, trainer, at):
            if at == step:
                self.state = trainer.state_dict()

    signal = ImageSignal(image=synthetic_image(16))
    net = aire.build_network(signal, [12, 12, 12], seed=1)
    train = aire.TrainConfig(steps=100, eval_every=25, batch_size=96, seed=2, progress=False)
    grab = Grab()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(signal, net, train, SCHEDULE, callbacks=[grab]).fit()
    return grab.state


def test_the_state_holds_what_each_callback_saves_for_itself():
    state = _checkpoint_at(50)
    assert state["format_version"] == FORMAT_VERSION and state["step"] == 50
    assert set(state["callbacks"]) == {"schedule", "evaluation", "guard"}  # progress, compile: no state
    assert [row["step"] for row in state["callbacks"]["evaluation"]["history"]] == [0, 25, 50]
    guard = state["callbacks"]["guard"]
    assert guard["snapshot"]["step"] == 50 and "guard" not in guard["snapshot"]["callbacks"]
    assert set(state["rng"]) == {"generator", "device_generator", "device"} and "torch" not in state["rng"]


def test_a_checkpoint_of_an_older_format_is_refused_in_one_line(tmp_path):
    save_checkpoint({"format_version": 1, "step": 20}, tmp_path)
    with pytest.raises(InputError) as error:
        load_checkpoint(tmp_path)
    message = str(error.value)
    assert "\n" not in message and "format 1" in message and f"format {FORMAT_VERSION}" in message
    assert (tmp_path / CHECKPOINT_FILE).is_file()  # refused, not deleted
