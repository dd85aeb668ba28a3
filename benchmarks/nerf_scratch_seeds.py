"""Variance check for nerf_tradeoff's CPU setting: AIRe's final architecture ([100, 44, 44]) trained from
scratch on the seed-0 scene with other initialisation/ray seeds (the colour head starts as in seed 0).

    python benchmarks/nerf_scratch_seeds.py 1 2     # writes benchmarks/results/nerf_scratch_seeds-cpu.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aire  # noqa: E402
import nerf_tradeoff as bench  # noqa: E402
from aire.scenes.make_scene import make_scene  # noqa: E402
from aire.signals.nerf.signal import NerfSignal  # noqa: E402

OUT = HERE / "results" / "nerf_scratch_seeds-cpu.json"


def main(seeds: list[int], widths: tuple[int, ...] = (100, 44, 44)) -> list[dict]:
    torch.set_num_threads(1)
    cfg = bench.SIZES["cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        scene = make_scene(bench.DEFAULT_MESH, Path(tmp) / "s", views=cfg["views"], size=cfg["image"], val_views=0,
                           test_views=cfg["test_views"], seed=0)
        signal = NerfSignal(scene, size=cfg["image"], samples=cfg["samples"], importance_samples=0,
                            turntable_frames=0, seed=0)
    rows = []
    for seed in seeds:
        rows.append(bench.fit_row(f"scratch-seed{seed}", signal, list(widths), cfg, aire.ScheduleConfig(kind="none"),
                                  "cpu", seed, True))
        OUT.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [1, 2])
