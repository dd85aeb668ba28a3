"""Spectrum pictures: a 3-D spectrum is shown as its slice at axis-0 frequency 0, labelled axes 1 and 2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aire.theory import spectrum as spectrum_module
from aire.theory.spectrum import Spectrum, plot_spectrum, spectrum_plane


def peak_spectrum(n: int, peak: tuple[int, int, int]) -> Spectrum:
    """An n^3 fftshifted spectrum with one coefficient at grid offset `peak` from zero frequency."""
    amp = np.full((n, n, n), 1e-12)
    amp[tuple(n // 2 + p for p in peak)] = 1.0
    axis = np.fft.fftshift(np.fft.fftfreq(n, d=1.0 / n)) * 2 * math.pi / n
    return Spectrum(axes=(axis, axis, axis), amplitude=amp, method="periodic", period=2 * math.pi, aliasing=0.0)


def test_spectrum_plane_of_a_3d_spectrum_is_the_axis0_zero_slice_with_rows_axis1_and_columns_axis2():
    n = 8
    plane, row, col, note = spectrum_plane(peak_spectrum(n, (0, 1, 3)))
    assert (row, col) == (1, 2) and "axis-0 frequency 0" in note
    assert np.unravel_index(plane.argmax(), plane.shape) == (n // 2 + 1, n // 2 + 3)
    # a peak off the axis-0 zero plane is not in the picture
    assert spectrum_plane(peak_spectrum(n, (2, 1, 3)))[0].max() == pytest.approx(1e-12)


def test_plot_spectrum_labels_the_3d_slice_axes_1_and_2(monkeypatch, tmp_path):
    captured = {}

    def keep(fig, path, dpi=110):
        captured["ax"] = fig.axes[0]

    monkeypatch.setattr("aire.figures.save_figure", keep)
    plot_spectrum(peak_spectrum(8, (0, 1, 3)), str(tmp_path / "s.png"), title="t")
    ax = captured["ax"]
    assert ax.get_xlabel() == "frequency, axis 2 (rad / unit)"
    assert ax.get_ylabel() == "frequency, axis 1 (rad / unit)"
    assert "axis-0 frequency 0" in ax.get_title()
    # the brightest pixel sits at the peak's (axis-2, axis-1) frequency in data coordinates
    image = ax.images[0]
    data = np.asarray(image.get_array())
    r, c = np.unravel_index(data.argmax(), data.shape)
    axis = peak_spectrum(8, (0, 1, 3)).axes[0]
    assert (axis[c], axis[r]) == pytest.approx((axis[8 // 2 + 3], axis[8 // 2 + 1]))


def test_plot_spectrum_2d_keeps_axis0_on_rows(monkeypatch, tmp_path):
    captured = {}
    monkeypatch.setattr("aire.figures.save_figure", lambda fig, path, dpi=110: captured.setdefault("ax", fig.axes[0]))
    s = peak_spectrum(8, (0, 1, 3))
    two = Spectrum(axes=s.axes[:2], amplitude=s.amplitude[4], method="periodic", period=s.period, aliasing=0.0)
    plot_spectrum(two, str(tmp_path / "s.png"))
    assert captured["ax"].get_ylabel() == "frequency, axis 0 (rad / unit)"
    assert captured["ax"].get_xlabel() == "frequency, axis 1 (rad / unit)"
    assert spectrum_module.spectrum_plane(two)[1:3] == (0, 1)
