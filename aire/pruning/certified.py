"""Theorem 2 as a pruning guide: rank neurons by a certified bound on what removing each does to f,
and predict what a cut costs in PSNR before making it.

Removing neuron j of sine layer i moves the pre-activations of layer i+1 by -A_{i+1}[:, j] h_ij(x),
|h_ij| <= 1, so by the vector form of Theorem 2 (aire.theory.bounds.downstream_gains)

    sup_x |f(x) - f_without_j(x)|_inf <= max_o V[o] . |A_{i+1}[:, j]|,   V = |W_out| |A_L| ... |A_{i+2}|

(Lipschitz constants included for FINER). Unlike the column L1 norm (the paper's criterion, which is
this bound with every row of V replaced by Theorem 2's scalar product of norms), it weighs each
outgoing weight by how strongly the neuron it feeds reaches the output. The score is rigorous and
costs one matrix product per layer, so it can rank every neuron at every cut; the branch-and-bound
certificate (aire.theory.boundprop) is far tighter but costs seconds per set of neurons.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import attrs
import numpy as np
import torch

from aire.hookspecs import hookimpl
from aire.interfaces import Network, PruningCriterion
from aire.theory.bounds import downstream_gains, vector_pruning_bound


def certified_scores(network: Network, layer: int) -> torch.Tensor:
    """(width,) rigorous bounds on sup_x |f - f_without_j|_inf for each neuron j of sine layer `layer`."""
    pairs = network.canonical()
    gain = downstream_gains(network, layer + 1, pairs)  # (outputs, width of layer + 1)
    scores = (gain @ np.abs(pairs[layer + 1][0])).max(axis=0)
    device = network.weights[0].device
    return torch.as_tensor(scores, dtype=torch.float64, device=device)


class CertifiedCriterion(PruningCriterion):
    """Scores = certified bound on the output change of removing each neuron alone."""

    def scores(self, network: Network, layer: int) -> torch.Tensor:
        return certified_scores(network, layer)


@hookimpl
def aire_add_pruning_criteria() -> dict:
    return {"certified": CertifiedCriterion}


@attrs.frozen
class CutPrediction:
    """What removing a set of neurons will do, predicted before the cut.

    change_bound: rigorous sup over [-1, 1]^d of |f - f_cut|_inf (vector Theorem 2, or the
    branch-and-bound certificate when asked for). rms_change: root mean square of f_cut - f over the
    sample points (over points and channels). psnr_drop_bound: 20 log10(1 + change_bound / rms
    error now), a rigorous upper bound on the drop by Minkowski's inequality (clamping to the
    target range only lowers it). psnr_drop_estimate: with targets at the sample points, the ratio
    of the cut network's to the current network's mean square error there (a Monte-Carlo estimate of
    the drop); without, 10 log10(1 + rms_change^2 / mse now), exact when the change is uncorrelated
    with the current residual (fitted networks tend to lose more: the change adds to the residual).
    """

    change_bound: float
    rms_change: float
    psnr_drop_bound: float
    psnr_drop_estimate: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready fields for a history event (prefixed so they read on their own)."""
        return {"predicted_psnr_drop": self.psnr_drop_estimate, "psnr_drop_bound": self.psnr_drop_bound,
                "change_bound": self.change_bound, "predicted_rms_change": self.rms_change}


@torch.no_grad()
def predict_cut(network: Network, layer: int, neurons: Any, psnr: float, points: torch.Tensor,
                targets: torch.Tensor | None = None, *, peak: float = 2.0, certify: bool = False,
                **certify_settings: Any) -> CutPrediction:
    """Predict the PSNR drop of removing `neurons` of sine layer `layer` (call before the cut).

    psnr: the current PSNR in dB (MSE = peak^2 10^(-psnr/10); aire's image PSNR is on the [0, 1]
    scale of outputs in [-1, 1], i.e. peak = 2 on the network's scale). points (n, d): inputs in
    the network's input space, e.g. from ``signal.sample(4096, generator)``; targets (n, channels):
    the signal's values there, when the task has them (then the estimate sees the residual too).
    certify=True uses the branch-and-bound certificate (aire.theory.boundprop.certify_removal,
    settings passed on) for change_bound, else the vector bound. The network is not modified.
    """
    idx = torch.as_tensor(np.asarray(neurons, dtype=np.int64).reshape(-1))
    mse = peak**2 * 10 ** (-psnr / 10)
    if idx.numel() == 0:
        return CutPrediction(0.0, 0.0, 0.0, 0.0)
    if certify:
        from aire.theory.boundprop import certify_removal

        bound = min(certify_removal(network, layer, idx.numpy(), **certify_settings).bound,
                    vector_pruning_bound(network, layer, idx.numpy()))
    else:
        bound = vector_pruning_bound(network, layer, idx.numpy())
    cut = copy.deepcopy(network)
    cut.outgoing(layer)[:, idx.to(cut.outgoing(layer).device)] = 0.0  # what removal does to f
    x = points.to(device=network.weights[0].device, dtype=network.weights[0].dtype)
    before, after = network(x).double(), cut(x).double()
    rms = float((after - before).pow(2).mean().sqrt())
    if targets is not None:
        y = targets.to(device=before.device, dtype=torch.float64)
        estimate = 10 * math.log10(float((after - y).pow(2).mean()) / max(float((before - y).pow(2).mean()), 1e-300))
    else:
        estimate = 10 * math.log10(1 + rms**2 / mse)
    return CutPrediction(change_bound=float(bound), rms_change=rms,
                         psnr_drop_bound=20 * math.log10(1 + bound / math.sqrt(mse)), psnr_drop_estimate=estimate)
