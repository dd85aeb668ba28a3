"""The training plot: a quality target is drawn as a horizontal line at its value."""

from __future__ import annotations

import aire.report as report


def test_target_line_is_drawn_at_the_target(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(report, "save_figure", lambda fig, path, dpi: figures.append(fig) or path)
    history = [{"step": 0, "loss": None, "params": 10, "psnr": 12.0}, {"step": 10, "loss": 0.1, "params": 8, "psnr": 25.0}]
    report.plot_training(history, [], tmp_path / "t.png", target=20.0)
    quality_axis = figures[0].axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in quality_axis.get_lines()}
    assert lines["target 20"] == [20.0, 20.0] and lines["psnr"] == [12.0, 25.0]
    report.plot_training(history, [], tmp_path / "u.png")
    assert not any(label.startswith("target") for label in (l.get_label() for l in figures[1].axes[0].get_lines()))
