"""Pictures people look at: labelled panels, large enough to read (aire.figures), e.g. NeRF's test views."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np

from aire.figures import MAX_PANEL_PIXELS, MIN_PANEL_PIXELS, figure_png, image_grid
from aire.signals.nerf.signal import TEST_VIEWS_SHOWN, held_out_views_figure


def test_small_images_are_enlarged_into_labelled_panels():
    rows = [[np.zeros((24, 24, 3)), np.ones((24, 24)), np.full((24, 24), 0.5)]] * 2
    fig = image_grid(rows, ["a", "b", "error"], ["first", "second"], title="T", error_columns=(2,), error_label="e")
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "error"]
    assert [axes[0].get_ylabel(), axes[3].get_ylabel()] == ["first", "second"]
    assert axes[-1].get_ylabel() == "e"  # the colour bar of the error column
    picture = iio.imread(io.BytesIO(figure_png(fig)))
    assert picture.shape[1] >= 3 * MIN_PANEL_PIXELS and picture.shape[0] >= 2 * MIN_PANEL_PIXELS


def test_large_images_are_drawn_no_larger_than_the_cap():
    fig = image_grid([[np.zeros((2000, 1000, 3))]], ["big"], [""])
    width, height = fig.get_size_inches() * 100
    assert height <= MAX_PANEL_PIXELS + 100 and width <= MAX_PANEL_PIXELS / 2 + 200


def test_nerf_test_views_are_labelled_with_their_file_and_psnr():
    rng = np.random.default_rng(0)
    target = rng.uniform(size=(TEST_VIEWS_SHOWN + 2, 8, 8, 3))
    pred = np.clip(target + 0.1, 0, 1)
    mse = np.mean((pred[1] - target[1]) ** 2)
    fig = held_out_views_figure(pred, target, [f"test/r_{i}.png" for i in range(len(pred))])
    labels = [ax.get_ylabel() for ax in fig.axes[0:3 * TEST_VIEWS_SHOWN:3]]
    assert len(labels) == TEST_VIEWS_SHOWN  # at most this many rows, however many views the scene has
    assert labels[1] == f"r_1.png\nPSNR {10 * np.log10(1 / mse):.2f} dB"
    assert fig.axes[2].get_title() == "absolute error" and "6 of 8" in fig._suptitle.get_text()
