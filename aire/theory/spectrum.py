"""What frequencies a network expresses: exact lattice FFT for periodic networks, windowed FFT otherwise.

A network whose input frequencies are integer multiples of 2*pi/period (the lattice encoding) is
periodic, so sampling one period on an n-point grid and taking the FFT gives its Fourier
coefficients exactly, up to aliasing of content above n/2 (which the super-exponential decay of
Theorem 1's amplitudes keeps tiny, and which `aliasing` estimates). Other networks are analysed on
[-1, 1]^d through a Hann window: an honest estimate, labelled as such.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import torch


@attrs.frozen
class Spectrum:
    """Power of one output (or neuron) on an FFT grid of angular frequencies (radians per unit)."""

    axes: tuple[np.ndarray, ...]  # fftshifted angular frequency of each grid axis
    amplitude: np.ndarray  # |coefficient| on the fftshifted grid
    method: str  # "periodic" (exact up to aliasing) or "windowed"
    period: float | None
    aliasing: float  # fraction of energy in the outermost eighth of the band (an aliasing indicator)

    def strongest(self, n: int = 10) -> list[tuple[tuple[float, ...], float]]:
        """The n strongest frequencies (one of each +-pair, zero included) and their amplitudes."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        freq = np.stack([g.reshape(-1) for g in grids], axis=1)
        amp = self.amplitude.reshape(-1)
        first = np.zeros(freq.shape[0], dtype=bool)
        decided = np.zeros_like(first)
        for col in range(freq.shape[1]):
            first |= (~decided) & (freq[:, col] > 0)
            decided |= freq[:, col] != 0
        keep = first | ~decided  # the half-space plus the zero frequency
        weight = np.where(first, 2.0, 1.0)  # a +-pair carries twice the amplitude of one coefficient
        idx = np.nonzero(keep)[0]
        order = idx[np.argsort(-(amp[idx] * weight[idx]), kind="stable")][:n]
        return [(tuple(float(v) for v in freq[i]), float(amp[i] * weight[i])) for i in order]


def _grid(d: int, n: int, lo: float, hi: float, endpoint: bool) -> torch.Tensor:
    axis = torch.linspace(lo, hi, n + (0 if endpoint else 1), dtype=torch.float64)[:n]
    mesh = torch.meshgrid(*[axis] * d, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1)


def network_spectrum(network: Any, resolution: int | None = None, channel: int = 0, layer: int | None = None,
                     neuron: int = 0, period: float | None = None) -> Spectrum:
    """Spectrum of output `channel` (or of `neuron` of sine layer `layer`) of a network.

    `period` defaults to the encoding's period when it has one and is frozen (lattice encoding).
    """
    d = int(network.weights[0].shape[1])
    n = resolution or {1: 1024, 2: 256}.get(d, 48)
    enc = getattr(network, "encoding", None)
    if period is None and enc is not None and getattr(enc, "period", None) and not enc.trainable:
        period = float(enc.period)
    net64 = _as_float64(network)
    if period is not None:
        x = _grid(d, n, -period / 2, period / 2, endpoint=False)
        spacing, method, window = period / n, "periodic", None
    else:
        x = _grid(d, n, -1.0, 1.0, endpoint=True)
        spacing, method = 2.0 / (n - 1), "windowed"
        hann = torch.hann_window(n, periodic=False, dtype=torch.float64)
        window = hann
        for _ in range(d - 1):
            window = window[..., None] * hann
    with torch.no_grad():
        values = []
        for chunk in x.split(1 << 16):
            out = net64(chunk)[:, channel] if layer is None else net64.hidden_outputs(chunk)[layer][:, neuron]
            values.append(out)
        v = torch.cat(values).reshape(*[n] * d)
    if window is not None:
        v = v * window / window.mean()
    coeff = torch.fft.fftshift(torch.fft.fftn(v), dim=tuple(range(d))) / v.numel()
    amp = coeff.abs().numpy()
    axis = np.fft.fftshift(np.fft.fftfreq(n, d=spacing)) * 2 * math.pi
    power = amp**2
    centre = np.abs(np.stack(np.meshgrid(*[np.arange(n) - n // 2] * d, indexing="ij"), 0)).max(0)
    outer = centre >= (n // 2) * 7 // 8
    aliasing = float(power[outer].sum() / max(power.sum(), 1e-300))
    return Spectrum(axes=tuple(axis for _ in range(d)), amplitude=amp, method=method, period=period, aliasing=aliasing)


def _as_float64(network: Any) -> Any:
    import copy

    return copy.deepcopy(network).double().eval()


def spectrum_plane(spectrum: Spectrum) -> tuple[np.ndarray, int, int, str]:
    """The 2-D picture of a 2-D or 3-D spectrum: (amplitude[rows, cols], row axis, column axis, note).

    A 3-D spectrum is cut at zero frequency along input axis 0 (index n0 // 2 of the fftshifted grid), so the
    picture's rows run along input axis 1 and its columns along input axis 2; `note` says so for the title.
    """
    amp = spectrum.amplitude
    if amp.ndim == 2:
        return amp, 0, 1, ""
    if amp.ndim == 3:
        return amp[amp.shape[0] // 2], 1, 2, "slice at axis-0 frequency 0"
    raise ValueError(f"spectrum_plane needs a 2-D or 3-D spectrum, got {amp.ndim}-D")


def plot_spectrum(spectrum: Spectrum, path: str, title: str = "") -> None:
    """Log-amplitude image (2-D), curve (1-D) or central slice (3-D, axes 1 and 2 at axis-0 frequency 0)."""
    from aire.figures import new_figure, save_figure

    fig, ax = new_figure(figsize=(6, 5))
    amp = spectrum.amplitude
    note = ""
    if amp.ndim == 1:
        ax.semilogy(spectrum.axes[0], np.maximum(amp, 1e-16))
        ax.set_xlabel("frequency (rad / unit)")
        ax.set_ylabel("|coefficient|")
    else:
        plane, row, col, note = spectrum_plane(spectrum)
        img = np.log10(np.maximum(plane, 1e-16))
        ar, ac = spectrum.axes[row], spectrum.axes[col]
        im = ax.imshow(img, origin="lower", extent=[ac[0], ac[-1], ar[0], ar[-1]], cmap="magma",
                       vmin=max(img.max() - 8, -16))
        fig.colorbar(im, ax=ax, label="log10 |coefficient|")
        ax.set_xlabel(f"frequency, axis {col} (rad / unit)")
        ax.set_ylabel(f"frequency, axis {row} (rad / unit)")
    ax.set_title((title or f"spectrum ({spectrum.method})") + (f"\n{note}" if note else ""))
    save_figure(fig, path, dpi=110)
