"""Theorem 2 of SPEC section 2 and its pruning corollary, on the canonical form.

Canonical layers are numbered 0 (input layer: Omega, phi) to L+1 (output: W_out, b_out). With
inputs in [-1, 1]^d every layer's input is bounded by 1 in the max norm (sines are), so changing
layer k to (A~_k, c~_k) moves its pre-activation by at most ||A_k - A~_k||_inf + ||c_k - c~_k||_inf,
and each later layer multiplies that by its ||A_l||_inf and its activation's Lipschitz constant:
1 for sine; for FINER, sin((1 + |u|/w0) u) has derivative bounded by 1 + 2|u|/w0 on the range
|u| <= ||A_l||_inf + ||c_l||_inf that the layer can reach, which is what we use.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def inf_norm(matrix: np.ndarray) -> float:
    """Induced max norm: the largest row sum of |entries|."""
    return float(np.abs(matrix).sum(axis=1).max()) if matrix.size else 0.0


def activation_lipschitz(network: Any, layer: int, pairs: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Lipschitz constant of sine layer `layer`'s activation on the pre-activations it can reach."""
    if network.activation == "sine":
        return 1.0
    w, b = (pairs or network.canonical())[layer]
    reach = inf_norm(w) + float(np.abs(b).max(initial=0.0))
    return 1.0 + 2.0 * reach / network.omega(layer)


def _downstream_gain(network: Any, pairs: Sequence[tuple[np.ndarray, np.ndarray]], layer: int,
                     changed: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """prod over l > layer of ||A_l||_inf, times the Lipschitz constants of sine layers >= layer."""
    last = len(pairs) - 1
    gain = 1.0
    if layer < last:  # the changed layer's own activation
        lip = activation_lipschitz(network, layer, pairs)
        if changed is not None and network.activation != "sine":
            alt = list(pairs)
            alt[layer] = changed
            lip = max(lip, activation_lipschitz(network, layer, alt))
        gain *= lip
    for l in range(layer + 1, last + 1):
        gain *= inf_norm(pairs[l][0])
        if l < last:
            gain *= activation_lipschitz(network, l, pairs)
    return gain


def stability_bound(network: Any, layer: int, new_weight: Any, new_bias: Any) -> float:
    """Theorem 2: sup over x in [-1, 1]^d of |f(x) - f~(x)|_inf when canonical layer `layer` changes.

    `new_weight`/`new_bias` are in canonical form (omega_0 absorbed), like `network.canonical()`.
    """
    pairs = network.canonical()
    w, b = pairs[layer]
    dw = w - np.asarray(new_weight, dtype=np.float64)
    db = b - np.asarray(new_bias, dtype=np.float64)
    first = inf_norm(dw) + float(np.abs(db).max(initial=0.0))
    return first * _downstream_gain(network, pairs, layer, (np.asarray(new_weight), np.asarray(new_bias)))


def pruning_bound(network: Any, layer: int, neurons: Any) -> float:
    """Bound on the change of f from removing `neurons` of sine layer `layer` (0 = input frequencies).

    Removal zeroes columns `neurons` of canonical layer layer+1, so the bound is
    max_r sum_{j in neurons} |A_{layer+1, r j}| * prod_{l > layer+1} ||A_l||_inf (times Lipschitz
    constants for FINER), which is at most the SPEC's sum of column L1 norms times that product.
    """
    pairs = network.canonical()
    w, b = pairs[layer + 1]
    idx = np.asarray(neurons, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return 0.0
    first = float(np.abs(w[:, idx]).sum(axis=1).max())
    new_w = w.copy()
    new_w[:, idx] = 0.0
    return first * _downstream_gain(network, pairs, layer + 1, (new_w, b))
