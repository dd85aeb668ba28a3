"""Checkpointing: written at the top of every N-th step before the last, atomically, with the extra."""

from __future__ import annotations

from aire.train.callbacks import Checkpointing
import torch

from aire.train.state import CHECKPOINT_FILE, FORMAT_VERSION


def _read(folder):
    """The written file as saved (the fake state is not a whole checkpoint, which load_checkpoint checks)."""
    return torch.load(folder / CHECKPOINT_FILE, weights_only=False)


class FakeTrainer:
    def __init__(self):
        self.step = 0

    def state_dict(self, exclude=None):
        return {"format_version": FORMAT_VERSION, "step": self.step}


def test_due_every_n_steps_but_not_at_the_start_or_the_end():
    checkpointing = Checkpointing("unused", every=20, steps=60)
    assert [s for s in range(61) if checkpointing.due(s)] == [20, 40]


def test_writes_the_trainers_state_and_the_extra_at_due_steps(tmp_path):
    checkpointing = Checkpointing(tmp_path / "run", every=20, steps=60, extra={"cli_args": {"seed": 3}})
    trainer = FakeTrainer()
    written = []
    for step in range(1, 61):
        trainer.step = step
        checkpointing.on_step_end(trainer, step)
        if (tmp_path / "run" / CHECKPOINT_FILE).exists():
            written.append(_read(tmp_path / "run")["step"])
    assert sorted(set(written)) == [20, 40] and written[-1] == 40
    state = _read(tmp_path / "run")
    assert state["extra"] == {"cli_args": {"seed": 3}}
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
    assert checkpointing.state_dict() == {}
