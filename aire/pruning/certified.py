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
import time
from typing import Any, Mapping

import attrs
import numpy as np
import torch

from aire.hookspecs import hookimpl
from aire.interfaces import Network, PruningCriterion
from aire.theory.bounds import downstream_gains, vector_stability_bound


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
    """What a change of the network (a cut, with its compensation if any) will do, predicted before it.

    change_bound: RIGOROUS upper bound on sup over x in [-1, 1]^d of |f(x) - f~(x)|_inf for the exact
    functions of the stored weights (`vector_bound`, tightened by the branch-and-bound `certificate`
    when one was run); the float32 rounding of evaluating either network is not in it
    (aire.testing.rounding_bound(net, x, torch.float32) bounds that).
    rms_change: root mean square of f~ - f over the sample points (over points and channels): measured.
    psnr_drop_bound: RIGOROUS upper bound, in dB, on the drop of a PSNR computed as the signal's is:
    on outputs clamped to a range that holds the targets, against those targets, at any points of the
    domain. Clamping is a projection onto an interval, so |clamp f~ - clamp f| <= |f~ - f| <= B
    pointwise; with r the clamped residual now, the residual after the change is r + (clamp f~ -
    clamp f), whose root mean square is at most RMSE + B (Minkowski). Hence

        PSNR_after >= PSNR - 20 log10(1 + B / RMSE),   RMSE = peak 10^(-PSNR / 20),

    B = change_bound, peak the width of the clamp range on the output scale (2 for aire's images:
    outputs in [-1, 1], PSNR on [0, 1]). Add the two evaluations' rounding to B to cover the float
    arithmetic of a measured drop. psnr_drop_estimate: an ESTIMATE. With targets at the sample points,
    10 log10 of the ratio of the changed to the current network's mean square error there (Monte
    Carlo); without, 10 log10(1 + rms_change^2 / MSE), exact when the change is uncorrelated with the
    current residual (fitted networks tend to lose more: the change adds to the residual).
    A field that is None has its reason in `notes` (e.g. a signal whose quality is no PSNR).
    """

    change_bound: float
    rms_change: float
    psnr_drop_bound: float | None
    psnr_drop_estimate: float | None
    vector_bound: float = 0.0  # max_o V[o] . |dz| (aire.theory.bounds.vector_stability_bound): rigorous, instant
    certificate: Any = None  # aire.theory.boundprop.Certificate when the branch and bound ran
    notes: Mapping[str, str] = attrs.field(factory=dict)  # field -> why it is None / how the certificate ended
    seconds: float = 0.0  # wall time of the prediction

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record for a history event: numbers, or for a value that could not be had, the
        sentence saying why (never a silent null). No wall times: a fit's events are reproducible
        (a resumed fit's equal the uninterrupted one's); `seconds` stays on the object."""
        cert = self.certificate
        return {
            "change_bound": self.change_bound, "vector_bound": self.vector_bound,
            "certificate": self.notes.get("certificate", "") if cert is None else {
                "bound": cert.bound, "observed": cert.observed, "boxes": cert.boxes,
                "stopped": self.notes.get("certificate_stopped", "")},
            "rms_change": self.rms_change,
            "psnr_drop_bound": self.notes.get("psnr_drop_bound", "") if self.psnr_drop_bound is None
            else self.psnr_drop_bound,
            "psnr_drop_estimate": self.notes.get("psnr_drop_estimate", "") if self.psnr_drop_estimate is None
            else self.psnr_drop_estimate}


def _changed_copy(network: Network, layer: int, new_weight: np.ndarray, new_bias: np.ndarray) -> Network:
    """A copy of the network with canonical layer `layer` replaced (stored form, the network's dtype).
    A canonical pair that came from this network (or with entries zeroed) converts back exactly."""
    other = copy.deepcopy(network)
    scale = other.omega(layer) if layer < other.num_sine_layers else 1.0
    w, b = other.weights[layer], other.biases[layer]
    w.copy_(torch.as_tensor(np.asarray(new_weight) / scale, dtype=w.dtype, device=w.device))
    b.copy_(torch.as_tensor(np.asarray(new_bias) / scale, dtype=b.dtype, device=b.device))
    return other


@torch.no_grad()
def predict_change(network: Network, change: tuple[int, Any, Any], psnr: float | None = None,
                   points: torch.Tensor | None = None, targets: torch.Tensor | None = None, *, peak: float = 2.0,
                   certify: Mapping[str, Any] | None = None) -> CutPrediction:
    """Predict what changing canonical layer change[0] to (change[1], change[2]) does (before doing it).

    A cut of sine layer i is the change of canonical layer i + 1 with the cut columns zeroed
    (aire.theory.boundprop.removal_change); with least-squares compensation, the kept columns refitted
    too: either way one canonical layer changes, so one bound covers it. psnr: the current PSNR in dB
    (None: no PSNR fields, with the reason in notes); points (n, d): inputs in the network's input
    space; targets (n, channels): the signal there, if known (see CutPrediction for each field).
    certify: settings of aire.theory.boundprop.certify_many (max_boxes, time_limit, initial, order,
    device) to tighten the vector bound by branch and bound; None keeps the vector bound. The
    certificate handles sine activations only: for FINER the vector bound is kept and notes say so.
    The network is not modified. Raises ValueError for a change of a layer the network does not have.
    """
    start = time.perf_counter()
    layer, new_w, new_b = int(change[0]), np.asarray(change[1], dtype=np.float64), np.asarray(change[2], dtype=np.float64)
    if not 0 <= layer < len(network.weights):
        raise ValueError(f"canonical layer {layer} does not exist (the network has 0..{len(network.weights) - 1})")
    notes: dict[str, str] = {}
    vector = vector_stability_bound(network, layer, new_w, new_b)
    bound, cert = vector, None
    if certify is None:
        notes["certificate"] = "not run (no box budget): change_bound is the vector bound"
    elif getattr(network, "activation", "sine") != "sine":
        notes["certificate"] = f"not run: the branch and bound handles sine activations only ({network.activation})"
    elif vector == 0.0:
        notes["certificate"] = "not needed: the change is zero"
    else:
        from aire.theory.boundprop import certify_many

        settings = dict(certify)
        cert = certify_many(network, [(layer, new_w, new_b)], **settings)[0]
        bound = min(vector, cert.bound)
        if cert.bound <= settings.get("target_ratio", 4.0) * cert.observed:
            notes["certificate_stopped"] = "converged: the bound is within target_ratio of the change it saw"
        elif cert.boxes >= settings.get("max_boxes", 100_000):
            notes["certificate_stopped"] = "its box budget was spent"
        else:
            notes["certificate_stopped"] = f"its time limit ({settings.get('time_limit')} s) was reached"
    rms, estimate = 0.0, None
    if points is not None:
        cut = _changed_copy(network, layer, new_w, new_b)
        x = points.to(device=network.weights[0].device, dtype=network.weights[0].dtype)
        before, after = network(x).double(), cut(x).double()
        rms = float((after - before).pow(2).mean().sqrt())
        if targets is not None:
            y = targets.to(device=before.device, dtype=torch.float64)
            now = float((before - y).pow(2).mean())
            estimate = 10 * math.log10(float((after - y).pow(2).mean()) / now) if now > 0 else None
            if estimate is None:
                notes["psnr_drop_estimate"] = "the network is exact at the sample points: no ratio of errors"
    else:
        notes["psnr_drop_estimate"] = "no sample points given"
    drop_bound = None
    if psnr is None:
        notes["psnr_drop_bound"] = notes["psnr_drop_estimate"] = "the signal's quality is not a PSNR of the network output"
        estimate = None
    elif not math.isfinite(psnr):
        notes["psnr_drop_bound"] = f"the current PSNR is {psnr}: no error to compare the change with"
    else:
        rmse = peak * 10 ** (-psnr / 20)
        drop_bound = 20 * math.log10(1 + bound / rmse)
        if estimate is None and targets is None and points is not None:
            estimate = 10 * math.log10(1 + rms**2 / rmse**2)
    return CutPrediction(change_bound=float(bound), rms_change=rms, psnr_drop_bound=drop_bound,
                         psnr_drop_estimate=estimate, vector_bound=float(vector), certificate=cert, notes=notes,
                         seconds=time.perf_counter() - start)


def predict_cut(network: Network, layer: int, neurons: Any, psnr: float | None, points: torch.Tensor | None = None,
                targets: torch.Tensor | None = None, *, peak: float = 2.0, certify: bool | Mapping[str, Any] = False,
                **certify_settings: Any) -> CutPrediction:
    """Predict the effect of removing `neurons` of sine layer `layer` (call before the cut): see
    predict_change and CutPrediction. psnr: the current PSNR in dB (MSE = peak^2 10^(-psnr/10); aire's
    image PSNR is on the [0, 1] scale of outputs in [-1, 1], i.e. peak = 2); points (n, d) e.g. from
    ``signal.sample(4096, generator)``; certify=True (with certify_many's settings as keywords) or a
    mapping of them runs the branch-and-bound certificate. Removing nothing predicts exactly nothing."""
    from aire.theory.boundprop import removal_change

    idx = np.asarray(neurons.cpu() if isinstance(neurons, torch.Tensor) else neurons, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return CutPrediction(0.0, 0.0, 0.0, 0.0, notes={"certificate": "not needed: nothing is removed"})
    settings = dict(certify) if isinstance(certify, Mapping) else (dict(certify_settings) if certify else None)
    return predict_change(network, removal_change(network, layer, idx), psnr, points, targets, peak=peak,
                          certify=settings)
