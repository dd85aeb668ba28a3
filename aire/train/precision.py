"""Numeric precision of a fit: exact fp32, TF32 tensor-core matmuls, or bf16 autocast.

* ``fp32``: TF32 switched off for the fit, so CUDA matmuls are full fp32 (torch's own default).
* ``tf32``: CUDA matmuls on TF32 tensor cores (10-bit mantissa inputs, fp32 accumulation); no
  effect on CPU.
* ``bf16``: the hidden and output layers run under ``torch.autocast(dtype=bfloat16)``; the first
  sine layer stays fp32 (see SineMLP.sine_layer: its pre-activation omega_0 * x reaches ~omega_0,
  where bf16's 8-bit mantissa would err by ~0.1 rad), the loss and Adam stay fp32.

Global matmul flags are restored when the fit ends. The accuracy of each mode is measured by the
speed benchmark (benchmarks/speed.py) and bounded in tests/train/test_precision.py.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Set torch's TF32 switches for `precision` (on for tf32/bf16, off for fp32), restoring them after."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    tf32 = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a training step: bf16 for precision 'bf16', else a no-op."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
