"""Saving and loading fitted models: model.safetensors (every tensor) plus model.json (architecture).

A model that is more than its network (aire.interfaces.Model, e.g. NeRF's field + colour head) adds
its other tensors to model.safetensors under their state_dict names (``head.hidden.weight``...) and
``"model": {"kind": ..., "settings": {...}}`` to model.json; `load` rebuilds it whole.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from aire.config import NetworkConfig
from aire.errors import InputError
from aire.nn.sine_mlp import SineMLP

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
FORMAT_VERSION = 1


def save_model(model: torch.nn.Module, out_dir: str | Path) -> list[Path]:
    """Write a fitted model into out_dir: a network as by save_network, an aire.interfaces.Model as
    its field plus its other tensors and a "model" section in model.json (see the module docstring)."""
    from aire.interfaces import Model
    from aire.train.state import model_extras

    if not isinstance(model, Model):
        return save_network(model, out_dir)  # type: ignore[arg-type]
    extras = {k: v.detach().cpu().contiguous() for k, v in model_extras(model, model.field).items()}
    section = {"kind": model.kind, "settings": model.settings(), "tensors": sorted(extras)}
    return save_network(model.field, out_dir, extra={"model": section}, tensors=extras)  # type: ignore[arg-type]


def save_network(network: SineMLP, out_dir: str | Path, extra: dict[str, Any] | None = None,
                 tensors: dict[str, torch.Tensor] | None = None) -> list[Path]:
    """Write the weights (safetensors; plus `tensors` under their own names) and the architecture
    (JSON; plus the `extra` keys) into out_dir."""
    out_dir = Path(out_dir)
    tensors = dict(tensors or {})
    for i, (w, b) in enumerate(zip(network.weights, network.biases)):
        tensors[f"layers.{i}.weight"] = w.detach().cpu().contiguous()
        tensors[f"layers.{i}.bias"] = b.detach().cpu().contiguous()
    model_path, config_path = out_dir / MODEL_FILE, out_dir / CONFIG_FILE
    # serialised in memory, written by Python: a full disk is an OSError (aire.atomic.write_errors names it)
    model_path.write_bytes(save(tensors, metadata={"format": "aire", "version": str(FORMAT_VERSION)}))
    config = {"format_version": FORMAT_VERSION, **network.architecture(),
              "encoding_settings": network.encoding.settings(), **(extra or {})}
    config_path.write_text(json.dumps(config, indent=2))
    return [model_path, config_path]


def run_inputs(run_dir: str | Path) -> list[Path]:
    """The input files or folders a run folder records (its metrics.json and signal.json), which no
    later output may replace; empty when none is recorded or the files are unreadable."""
    found: list[Path] = []
    for name, keys in (("metrics.json", ("signal", "path")), ("signal.json", ("path",))):
        try:
            value: Any = json.loads((Path(run_dir) / name).read_text())
            for key in keys:
                value = value[key]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(value, str) and value:
            found.append(Path(value))
    return found


def _network_config(config: Any, path: Path) -> NetworkConfig:
    """The NetworkConfig a model.json declares; one line naming the file for a missing key or bad value."""
    from aire.config import ConfigError

    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a JSON object")
    for key in ("in_features", "out_features", "widths", "omega0_first", "omega0_hidden"):
        if key not in config:
            raise InputError(f"{path}: key {key!r} is missing")
    try:
        return NetworkConfig(
            in_features=config["in_features"], out_features=config["out_features"], widths=tuple(config["widths"]),
            omega0_first=config["omega0_first"], omega0_hidden=config["omega0_hidden"],
            network=config.get("network", "siren"), encoding=config.get("encoding", "siren"))
    except (ConfigError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None


def load(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load a fitted model from a run directory (or its model.safetensors) as a torch Module in eval mode:
    the network (a SineMLP) of an image or SDF run, the whole model of a run whose model.json has a
    "model" section (a NeRF run: aire.signals.nerf.model.NerfModel, whose ``field`` is the network
    and whose ``render_view(c2w, intrinsics)`` renders an image).

    Raises InputError (one line naming the file) when the files are missing or unreadable, when
    model.json lacks a key or declares widths the tensors do not have, when a weight is NaN or
    infinite, when the model section names an unknown kind, has a bad setting or does not match the
    tensors, and when `device` cannot be used here (aire.devices.resolve_device).
    """
    from aire.devices import resolve_device
    from aire.nn.factory import network_from_config

    device = resolve_device(str(device), option="device")

    path = Path(path)
    run_dir = path.parent if path.suffix == ".safetensors" else path
    model_path, config_path = run_dir / MODEL_FILE, run_dir / CONFIG_FILE
    if not model_path.exists() or not config_path.exists():
        raise InputError(f"no fitted model in {run_dir} (need {MODEL_FILE} and {CONFIG_FILE})")
    try:
        config = json.loads(config_path.read_text())
        tensors = load_file(str(model_path))
    except Exception as exc:
        raise InputError(f"cannot read model in {run_dir}: {type(exc).__name__}: {exc}") from None
    net_config = _network_config(config, config_path)
    n_layers = len(net_config.widths) + 1
    sizes = [net_config.in_features, *net_config.widths, net_config.out_features]
    for i in range(n_layers):
        for name, shape in ((f"layers.{i}.weight", (sizes[i + 1], sizes[i])), (f"layers.{i}.bias", (sizes[i + 1],))):
            tensor = tensors.get(name)
            if tensor is None:
                raise InputError(f"{model_path}: tensor {name} is missing")
            if tuple(tensor.shape) != shape:
                raise InputError(f"{model_path}: {name} has shape {tuple(tensor.shape)} but {config_path.name} "
                                 f"declares {shape}")
            if not torch.isfinite(tensor).all():
                raise InputError(f"{model_path}: {name} contains NaN or infinite values")
    network = network_from_config(net_config, seed=0, **config.get("encoding_settings", {}))
    with torch.no_grad():
        for i in range(n_layers):
            network.weights[i].data = tensors[f"layers.{i}.weight"].clone()
            network.biases[i].data = tensors[f"layers.{i}.bias"].clone()
    layers = {f"layers.{i}.{kind}" for i in range(n_layers) for kind in ("weight", "bias")}
    if "model" not in config:
        return network.to(device).eval()
    model = _rebuild_model(network, config["model"], config_path)
    _put_model_tensors(model, network, {k: v for k, v in tensors.items() if k not in layers}, model_path, config_path)
    return model.to(device).eval()


