"""The run's pictures: the training plot (quality in its units, one legend, events that can be seen, a
quality target as a horizontal line) and an image fit's comparison (input | fit | error map)."""

from __future__ import annotations

import numpy as np
import pytest

import aire.report as report


def test_target_line_is_drawn_at_the_target(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(report, "save_figure", lambda fig, path, dpi: figures.append(fig) or path)
    history = [{"step": 0, "loss": None, "params": 10, "psnr": 12.0}, {"step": 10, "loss": 0.1, "params": 8, "psnr": 25.0}]
    report.plot_training(history, [], tmp_path / "t.png", target=20.0)
    quality_axis = figures[0].axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in quality_axis.get_lines()}
    assert lines["target 20"] == [20.0, 20.0] and lines["PSNR (dB)"] == [12.0, 25.0]
    report.plot_training(history, [], tmp_path / "u.png")
    assert not any(label.startswith("target") for label in (l.get_label() for l in figures[1].axes[0].get_lines()))


def test_training_plot_labels_psnr_in_db_with_one_legend_holding_the_loss_and_the_events():
    history = [{"step": 0, "loss": None, "params": 100, "psnr": 12.0},
               {"step": 50, "loss": 0.1, "params": 120, "psnr": 20.0},
               {"step": 100, "loss": 0.05, "params": 60, "psnr": 25.0}]
    events = [{"event": "densify", "step": 30, "params": 120}, {"event": "prune", "step": 70, "params": 60}]
    fig = report.training_figure(history, events)
    quality_axis, params_axis, loss_axis = fig.axes
    assert quality_axis.get_ylabel() == "PSNR (dB)" and loss_axis.get_ylabel() == "training loss"
    legend = quality_axis.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["PSNR (dB)", "loss (right axis)", "prune", "densify"]
    # the event lines: at their steps on both panels, drawn to be seen (not the faint 0.3 of before)
    for axis in (quality_axis, params_axis):
        marks = {line.get_xdata()[0]: line for line in axis.get_lines() if line.get_linestyle() == ":"}
        assert set(marks) == {30, 70}
        assert marks[30].get_color() == "tab:purple" and marks[30].get_alpha() >= 0.7 and marks[30].get_linewidth() >= 1.5
    assert list(params_axis.get_lines()[0].get_ydata()) == [100, 120, 60, 60]


def test_a_short_fit_shows_its_few_evaluations_as_points_and_a_long_one_as_a_plain_line():
    short = [{"step": 0, "loss": None, "params": 10, "psnr": 12.0}, {"step": 20, "loss": 0.1, "params": 10, "psnr": 18.0}]
    fig = report.training_figure(short, [])
    quality_axis, _, loss_axis = fig.axes
    psnr, = [line for line in quality_axis.get_lines() if line.get_label() == "PSNR (dB)"]
    loss, = loss_axis.get_lines()
    # the loss has one point (step 0 has none): a line alone would draw nothing under its legend entry
    assert list(loss.get_xdata()) == [20] and loss.get_marker() == "o"
    assert psnr.get_marker() == "o"
    long = [{"step": 10 * i, "loss": 1.0 / (i + 1), "params": 10, "psnr": 10.0 + i} for i in range(40)]
    quality_axis, _, loss_axis = report.training_figure(long, []).axes
    assert quality_axis.get_lines()[0].get_marker() in (None, "None", "") and loss_axis.get_lines()[0].get_marker() in (None, "None", "")


def test_sdf_and_nerf_quality_keys_get_their_labels():
    assert report.quality_label("psnr_test") == "test-view PSNR (dB)" and report.quality_label("iou") == "IoU"
    assert report.quality_label("my_metric") == "my_metric"


def test_comparison_enlarges_a_small_image_and_maps_the_error_with_a_colour_bar():
    target = np.zeros((48, 64, 3))
    prediction = target.copy()
    prediction[10, 20] = [0.3, 0.6, 0.9]  # one wrong pixel: error 0.6 (mean over channels)
    fig = report.comparison_figure(target, prediction, dpi=100)
    inp, fit, err, bar = fig.axes
    assert [a.get_title() for a in (inp, fit, err)] == ["input (64 x 48 px)", "fit",
                                                        "|fit - input|"]
    assert bar.get_ylabel() == "absolute error (intensity, 0-1 scale)"
    error = err.get_images()[0]
    assert error.get_array()[10, 20] == pytest.approx(0.6) and error.get_array().sum() == pytest.approx(0.6)
    assert error.get_clim() == pytest.approx((0.0, 0.6)) and error.get_interpolation() == "nearest"
    # 48 px on the short side -> 6 screen pixels per image pixel: >= 256 on the short side
    assert report.display_scale(48, 64) == 6 and report.display_scale(300, 400) == 1
    assert report.display_scale(1000, 2000) == pytest.approx(512 / 2000)
    width, height = fig.get_size_inches() * 100
    assert height >= 6 * 48 and width >= 3 * 6 * 64


def test_comparison_of_a_grey_image_uses_a_grey_scale():
    fig = report.comparison_figure(np.full((300, 300, 1), 0.5), np.full((300, 300, 1), 0.25))
    shown = fig.axes[0].get_images()[0]
    assert shown.get_cmap().name == "gray" and shown.get_clim() == (0.0, 1.0)
    assert fig.axes[2].get_images()[0].get_array().max() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="same"):
        report.comparison_figure(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
