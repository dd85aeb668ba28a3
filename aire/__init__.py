"""aire: adaptive implicit neural representations (pruning with targeted weight decay, densification)."""

from aire.api import build_network, check_out_dir, fit, save_run
from aire.config import ConfigError, NetworkConfig, ScheduleConfig, TrainConfig
from aire.errors import InputError
from aire.hookspecs import API_VERSION, hookimpl
from aire.io import load
from aire.plugins import create, get_registry

__version__ = "0.1.0"


def get_backend(name: str = "auto", **settings):
    """A backend plugin instance by name: 'torch', 'cupy' (when installed), or 'auto' (cupy when it
    and a GPU are present, else torch)."""
    if name == "auto":
        comps = get_registry().components("backend")
        cupy = comps.get("cupy")
        if cupy is not None and getattr(cupy.factory, "available", lambda: False)():
            return create("backend", "cupy", **settings)
        return create("backend", "torch", **settings)
    try:
        return create("backend", name, **settings)
    except RuntimeError as exc:  # e.g. cupy without a GPU: a user-facing one-liner
        raise InputError(f"backend {name!r} is not usable here: {exc}") from exc


__all__ = [
    "API_VERSION", "ConfigError", "InputError", "NetworkConfig", "ScheduleConfig", "TrainConfig",
    "build_network", "check_out_dir", "create", "fit", "get_backend", "get_registry", "hookimpl", "load", "save_run",
]
