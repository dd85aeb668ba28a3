"""Presets: `aire fit image` is sized for a CPU (256-pixel cap, 4 x 128, batches of 16384), `--preset gpu`
and `--preset paper` hold the full-resolution, full-batch 4 x 256 settings."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from aire.cli import main
from aire.signals.image import ImageSignal, synthetic_image
from aire.spec import resolve


def test_image_default_is_cpu_sized_and_gpu_and_paper_presets_are_full_size():
    default = resolve({"signal": "image", "path": "a.png"})
    assert default.network.widths == (128, 128, 128, 128) and default.train.batch_size == 16384
    assert default.signal_settings == {"max_size": 256} and default.train.steps == 2000
    for name, steps in (("gpu", 2000), ("paper", 5000)):
        spec = resolve({"signal": "image", "path": "a.png", "preset": name})
        assert spec.network.widths == (256, 256, 256, 256) and spec.train.batch_size is None, name
        assert spec.signal_settings == {"max_size": None} and spec.train.steps == steps, name


def test_max_size_downscales_a_larger_image_with_one_warning_and_records_it():
    with pytest.warns(UserWarning, match=r"the image is 40x20; fitting it at 16x8 \(max_size 16"):
        signal = ImageSignal(image=synthetic_image(40)[:20], max_size=16)
    assert (signal.width, signal.height) == (16, 8)
    d = signal.describe()
    assert (d["original_width"], d["original_height"], d["width"], d["height"]) == (40, 20, 16, 8)
    assert d["max_size"] == 16 and d["downscaled"] is True


def test_max_size_never_upscales_and_size_wins(recwarn):
    small = ImageSignal(image=synthetic_image(12), max_size=256)
    assert (small.width, small.height) == (12, 12) and small.describe()["downscaled"] is False
    exact = ImageSignal(image=synthetic_image(12), size=24, max_size=16)
    assert (exact.width, exact.height) == (24, 24)
    assert not [w for w in recwarn if "fitting it at" in str(w.message)]


def test_bad_max_size_is_refused_by_name():
    from aire.errors import InputError

    with pytest.raises(InputError, match="max_size must be an integer of at least 2"):
        ImageSignal(image=synthetic_image(8), max_size=1)


def test_aire_fit_image_announces_the_downscale_in_one_line_and_metrics_record_it(tmp_path):
    image = tmp_path / "photo.png"
    iio.imwrite(image, (synthetic_image(40) * 255).round().astype(np.uint8))
    out = tmp_path / "run"
    with pytest.warns(UserWarning) as caught:
        assert main(["fit", "image", str(image), "--out", str(out), "--set", "max_size=20", "--hidden", "8", "8",
                     "--steps", "2", "--eval-every", "2", "--schedule", "none", "--quiet"]) == 0
    lines = [str(w.message) for w in caught if "fitting it at" in str(w.message)]
    assert lines == ["photo.png is 40x40; fitting it at 20x20 (max_size 20, the CPU default: "
                     "--set max_size=null or --preset gpu for full resolution)"]
    signal = json.loads((out / "metrics.json").read_text())["signal"]
    assert (signal["width"], signal["original_width"], signal["downscaled"]) == (20, 40, True)


def test_paper_presets_run_the_papers_cycles_and_other_budgets_get_the_cubic_ramp():
    for signal in ("image", "sdf", "nerf"):
        paper = resolve({"signal": signal, "path": "x", "preset": "paper"})
        assert paper.schedule.kind == "aire" and paper.schedule.target_params is not None, signal
    assert resolve({"signal": "nerf", "path": "x"}).schedule.kind == "aire-cubic"  # its default preset has a budget
    assert resolve({"signal": "sdf", "path": "x"}).schedule.kind == "aire"  # no budget: cycles
    # the paper preset's cycles take the cycle options; the command line still chooses another schedule
    tuned = resolve({"signal": "image", "path": "x", "preset": "paper", "schedule": {"cycles": 3}})
    assert tuned.schedule.cycles == 3
    other = resolve({"signal": "image", "path": "x", "preset": "paper", "schedule": {"kind": "aire-cubic"}})
    assert other.schedule.kind == "aire-cubic"


def test_nerf_default_adds_no_input_frequencies_but_its_paper_preset_densifies_as_the_paper():
    assert resolve({"signal": "nerf", "path": "x"}).schedule.densify_k == 0
    assert resolve({"signal": "nerf", "path": "x", "preset": "paper"}).schedule.densify_k is None
    assert resolve({"signal": "nerf", "path": "x", "schedule": {"densify_k": 3}}).schedule.densify_k == 3
    assert resolve({"signal": "image", "path": "x"}).schedule.densify_k is None


def test_a_presets_budget_is_dropped_for_the_schedule_that_never_prunes_but_a_typed_one_is_kept():
    # NeRF's default preset has a budget (0.8): `aire fit nerf SCENE --schedule none` trains plainly
    assert resolve({"signal": "nerf", "path": "x", "schedule": {"kind": "none"}}).schedule.target_params is None
    # typed with it, the budget stays, and the trainer refuses the pair (tests/schedules/test_registration.py)
    typed = resolve({"signal": "nerf", "path": "x", "schedule": {"kind": "none", "target_params": 0.5}})
    assert typed.schedule.target_params == 0.5
    assert resolve({"signal": "nerf", "path": "x"}).schedule.target_params == 0.8
