"""Trainer state as plain data: snapshots for the divergence guard, checkpoints for resume.

A state (``Trainer.state_dict``) is taken at the top of a step (before that step's prune/densify)
and holds the network tensors (their shapes are the architecture), the optimizer's state, the
trainer's generators, events and clock, and under "callbacks" what each callback saves for itself
(the schedule's TWD state, the evaluation history, the guard's last good snapshot), so a restored
trainer continues bit for bit on the same device. torch's global RNG is neither saved nor set: the
loop draws only from its own generators. Checkpoints are written atomically: to a temporary file
in the same folder, then renamed.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aire.errors import InputError

CHECKPOINT_FILE = "checkpoint.pt"
#: 2: per-callback state under "callbacks", the trainer's own generators (no global RNG)
FORMAT_VERSION = 2


def model_extras(model: nn.Module | None, network: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of `model` (by their state_dict names) that are not the network's, e.g. NeRF's
    colour head ``head.hidden.weight``...; empty when the model is the network (images, SDFs)."""
    if model is None or model is network:
        return {}
    own = {id(t) for t in network.state_dict(keep_vars=True).values()}
    return {k: v for k, v in model.state_dict(keep_vars=True).items() if id(v) not in own}


def model_state(network: Any, optimizer: torch.optim.Optimizer, model: nn.Module | None = None) -> dict[str, Any]:
    """Deep copies of the network's tensors (their shapes are the architecture), the optimizer's
    state and the model's other tensors (``signal.make_model(network)``; None: the network alone)."""
    return {
        "architecture": network.architecture(),
        "weights": [w.detach().clone() for w in network.weights],
        "biases": [b.detach().clone() for b in network.biases],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "model_extras": {k: v.detach().clone() for k, v in model_extras(model, network).items()},
    }


def load_model_state(network: Any, state: dict[str, Any], model: nn.Module | None = None) -> None:
    """Put saved tensors (of the saved shapes) into `network` and the model's other tensors, in
    place; the caller builds a fresh optimizer over the new parameters and loads ``state["optimizer"]``.
    Raises InputError when the state holds a different number of layers or other model tensors than
    the model has (a checkpoint of another kind of model, or of an older aire)."""
    device = network.weights[0].device
    if len(state["weights"]) != len(network.weights):
        raise InputError("checkpoint has a different number of layers than the network")
    extras, saved = model_extras(model, network), state.get("model_extras", {})
    if set(extras) != set(saved):
        raise InputError(f"checkpoint holds model tensors {sorted(saved)} but the model has {sorted(extras)}: "
                         "it was written for another model (or by an older aire); start the fit again")
    for name, tensor in saved.items():
        if tuple(tensor.shape) != tuple(extras[name].shape):
            raise InputError(f"checkpoint tensor {name} has shape {tuple(tensor.shape)}, the model's "
                             f"{tuple(extras[name].shape)}")
    for i, (w, b) in enumerate(zip(state["weights"], state["biases"])):
        grad = network.weights[i].requires_grad
        network.weights[i] = nn.Parameter(w.clone().to(device), requires_grad=grad)
        network.biases[i] = nn.Parameter(b.clone().to(device), requires_grad=grad)
    with torch.no_grad():
        for name, tensor in saved.items():
            extras[name].copy_(tensor)


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

    from aire.atomic import one_writer, process_umask, register, write_errors, write_marker

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
            os.chmod(tmp, 0o666 & ~process_umask())  # as open() would make it, not mkstemp's 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(buffer.getbuffer())
                os.replace(tmp, target)
                register(target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except BaseException:
            if created:  # the first checkpoint failed: leave no empty output folder behind
                shutil.rmtree(directory, ignore_errors=True)
            raise
    return target


def load_checkpoint(directory: str | Path) -> dict[str, Any]:
    """Read DIR/checkpoint.pt with every tensor on the CPU; InputError (one line naming the file) when it
    is missing, unreadable, of another format or damaged (:func:`check_checkpoint`)."""

    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise InputError(f"no checkpoint to resume in {directory} (expected {CHECKPOINT_FILE})")
    try:
        # every tensor to the CPU first: a checkpoint written on a GPU resumes on a CPU-only machine,
        # and restore() moves the tensors to the device the fit runs on
        state = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:
        raise InputError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} is not an aire checkpoint (it holds a {type(state).__name__})")
    if state.get("format_version") != FORMAT_VERSION:
        raise InputError(f"checkpoint {path} has format {state.get('format_version')}, this aire reads format "
                         f"{FORMAT_VERSION} only: start the fit again")
    check_checkpoint(state, path)
    return state


#: what every checkpoint holds at its top level
REQUIRED_KEYS = ("step", "weights", "biases", "optimizer", "events", "initial_params", "initial_architecture",
                 "elapsed", "rng", "callbacks")


def check_checkpoint(state: dict[str, Any], path: Path) -> None:
    """One-line InputError naming the file for a checkpoint that lacks a key, whose tensors do not
    chain into one network (layer i's input width is layer i-1's output width, biases match), or
    that holds NaN or infinite weights."""
    for key in REQUIRED_KEYS:
        if key not in state:
            raise InputError(f"checkpoint {path} is damaged: key {key!r} is missing")
    weights, biases = state["weights"], state["biases"]
    if not isinstance(weights, list) or not isinstance(biases, list) or not weights or len(weights) != len(biases):
        raise InputError(f"checkpoint {path} is damaged: its weights and biases are not matching lists of tensors")
    for i, (w, b) in enumerate(zip(weights, biases)):
        if not (torch.is_tensor(w) and torch.is_tensor(b)) or w.ndim != 2 or b.shape != (w.shape[0],):
            raise InputError(f"checkpoint {path} is damaged: layer {i} has weight {tuple(getattr(w, 'shape', ()))} "
                             f"and bias {tuple(getattr(b, 'shape', ()))}")
        if i and w.shape[1] != weights[i - 1].shape[0]:
            raise InputError(f"checkpoint {path} is damaged: layer {i} takes {w.shape[1]} inputs but layer {i - 1} "
                             f"has {weights[i - 1].shape[0]} neurons")
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise InputError(f"checkpoint {path} holds NaN or infinite weights in layer {i}")
    if not isinstance(state["step"], int) or state["step"] < 0:
        raise InputError(f"checkpoint {path} is damaged: step {state['step']!r}")
