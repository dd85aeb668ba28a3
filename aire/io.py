"""Saving and loading fitted networks: model.safetensors plus model.json (architecture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from aire.config import NetworkConfig
from aire.errors import InputError
from aire.nn.sine_mlp import SineMLP

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
FORMAT_VERSION = 1


def save_network(network: SineMLP, out_dir: str | Path, extra: dict[str, Any] | None = None) -> list[Path]:
    """Write the weights (safetensors) and the architecture (JSON) into out_dir."""
    out_dir = Path(out_dir)
    tensors = {}
    for i, (w, b) in enumerate(zip(network.weights, network.biases)):
        tensors[f"layers.{i}.weight"] = w.detach().cpu().contiguous()
        tensors[f"layers.{i}.bias"] = b.detach().cpu().contiguous()
    model_path, config_path = out_dir / MODEL_FILE, out_dir / CONFIG_FILE
    save_file(tensors, str(model_path), metadata={"format": "aire", "version": str(FORMAT_VERSION)})
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


def load(path: str | Path, device: str | torch.device = "cpu") -> SineMLP:
    """Load a fitted network from a run directory (or its model.safetensors, or a compact copy such as
    model.int8.safetensors, dequantised to float32; see aire.quantize) as a torch Module in eval mode.

    Raises InputError (one line naming the file) when the files are missing or unreadable, when
    model.json lacks a key or declares widths the tensors do not have, when a weight is NaN or
    infinite, and when `device` cannot be used here (aire.devices.resolve_device).
    """
    from aire.devices import resolve_device
    from aire.nn.factory import network_from_config

    device = resolve_device(str(device), option="device")

    path = Path(path)
    run_dir = path.parent if path.suffix == ".safetensors" else path
    model_path, config_path = (path if path.suffix == ".safetensors" else run_dir / MODEL_FILE), run_dir / CONFIG_FILE
    if not model_path.exists() or not config_path.exists():
        raise InputError(f"no fitted model in {run_dir} (need {model_path.name} and {CONFIG_FILE})")
    try:
        config = json.loads(config_path.read_text())
        tensors = load_file(str(model_path))
    except Exception as exc:
        raise InputError(f"cannot read model in {run_dir}: {type(exc).__name__}: {exc}") from None
    from aire.quantize import dequantize, read_precision

    precision = read_precision(model_path)
    if precision != "fp32":  # a compact copy (model.int8.safetensors, ...): dequantised to float32
        tensors = dequantize(tensors, precision)
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
    return network.to(device).eval()
