"""Densify where the signal underfits: score candidate frequencies by the residual's spectral energy.

The training residual r = prediction - target on the signal's grid is Fourier transformed (through
the backend); a candidate input frequency nu (radians per unit) scores the power of r in the bins
within `radius` bins of +-nu. Candidates: 2 * omega_j for every input frequency (the paper's
rule), and with `neighbours=True` also omega_j +- one lattice step per axis for lattice encodings.
Frequencies beyond the grid's Nyquist limit score zero: the data cannot say they are needed.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aire.errors import InputError
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, DensifyContext, Encoding, Network


def spectrum_scores(power: np.ndarray, spacing: tuple[float, ...], frequencies: np.ndarray, radius: int = 1) -> np.ndarray:
    """Power near +-nu for each candidate nu (rows of `frequencies`, radians per unit)."""
    shape = power.shape
    scores = np.zeros(frequencies.shape[0])
    for sign in (1.0, -1.0):
        bins = []
        inside = np.ones(frequencies.shape[0], dtype=bool)
        for axis, (n, dx) in enumerate(zip(shape, spacing)):
            cycles = sign * frequencies[:, axis] / (2 * math.pi)  # cycles per unit
            b = np.rint(cycles * n * dx).astype(np.int64)  # FFT bin (fftfreq(n, dx) = bin / (n dx))
            inside &= np.abs(b) <= n // 2
            bins.append(b)
        offsets = np.stack(np.meshgrid(*[np.arange(-radius, radius + 1)] * len(shape), indexing="ij"), -1).reshape(-1, len(shape))
        for off in offsets:
            idx = tuple((bins[a] + off[a]) % shape[a] for a in range(len(shape)))
            scores += np.where(inside, power[idx], 0.0)
    return scores


class ResidualSpectrum(DensificationPolicy):
    """Add the candidate frequencies whose neighbourhood holds the most residual energy."""

    def __init__(self, radius: int = 1, neighbours: bool = False) -> None:
        self.radius = int(radius)
        self.neighbours = bool(neighbours)

    def candidates(self, network: Network, encoding: Encoding) -> tuple[torch.Tensor, torch.Tensor]:
        w0 = network.weights[0].detach().double().cpu()
        b0 = network.biases[0].detach().double().cpu()
        rows, bias = encoding.doubled(w0, b0)
        base = getattr(encoding, "base", None)
        if self.neighbours and base is not None:
            step = base / network.omega(0)
            for axis in range(w0.shape[1]):
                for sign in (1.0, -1.0):
                    moved = w0.clone()
                    moved[:, axis] += sign * step
                    rows, bias = torch.cat([rows, moved]), torch.cat([bias, b0])
        existing = {tuple(np.round(r, 9)) for r in w0.numpy()}
        fresh = [i for i, r in enumerate(rows.numpy()) if tuple(np.round(r, 9)) not in existing and np.any(r != 0)]
        return rows[fresh], bias[fresh]

    def propose(self, network: Network, encoding: Encoding, k: int,
                context: DensifyContext | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        rows, bias = self.candidates(network, encoding)
        grid = context.residual_grid() if context is not None else None
        if grid is None or rows.shape[0] == 0:
            raise InputError("residual-spectrum needs a signal with a residual grid (e.g. image)")
        residual, spacing = grid
        if context.backend is not None:
            power = context.backend.power_spectrum(residual)
            power = power.detach().cpu().numpy() if hasattr(power, "detach") else np.asarray(power.get())
        else:
            dims = tuple(range(residual.dim() - 1))
            power = (torch.fft.fftn(residual.double(), dim=dims).abs() ** 2).sum(-1).cpu().numpy()
        freq = rows.numpy() * network.omega(0)
        scores = spectrum_scores(power, spacing, freq, self.radius)
        # distinct picks: identical candidates (two omega_j doubling to one point) count once
        order = np.argsort(-scores, kind="stable")
        picked, seen = [], set()
        for i in order:
            key = tuple(np.round(rows[i].numpy(), 9))
            if key in seen or scores[i] <= 0:
                continue
            seen.add(key)
            picked.append(int(i))
            if len(picked) == k:
                break
        idx = torch.tensor(picked, dtype=torch.long)
        dtype = network.weights[0].dtype
        return rows[idx].to(dtype), bias[idx].to(dtype)


@hookimpl
def aire_add_densification_policies() -> dict:
    return {"residual-spectrum": ResidualSpectrum}
