"""Backends for array maths outside training (Bessel functions, amplitudes, spectra)."""

from __future__ import annotations

from typing import Any

from aire.errors import InputError
from aire.interfaces import Backend
from aire.plugins import create, get_registry


def get_backend(name: str = "auto", **settings: Any) -> Backend:
    """A backend plugin instance by name: 'torch', 'cupy' (when installed), or 'auto' (cupy when it
    and a GPU are present, else torch)."""
    if name == "auto":
        cupy = get_registry().find("backend", "cupy")
        if cupy is not None and getattr(cupy.factory, "available", lambda: False)():
            return create("backend", "cupy", **settings)
        return create("backend", "torch", **settings)
    try:
        return create("backend", name, **settings)
    except RuntimeError as exc:  # e.g. cupy without a GPU: a user-facing one-liner
        raise InputError(f"backend {name!r} is not usable here: {exc}") from exc
