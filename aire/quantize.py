"""Compact copies of a fitted network: fp16, bf16, or int8 with one symmetric scale per weight row.

The copy is written beside the float model as ``model.<precision>.safetensors`` (same tensor names,
``layers.N.weight`` / ``layers.N.bias``; the architecture stays in model.json) and read back by
:func:`aire.load`, dequantised to float32.

int8 is per-output-row symmetric linear quantisation (as in LLM.int8 / torch.ao's per-channel
symmetric scheme): for row r, s_r = max_j |W_rj| / 127, q_rj = round(W_rj / s_r) in [-127, 127];
stored as ``layers.N.weight`` (int8) and ``layers.N.weight_scale`` (float32, one per row). Biases stay
float32: they are few, and the first layer's bias is multiplied by omega_0 (30), where int8 rounding
would shift every phase. fp16/bf16 store every tensor in that type.
"""

from __future__ import annotations

from pathlib import Path

import torch

from aire.errors import InputError

#: the precisions `--export-precision` accepts
EXPORT_PRECISIONS = ("fp16", "bf16", "int8")
_FLOAT = {"fp16": torch.float16, "bf16": torch.bfloat16}


def quantized_name(precision: str) -> str:
    """File name of the copy in `precision`: model.fp16.safetensors, ..."""
    return f"model.{precision}.safetensors"


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q int8 of weight's shape, scale float32 per row) with weight ~ q * scale[:, None]; a zero row
    gets scale 1 (its q is 0)."""
    w = weight.detach().float().cpu()
    scale = w.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q, scale


def quantize(tensors: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    """The stored form of `tensors` (layers.N.weight/bias, and a model's other tensors such as NeRF's
    colour head) in `precision`: floating tensors in fp16/bf16, or for int8 every 2-D ``*.weight`` per
    row (others float32); tensors that are not floating point are kept as they are."""
    if precision not in EXPORT_PRECISIONS:
        raise InputError(f"export precision must be one of {', '.join(EXPORT_PRECISIONS)}, got {precision!r}")
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        value = value.detach().cpu()
        if not value.is_floating_point():
            out[name] = value.contiguous()
        elif precision in _FLOAT:
            out[name] = value.to(_FLOAT[precision]).contiguous()
        elif name.endswith(".weight") and value.dim() == 2:
            out[name], out[name + "_scale"] = quantize_int8(value)
        else:
            out[name] = value.float().contiguous()
    return out


def dequantize(stored: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    """float32 layers.N.weight/bias from the stored form in `precision` (InputError when malformed)."""
    if precision in _FLOAT:
        return {k: v.float() if v.is_floating_point() else v for k, v in stored.items()}
    if precision != "int8":
        raise InputError(f"unknown export precision {precision!r}; known: {', '.join(EXPORT_PRECISIONS)}")
    out = {}
    for name, value in stored.items():
        if name.endswith("_scale"):
            continue
        if name.endswith(".weight") and (value.dtype == torch.int8 or name.startswith("layers.")):
            scale = stored.get(name + "_scale")
            if value.dtype != torch.int8 or scale is None or scale.shape != (value.shape[0],):
                raise InputError(f"int8 model: {name} needs int8 values and a float scale per row ({name}_scale)")
            out[name] = value.float() * scale.float()[:, None]
        else:
            out[name] = value.float() if value.is_floating_point() else value
    return out


def save_quantized(model: torch.nn.Module, out_dir: str | Path, precision: str, format_version: int = 1) -> Path:
    """Write model.<precision>.safetensors of `model` into out_dir; returns its path. `model` is an aire
    SineMLP, or an aire.interfaces.Model (NeRF's field + colour head), whose other tensors go in under
    their own names as in model.safetensors (so aire.load rebuilds the whole model from the copy).
    `format_version` is the model-file version (aire.io.FORMAT_VERSION) recorded in its metadata."""
    from safetensors.torch import save_file

    from aire.interfaces import Model
    from aire.train.state import model_extras

    network = model.field if isinstance(model, Model) else model
    tensors = dict(model_extras(model, network))
    for i, (w, b) in enumerate(zip(network.weights, network.biases)):
        tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"] = w, b
    path = Path(out_dir) / quantized_name(precision)
    save_file(quantize(tensors, precision), str(path),
              metadata={"format": "aire", "version": str(format_version), "precision": precision})
    return path


def read_precision(path: str | Path) -> str:
    """The precision a model file's metadata records ("fp32" for the float model.safetensors)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as exc:
        raise InputError(f"cannot read model {path}: {type(exc).__name__}: {exc}") from None
    return meta.get("precision", "fp32")
