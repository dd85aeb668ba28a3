"""Trainer state as plain data: snapshots for the divergence guard, checkpoints for resume.

A state is taken at the top of a step (before that step's prune/densify events) and holds the
network tensors (their shapes are the architecture), the optimizer's state, the schedule's state,
the history and both RNG states, so a restored trainer continues bit-for-bit on the same device.
Checkpoints are written atomically: to a temporary file in the same folder, then renamed.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT_VERSION = 1


def capture(trainer: Any) -> dict[str, Any]:
    """A deep copy of everything the loop needs to continue from the top of `trainer.step`."""
    net = trainer.network
    return {
        "format_version": FORMAT_VERSION,
        "step": trainer.step,
        "architecture": net.architecture(),
        "weights": [w.detach().clone() for w in net.weights],
        "biases": [b.detach().clone() for b in net.biases],
        "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
        "extra_modules": [copy.deepcopy(m.state_dict()) for m in trainer.signal.extra_modules()],
        "schedule_state": {
            "twd_targets": {k: v.clone() for k, v in trainer.twd_targets.items()},
            "twd_phase": trainer.twd_phase,
            "protected": trainer.protected.clone(),
            "lr_origin": trainer._lr_origin,
            "lr_scale": trainer.lr_scale,
            "rollbacks": trainer.rollbacks,
            "best_loss": trainer.best_loss,
        },
        "history": copy.deepcopy(trainer.history),
        "events": copy.deepcopy(trainer.events),
        "initial_params": trainer.initial_params,
        "initial_architecture": list(trainer.initial_architecture),
        "elapsed": trainer.elapsed(),
        "rng": {"torch": torch.get_rng_state(), "generator": trainer.generator.get_state(),
                # on-device draws (NeRF jitter on a GPU) come from the CUDA generators
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None},
    }


def restore(trainer: Any, state: dict[str, Any]) -> None:
    """Put `state` back into `trainer`: tensors of the saved shapes, a fresh optimizer loaded with
    the saved moments, the schedule state, history and RNGs."""
    from aire.train.trainer import make_optimizer

    net = trainer.network
    device = net.weights[0].device
    if len(state["weights"]) != len(net.weights):
        raise ValueError("checkpoint has a different number of layers than the network")
    for i, (w, b) in enumerate(zip(state["weights"], state["biases"])):
        grad = net.weights[i].requires_grad
        net.weights[i] = nn.Parameter(w.clone().to(device), requires_grad=grad)
        net.biases[i] = nn.Parameter(b.clone().to(device), requires_grad=grad)
    extra = trainer.signal.extra_modules()
    for module, saved in zip(extra, state.get("extra_modules", [])):
        module.load_state_dict(saved)
    trainer.optimizer = make_optimizer(net, trainer.train_config.lr, extra)
    trainer.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
    s = state["schedule_state"]
    trainer.twd_targets = {int(k): v.clone().to(device) for k, v in s["twd_targets"].items()}
    trainer.twd_phase = None if s["twd_phase"] is None else tuple(s["twd_phase"])
    trainer.protected = s["protected"].clone()
    trainer._lr_origin = s["lr_origin"]
    trainer.lr_scale = s["lr_scale"]
    trainer.rollbacks = s["rollbacks"]
    trainer.best_loss = s["best_loss"]
    trainer.history = copy.deepcopy(state["history"])
    trainer.events = copy.deepcopy(state["events"])
    trainer.initial_params = state["initial_params"]
    trainer.initial_architecture = list(state["initial_architecture"])
    trainer.step = state["step"]
    trainer.set_elapsed(state["elapsed"])
    torch.set_rng_state(state["rng"]["torch"])
    trainer.generator.set_state(state["rng"]["generator"])
    cuda_states = state["rng"].get("cuda")
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
    elif cuda_states and device.type == "cuda":
        import warnings

        warnings.warn("the checkpoint's CUDA random state does not fit this machine's GPUs and was dropped: "
                      "on-device random draws will differ from an uninterrupted fit", stacklevel=2)


def save_checkpoint(state: dict[str, Any], directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write state (+ extra, e.g. the command's settings) to DIR/checkpoint.pt atomically, holding
    DIR's one-writer lock (aire.lock; re-entrant, so a run that holds it writes freely).

    The state is serialised in memory and written by Python's own file write, so a full disk is an
    OSError that ends as InputError ``cannot write DIR/checkpoint.pt: No space left on device``
    (aire.atomic.write_errors), with the previous checkpoint intact, no temporary file left, and a
    folder this call created removed again. A folder this creates (or finds empty) is marked as
    aire's, so a later run may replace it."""
    import io
    import shutil

    from aire.atomic import one_writer, write_errors, write_marker

    directory = Path(directory)
    target = directory / CHECKPOINT_FILE
    buffer = io.BytesIO()
    torch.save({**state, "extra": extra or {}}, buffer)
    with one_writer(directory), write_errors(target, places=[directory]):
        created = not directory.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not any(directory.iterdir()):
                write_marker(directory, "checkpoint")
            fd, tmp = tempfile.mkstemp(prefix=".checkpoint.", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(buffer.getbuffer())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except BaseException:
            if created:  # the first checkpoint failed: leave no empty output folder behind
                shutil.rmtree(directory, ignore_errors=True)
            raise
    return target


def load_checkpoint(directory: str | Path) -> dict[str, Any]:
    """Read DIR/checkpoint.pt with every tensor on the CPU (raises InputError when missing or unreadable)."""
    from aire.errors import InputError

    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise InputError(f"no checkpoint to resume in {directory} (expected {CHECKPOINT_FILE})")
    try:
        # every tensor to the CPU first: a checkpoint written on a GPU resumes on a CPU-only machine,
        # and restore() moves the tensors to the device the fit runs on
        state = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:
        raise InputError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if state.get("format_version") != FORMAT_VERSION:
        raise InputError(f"checkpoint {path} has format {state.get('format_version')}, expected {FORMAT_VERSION}")
    return state
