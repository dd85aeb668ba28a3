"""Device strings checked the same way by every command: one line for anything this machine cannot use."""

from __future__ import annotations

from aire.errors import InputError


def resolve_device(name: str, option: str = "--device") -> "torch.device":  # noqa: F821 - torch imported lazily
    """The torch.device for `name` (cpu, cuda, cuda:N), refusing in one line (InputError) a name torch
    does not know, a kind aire does not run on (mps, meta, xla, ...) and a CUDA device this machine
    does not have."""
    import torch

    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{option} must name a device such as cpu or cuda:0, got {name!r}")
    try:
        device = torch.device(name.strip())
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"{option} {name!r} is not a device torch knows; use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        if device.index not in (None, 0):
            raise InputError(f"{option} {name!r}: use cpu (torch has one CPU device)")
        return torch.device("cpu")
    if device.type != "cuda":
        raise InputError(f"{option} {name!r}: aire runs on cpu or cuda, not {device.type}")
    if not torch.cuda.is_available():
        raise InputError(f"{option} {name!r}: no CUDA device is available on this machine")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise InputError(f"{option} {name!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device
