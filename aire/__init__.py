"""aire: adaptive implicit neural representations (pruning with targeted weight decay, densification).

The public names below are imported on first use (PEP 562), so ``import aire`` and ``aire --help``
do not pay for torch and matplotlib until something needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "build_network": "aire.api", "check_out_dir": "aire.api", "fit": "aire.api", "get_backend": "aire.api",
    "save_run": "aire.api",
    "ConfigError": "aire.config", "NetworkConfig": "aire.config", "ScheduleConfig": "aire.config",
    "TrainConfig": "aire.config",
    "InputError": "aire.errors",
    "API_VERSION": "aire.hookspecs", "hookimpl": "aire.hookspecs",
    "load": "aire.io",
    "create": "aire.plugins", "get_registry": "aire.plugins",
    "FitSpec": "aire.spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