def _rebuild_model(network: SineMLP, section: Any, config_path: Path) -> torch.nn.Module:
    """The model model.json's "model" section describes, around `network` (its other tensors fresh)."""
    from aire.interfaces import Model
    from aire.plugins import get_registry

    if not isinstance(section, dict) or not isinstance(section.get("kind"), str):
        raise InputError(f"{config_path}: \"model\" must be an object with a \"kind\" string")
    kind = section["kind"]
    component = get_registry().find("signal", kind)
    cls = getattr(component.factory, "model_class", None) if component is not None else None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise InputError(f"{config_path}: model kind {kind!r} is not provided by any installed signal plugin")
    try:
        return cls.from_settings(network, section.get("settings", {}))
    except InputError as exc:
        raise InputError(f"{config_path}: {exc}") from None


def _put_model_tensors(model: torch.nn.Module, network: SineMLP, saved: dict[str, torch.Tensor], model_path: Path,
                       config_path: Path) -> None:
    """Copy the saved non-network tensors into the model; their names and shapes must be the model's."""
    from aire.train.state import model_extras

    extras = model_extras(model, network)
    for name, tensor in extras.items():
        if name not in saved:
            raise InputError(f"{model_path}: tensor {name} is missing")
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise InputError(f"{model_path}: {name} has shape {tuple(saved[name].shape)} but {config_path.name} "
                             f"declares {tuple(tensor.shape)}")
        if not torch.isfinite(saved[name]).all():
            raise InputError(f"{model_path}: {name} contains NaN or infinite values")
    unknown = sorted(set(saved) - set(extras))
    if unknown:
        raise InputError(f"{model_path}: tensor {unknown[0]} is not part of the model {config_path.name} declares")
    with torch.no_grad():
        for name, tensor in extras.items():
            tensor.copy_(saved[name])


def field_of(model: torch.nn.Module) -> SineMLP:
    """The adaptive network of a loaded model: `model.field` of an aire.interfaces.Model (a NeRF
    model's radiance field), else the model itself."""
    from aire.interfaces import Model

    return model.field if isinstance(model, Model) else model  # type: ignore[return-value]


def jsonable(value: Any) -> Any:
    """Strict JSON data: tuples and sets as lists, tensor/numpy scalars as numbers, NaN and
    infinities (a diverged or unguarded fit) as null, anything else by its str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "item"):
        return jsonable(value.item())
    return str(value)
