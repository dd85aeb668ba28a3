"""Named partial fit specifications (presets), per signal.

Each signal's ``default`` preset holds the option defaults of ``aire fit SIGNAL``; other names
(``--preset paper``) are layered on top of it. A preset is a nested dict in the layout of
`aire.spec.FitSpec` (``network``, ``train``, ``schedule``, ``signal_settings``). Plugins add
their own with `register_preset`. The ``paper`` presets reproduce the paper's protocol, so they name
its schedule (``kind: aire``, the cycles); the others leave the kind to the default rule
(aire.config.default_kind: ``aire-cubic`` under a budget, as nerf's ``default`` preset has).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from aire.errors import InputError

_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "image": {
        # sized for a CPU (minutes, not hours): a photo's longer side capped at 256 pixels (announced and
        # recorded), SIREN 4 x 128, omega_0 30, 2000 steps of 16384 random pixels
        "default": {"network": {"widths": [128, 128, 128, 128], "omega0": 30.0},
                    "train": {"steps": 2000, "batch_size": 16384},
                    "signal_settings": {"max_size": 256}},
        # SIREN 4 x 256, omega_0 30, full resolution, full batch: the SIREN/FINER image protocol, for a GPU
        "gpu": {"network": {"widths": [256, 256, 256, 256], "omega0": 30.0},
                "train": {"steps": 2000, "batch_size": None}, "signal_settings": {"max_size": None}},
        # the FINER protocol the paper's image tables use: 5000 full-batch steps at full resolution
        "paper": {"network": {"widths": [256, 256, 256, 256], "omega0": 30.0},
                  "train": {"steps": 5000, "batch_size": None}, "signal_settings": {"max_size": None},
                  "schedule": {"kind": "aire", "target_params": 0.6}},
    },
    "sdf": {
        # sized for a CPU: a few minutes
        "default": {"network": {"widths": [128, 128, 128, 128], "omega0": 30.0},
                    "train": {"steps": 2000, "batch_size": 8192, "lr": 2e-4, "lr_final": 2e-5}},
        # the paper's SDF setting as far as it is published: SIREN, omega_0 = 60, a large [256]*4 start
        # whose hidden layers end at the paper's small network [64, 64, 256] (the input frequencies are
        # not pruned and grow 256 -> 320 -> 400 by densification): 24.5 % of the parameters
        "paper": {"network": {"widths": [256, 256, 256, 256], "omega0": 60.0},
                  "train": {"steps": 16000, "batch_size": 16384, "lr": 1e-4, "lr_final": 1e-5},
                  "schedule": {"kind": "aire", "target_params": 0.245, "prune_layers": [1, 2]}},
    },
    "nerf": {
        # small enough to train in minutes on a CPU (see docs/guide/nerf.md)
        "default": {"network": {"widths": [64, 64, 64], "omega0": 30.0},
                    "train": {"steps": 2000, "lr": 5e-4, "lr_final": 5e-5, "batch_size": 512},
                    # no densification: on the baselines suite's NeRF protocol adding input frequencies cost
                    # 0.43 dB of test PSNR (seeds 0-2, benchmarks/results/method_search-sdf-nerf-cpu.md)
                    "schedule": {"target_params": 0.8, "densify_k": 0},
                    "signal_settings": {"size": 64, "samples": 32, "importance_samples": 0}},
        # The paper fits NeRF-synthetic with a SIREN field and reports about 20 % fewer parameters at
        # equal or better test PSNR; its widths and sampling are unpublished. Assumed: SIREN with four
        # sine layers of 256 (omega_0 30, as in SIREN), NeRF's 64 coarse + 128 importance samples,
        # 4096 rays a step at 200x200 (half the Blender resolution), budget 0.8.
        "paper": {"network": {"widths": [256, 256, 256, 256], "omega0": 30.0},
                  "train": {"steps": 20000, "lr": 5e-4, "lr_final": 5e-5, "batch_size": 4096},
                  "schedule": {"kind": "aire", "target_params": 0.8},
                  "signal_settings": {"size": 200, "samples": 64, "importance_samples": 128}},
        # the aire-cubic schedule with NeRF's measured settings: no densification (densify_k 0) and the cut
        # ramp ending at 50 % of the steps. On the baselines suite's reduced NeRF protocol (bunny make-scene,
        # budget 0.5, seeds 0-2; benchmarks/results/method_search-sdf-nerf-cpu.md) adding input frequencies
        # cost 0.43 dB of test PSNR (aire-cubic 18.08 dB, behind iterative magnitude pruning's 18.40), no
        # densification gave 18.51 dB (now the default preset's) and the later ramp end 18.74 dB (an aire-cubic
        # setting only, so not in the default preset, which a quality target or --schedule aire also uses).
        "cubic": {"schedule": {"kind": "aire-cubic", "densify_k": 0, "settings": {"end": 0.5}}},
    },
}


def register_preset(signal: str, name: str, spec: Mapping[str, Any]) -> None:
    """Add (or replace) the preset `name` of `signal`; `default` sets the signal's option defaults."""
    _PRESETS.setdefault(signal, {})[name] = copy.deepcopy(dict(spec))


def presets(signal: str) -> list[str]:
    """Names of the presets of `signal`."""
    return sorted(_PRESETS.get(signal, {}))


def preset(signal: str, name: str) -> dict[str, Any]:
    """A copy of preset `name` of `signal`; {} for a signal's missing `default`; InputError otherwise."""
    table = _PRESETS.get(signal, {})
    if name not in table:
        if name == "default":
            return {}
        known = ", ".join(sorted(n for n in table if n != "default")) or "none"
        raise InputError(f"--preset {name!r}: signal {signal!r} has no such preset (known: {known})")
    return copy.deepcopy(table[name])


def default_presets() -> dict[str, dict[str, Any]]:
    """{signal: a copy of its `default` preset} for every signal that has one (what `aire fit SIGNAL` starts
    from; --help shows these values next to the option defaults)."""
    return {signal: copy.deepcopy(table["default"]) for signal, table in _PRESETS.items() if "default" in table}
