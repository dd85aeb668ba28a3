"""A 1-D signal: values sampled on a uniform grid over [-1, 1], fitted as f: x -> y.

The smallest signal that exercises every part of aire (sampling, loss, metrics, export), so a fit
takes a fraction of a second. Read from a text file of numbers (one value per sample, whitespace or
newline separated) or built from an array, e.g. ``Curve(values=chirp(256))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import aire
from aire.interfaces import Signal


def chirp(n: int = 256) -> np.ndarray:
    """sin(pi (3x + 2x^2)) at n points of [-1, 1]: a frequency that rises from 1 to 5 half-periods per unit."""
    x = np.linspace(-1.0, 1.0, n)
    return np.sin(np.pi * (3.0 * x + 2.0 * x**2))


def read_values(path: str | Path) -> np.ndarray:
    """The numbers in a text file as a float64 vector; InputError when missing, unreadable or too short."""
    path = Path(path)
    if not path.is_file():
        raise aire.InputError(f"curve file not found: {path}")
    try:
        return np.array(path.read_text().split(), dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise aire.InputError(f"curve file {path} is not a list of numbers: {exc}") from None


class Curve(Signal):
    """Coordinates (N, 1) on [-1, 1] -> values (N, 1); loss MSE; metric RMSE (lower is better)."""

    in_features = 1
    out_features = 1
    quality_key = "rmse"
    higher_is_better = False
    #: defaults of `aire fit curve FILE`: a small SIREN and a short run
    cli_defaults = {"hidden": [32, 32, 32], "omega0": 30.0, "steps": 500}

    def __init__(self, path: str | Path | None = None, *, values: Any = None) -> None:
        if (path is None) == (values is None):
            raise aire.InputError("curve: give exactly one of a file path or values")
        self.path = Path(path) if path is not None else None
        array = read_values(path) if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
        where = str(path) if path is not None else "values"
        if array.size < 2:
            raise aire.InputError(f"curve {where}: need at least 2 samples, got {array.size}")
        if not np.isfinite(array).all():
            raise aire.InputError(f"curve {where}: contains NaN or infinite values")
        self.coords = torch.linspace(-1.0, 1.0, array.size, dtype=torch.float32)[:, None]
        self.values = torch.as_tensor(array, dtype=torch.float32)[:, None]

    def to(self, device: torch.device | str) -> "Curve":
        self.coords, self.values = self.coords.to(device), self.values.to(device)
        return self

    def sample(self, batch_size: int | None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.coords.shape[0]
        if batch_size is None or batch_size >= n:
            return self.coords, self.values
        idx = torch.randint(0, n, (batch_size,), generator=generator).to(self.coords.device)
        return self.coords[idx], self.values[idx]

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.mean((prediction - target) ** 2)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return {"rmse": float(torch.sqrt(torch.mean((model(self.coords) - self.values) ** 2)))}

    @torch.no_grad()
    def export(self, model: torch.nn.Module, out_dir: Path) -> list[Path]:
        """curve.csv: x, target, prediction per sample."""
        table = torch.cat([self.coords, self.values, model(self.coords)], dim=1).cpu().double().numpy()
        path = Path(out_dir) / "curve.csv"
        np.savetxt(path, table, delimiter=",", header="x,target,prediction", comments="", fmt="%.9g")
        return [path]

    def describe(self) -> dict[str, Any]:
        return {"kind": "curve", "path": str(self.path.resolve()) if self.path else None,
                "samples": int(self.coords.shape[0])}


@aire.hookimpl
def aire_add_signals() -> dict:
    return {"curve": Curve}
