"""A small collection on disk: generated 16-px images (and one file that is not an image), tiny fits."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from aire.signals.image import synthetic_image

#: every job's fit options: seconds per fit, deterministic (seeded, one thread); the paper's cycles (schedule
#: aire), since batched fitting runs the aire and none schedules only (a budget alone would pick aire-cubic)
FIT_OPTIONS = {"hidden": [8, 8, 8], "steps": 40, "eval_every": 20, "target_params": 0.5, "schedule": "aire"}
FIT_ARGV = ["--hidden", "8", "8", "8", "--steps", "40", "--eval-every", "20", "--target-params", "0.5",
            "--schedule", "aire"]


def write_images(folder, count: int, size: int = 16):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        iio.imwrite(path, (synthetic_image(size, seed=i) * 255).round().astype(np.uint8))
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def collection(tmp_path_factory):
    """images/img0.png, img1.png and broken.png (not an image), and a TOML spec over images/*.png;
    shared by the tests (they write to their own output folders) so each image is fitted alone once."""
    tmp_path = tmp_path_factory.mktemp("collection")
    images = write_images(tmp_path / "images", 2)
    (tmp_path / "images" / "broken.png").write_bytes(b"not an image")
    spec = tmp_path / "spec.toml"
    spec.write_text('signal = "image"\ninputs = ["images/*.png"]\n[defaults]\n'
                    'hidden = [8, 8, 8]\nsteps = 40\neval-every = 20\ntarget_params = 0.5\nschedule = "aire"\n')
    return {"spec": spec, "images": images, "broken": tmp_path / "images" / "broken.png", "alone": tmp_path / "alone"}
