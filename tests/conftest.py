"""Shared fixtures: generated images on disk, hypothesis profiles, a --device option (kornia-style)."""

from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import torch

from aire.signals.image import synthetic_image

#: session fixtures of tiny generated NeRF scenes (sphere_mesh, tiny_scene) and finished runs (image_fit, nerf_fit, sdf_fit)
pytest_plugins = ["tests.nerf_fixtures", "tests.run_fixtures"]

# unit tests run tiny tensors: one thread avoids OpenMP start-up and oversubscription costs
torch.set_num_threads(1)

settings.register_profile("default", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", help="torch device for device-aware tests (cpu, cuda)")


@pytest.fixture
def device(request) -> str:
    return request.config.getoption("--device")


@pytest.fixture
def image_path(tmp_path):
    """A 32x32 RGB PNG generated on the fly."""
    path = tmp_path / "synthetic.png"
    iio.imwrite(path, (synthetic_image(32) * 255).round().astype(np.uint8))
    return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Sample caches go to a per-session folder, never the user's ~/.cache."""
    monkeypatch.setenv("AIRE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "aire-cache"))
