"""Theorem 2 of the AIRe paper and its pruning corollary, on the canonical form.

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
    constants for FINER), which is at most Theorem 2's sum of column L1 norms times that product.
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


def downstream_gains(network: Any, layer: int, pairs: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """V (outputs x width of canonical layer `layer`): |f_o| moves by at most sum_r V[o, r] |dz_r| when
    the pre-activations z of canonical layer `layer` move by dz (the output layer's "pre-activation"
    is f itself, so V is the identity there).

    V = |W_out| Lip_L |A_L| ... Lip_{layer+1} |A_{layer+1}| Lip_layer: the elementwise-absolute
    product of the downstream matrices with each sine layer's Lipschitz constant (1 for sine, see
    activation_lipschitz for FINER). Rigorous (|d sin| <= |dz| neuron by neuron), and each row sum
    is at most Theorem 2's product of norms, as || |M| |N| ||_inf <= ||M||_inf ||N||_inf.
    """
    pairs = pairs or network.canonical()
    last = len(pairs) - 1
    out = pairs[last][0].shape[0]
    gain = np.eye(out)
    for l in range(last, layer, -1):  # pass back through layer l's matrix, then layer l-1's activation
        gain = gain @ np.abs(pairs[l][0])
        gain = gain * activation_lipschitz(network, l - 1, pairs)
    return gain * (1 + 4 * np.finfo(np.float64).eps * (last - layer + 1))


def vector_stability_bound(network: Any, layer: int, new_weight: Any, new_bias: Any) -> float:
    """Theorem 2 with vectors instead of norms: max_o V[o] . (|A~ - A| 1 + |c~ - c|), V from
    downstream_gains. Rigorous on [-1, 1]^d, never above stability_bound, cheap (a few mat-vecs).
    For FINER, the changed layer's own Lipschitz constant is taken at the larger of the two ranges."""
    pairs = network.canonical()
    w, b = pairs[layer]
    dw = np.abs(w - np.asarray(new_weight, dtype=np.float64))
    db = np.abs(b - np.asarray(new_bias, dtype=np.float64))
    change = dw.sum(axis=1) + db  # |dz| of every neuron of the changed layer (inputs in [-1, 1])
    gain = downstream_gains(network, layer, pairs)
    if network.activation != "sine" and layer < len(pairs) - 1:  # the changed layer's own activation
        alt = list(pairs)
        alt[layer] = (np.asarray(new_weight, dtype=np.float64), np.asarray(new_bias, dtype=np.float64))
        ratio = max(1.0, activation_lipschitz(network, layer, alt) / activation_lipschitz(network, layer, pairs))
        gain = gain * ratio
    return float((gain @ change).max()) * (1 + 4 * np.finfo(np.float64).eps * (w.shape[1] + 2))


def vector_pruning_bound(network: Any, layer: int, neurons: Any) -> float:
    """Removing `neurons` of sine layer `layer` (zeroing those columns of canonical layer layer+1),
    bounded with vectors: max_o V[o] . |A_{layer+1}[:, neurons]| 1 (each sine output is in [-1, 1])."""
    pairs = network.canonical()
    w, b = pairs[layer + 1]
    idx = np.asarray(neurons, dtype=np.int64).reshape(-1)
    new_w = w.copy()
    new_w[:, idx] = 0.0
    return vector_stability_bound(network, layer + 1, new_w, b)
