"""Property: any bad setting or truncated file gives one clear line on stderr, exit 2, and no output."""

from __future__ import annotations

import math

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aire.cli import main
from aire.signals.image import synthetic_image

BAD_SETTINGS = st.one_of(
    st.tuples(st.just("--steps"), st.integers(-10**6, 0).map(str)),
    st.tuples(st.just("--steps"), st.sampled_from(["abc", "1.5", "", "nan"])),
    st.tuples(st.just("--target-params"), st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True),
                                                     st.just(math.nan)).map(repr)),
    st.tuples(st.just("--lr"), st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)).map(repr)),
    st.tuples(st.just("--omega0"), st.floats(max_value=0.0).map(repr)),
    st.tuples(st.just("--alpha-max"), st.one_of(st.floats(min_value=1.0), st.floats(max_value=0.0, exclude_max=True)).map(repr)),
    st.tuples(st.just("--epsilon"), st.floats(max_value=0.0).map(repr)),
    st.tuples(st.just("--cycles"), st.integers(-5, 0).map(str)),
    st.tuples(st.just("--eval-every"), st.integers(-5, 0).map(str)),
    st.tuples(st.just("--batch-size"), st.integers(-5, 0).map(str)),
    st.tuples(st.just("--warmup"), st.floats(min_value=1.0, max_value=1e6).map(repr)),
    st.tuples(st.just("--size"), st.integers(-5, 1).map(str)),
    st.tuples(st.just("--device"), st.sampled_from(["tpu", "cuda:x", "gpu0"])),
    st.tuples(st.just("--criterion"), st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
              .filter(lambda s: s not in ("column-l1", "inout"))),
    st.tuples(st.just("--policy"), st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
              .filter(lambda s: s not in ("topk-doubling", "residual-spectrum"))),
    st.tuples(st.just("--network"), st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
              .filter(lambda s: s not in ("siren", "finer"))),
    st.tuples(st.just("--hidden"), st.lists(st.integers(-3, 0), min_size=1, max_size=3).map(lambda v: " ".join(map(str, v)))),
)
FAST = ["--hidden", "8", "8", "--steps", "20", "--eval-every", "10", "--quiet"]


def _assert_clean_failure(code, err, tmp_path, out):
    lines = err.strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("aire: error:"), lines
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]


@settings(max_examples=40)
@given(bad=BAD_SETTINGS)
def test_bad_settings(tmp_path_factory, capsys, bad):
    capsys.readouterr()  # hypothesis reuses the fixture: start each example with empty buffers
    tmp_path = tmp_path_factory.mktemp("bad")
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(8) * 255).astype(np.uint8))
    out = tmp_path / "out"
    flag, value = bad
    argv = ["fit", "image", str(image), "--out", str(out), *FAST, flag, *value.split(" ")] if value else \
        ["fit", "image", str(image), "--out", str(out), *FAST, flag, value]
    code = main(argv)
    _assert_clean_failure(code, capsys.readouterr().err, tmp_path, out)


@pytest.fixture(scope="module")
def png_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("png") / "ok.png"
    iio.imwrite(path, (synthetic_image(24) * 255).astype(np.uint8))
    return path.read_bytes()


@settings(max_examples=30)
@given(cut=st.floats(0.0, 0.95))
def test_truncated_images(tmp_path_factory, capsys, png_bytes, cut):
    capsys.readouterr()
    tmp_path = tmp_path_factory.mktemp("trunc")
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes[: int(cut * len(png_bytes))])
    out = tmp_path / "out"
    code = main(["fit", "image", str(image), "--out", str(out), *FAST])
    _assert_clean_failure(code, capsys.readouterr().err, tmp_path, out)
