"""Tiny finished runs, fitted once per session, for the commands that reuse a fitted model (render, eval,
report): a 32x32 image, the tiny NeRF scene of nerf_fixtures, and a sphere's SDF."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from aire.signals.image import synthetic_image


def _fit(*argv: str) -> None:
    from aire.cli import main

    assert main([*argv, "--quiet"]) == 0


@pytest.fixture(scope="session")
def image_fit(tmp_path_factory):
    """(run folder, input image) of a 60-step fit of a generated 32x32 RGB image."""
    folder = tmp_path_factory.mktemp("image-run")
    image = folder / "input.png"
    iio.imwrite(image, (synthetic_image(32) * 255).round().astype(np.uint8))
    _fit("fit", "image", str(image), "--out", str(folder / "run"), "--hidden", "12", "12", "12", "--steps", "60",
         "--eval-every", "30", "--target-params", "0.8")
    return folder / "run", image


@pytest.fixture(scope="session")
def nerf_fit(tiny_scene, tmp_path_factory):
    """A 30-step fit of the tiny 24x24 sphere scene (3 test views)."""
    out = tmp_path_factory.mktemp("nerf-run") / "run"
    _fit("fit", "nerf", str(tiny_scene), "--out", str(out), "--hidden", "16", "16", "--steps", "30",
         "--batch-size", "128", "--eval-every", "30", "--set", "samples=8", "--set", "turntable_frames=2",
         "--set", "eval_size=12")
    return out


@pytest.fixture(scope="session")
def sdf_fit(sphere_mesh, tmp_path_factory):
    """A 40-step fit of the SDF of a sphere of radius 0.8 (small samples and grids)."""
    out = tmp_path_factory.mktemp("sdf-run") / "run"
    _fit("fit", "sdf", str(sphere_mesh), "--out", str(out), "--hidden", "16", "16", "--steps", "40",
         "--batch-size", "512", "--eval-every", "40", "--set", "samples=4000", "--set", "validation_samples=2000",
         "--set", "eval_resolution=20", "--set", "mesh_resolution=24", "--set", "chamfer_samples=2000")
    return out
