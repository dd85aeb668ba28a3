"""aire: adaptive implicit neural representations (pruning with targeted weight decay, densification)."""

from aire.api import build_network, check_out_dir, fit, get_backend, save_run
from aire.config import ConfigError, NetworkConfig, ScheduleConfig, TrainConfig
from aire.errors import InputError
from aire.hookspecs import API_VERSION, hookimpl
from aire.io import load
from aire.plugins import create, get_registry

__version__ = "0.1.0"


__all__ = [
    "API_VERSION", "ConfigError", "InputError", "NetworkConfig", "ScheduleConfig", "TrainConfig",
    "build_network", "check_out_dir", "create", "fit", "get_backend", "get_registry", "hookimpl", "load", "save_run",
]
