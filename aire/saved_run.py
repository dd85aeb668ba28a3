"""A fitted model opened for reuse (`aire render`, `aire eval`, `aire report`): the model that
:func:`aire.load` rebuilds plus what its run folder records about the fit (metrics.json, config.json).

The signal kind comes from metrics.json (``signal.kind``), else config.json (``signal``), else the model
itself: a model with a ``kind`` (NeRF), a 2 -> C network (an image), a 3 -> 1 network (an SDF). A
model file given without its run folder's records (a bare model.safetensors elsewhere) still opens;
what needs the records (the fitted resolution, the input) then asks for an option instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from aire.errors import InputError

if TYPE_CHECKING:
    import torch

#: files of a run folder that no output of render/eval/report may replace
RUN_RECORDS = ("model.safetensors", "model.json", "metrics.json", "config.json", "signal.json", "history.json")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, {} when absent; one-line InputError when unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


@attrs.define
class SavedRun:
    """`model` (eval mode, on the device asked for), the `run_dir` holding it, the signal `kind`, and
    the run's records (`metrics`, `config`: {} when absent)."""

    model: "torch.nn.Module"
    run_dir: Path
    kind: str
    metrics: dict[str, Any]
    config: dict[str, Any]

    @property
    def signal_record(self) -> dict[str, Any]:
        """metrics.json's "signal" section (the signal's describe()), {} when absent."""
        record = self.metrics.get("signal")
        return record if isinstance(record, dict) else {}

    @property
    def signal_settings(self) -> dict[str, Any]:
        """The signal settings the fit was made with (config.json), {} when unrecorded."""
        config = self.config or self.metrics.get("settings") or {}
        settings = config.get("signal_settings") if isinstance(config, dict) else None
        return dict(settings) if isinstance(settings, dict) else {}

    @property
    def input_path(self) -> Path | None:
        """The input the model was fitted to, as recorded (it may since have moved or gone)."""
        path = self.signal_record.get("path") or (self.config or {}).get("path")
        return Path(path) if isinstance(path, str) and path else None

    def protected(self) -> list[Path]:
        """Paths an output must never replace: the run's records and its recorded input."""
        return [self.run_dir / name for name in RUN_RECORDS] + ([self.input_path] if self.input_path else [])

    def dimensions(self) -> tuple[int, int]:
        """(inputs, outputs) of the model's network (a NeRF model: of its field)."""
        from aire.io import field_of

        net = field_of(self.model)
        return int(net.weights[0].shape[1]), int(net.widths()[-1])


def kind_of_model(model: "torch.nn.Module") -> str | None:
    """'nerf' (or any Model's kind), 'image' for 2 -> C, 'sdf' for 3 -> 1, else None."""
    from aire.interfaces import Model

    if isinstance(model, Model):
        return model.kind
    n_in, n_out = int(model.weights[0].shape[1]), int(model.widths()[-1])
    return {2: "image"}.get(n_in) or ("sdf" if (n_in, n_out) == (3, 1) else None)


def open_run(path: str | Path, device: str = "cpu") -> SavedRun:
    """Load the model at `path` (a run folder or a model .safetensors file; :func:`aire.load`) and its
    records. InputError (one line) when there is no model or its kind cannot be told."""
    import aire

    path = Path(path)
    if not path.exists():
        raise InputError(f"run not found: {path}")
    run_dir = path.parent if path.suffix == ".safetensors" else path
    model = aire.load(path, device=device)
    metrics = _read_json(run_dir / "metrics.json")
    config = _read_json(run_dir / "config.json")
    recorded = metrics.get("signal", {}).get("kind") if isinstance(metrics.get("signal"), dict) else None
    kind = recorded or config.get("signal") or kind_of_model(model)
    if not isinstance(kind, str):
        raise InputError(f"cannot tell what signal the model in {run_dir} was fitted to (no metrics.json or "
                         "config.json, and it is neither 2 -> C nor 3 -> 1)")
    return SavedRun(model=model, run_dir=run_dir, kind=kind, metrics=metrics, config=config)
