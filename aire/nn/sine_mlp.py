"""Sinusoidal MLP (SIREN, FINER) with real neuron removal and input-frequency insertion.

Stored form (SIREN's): h_i = act(w0_i * (W_i h_{i-1} + b_i)), f = W_out h_L + b_out, with
w0_0 = omega0_first and w0_i = omega0_hidden. `canonical()` absorbs the omega_0 factors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aire.config import NetworkConfig
from aire.interfaces import Encoding, Network
from aire.nn.surgery import append_index, keep_index, remap_parameter

ACTIVATIONS = ("sine", "finer")


def finer_activation(z: torch.Tensor, omega0: float) -> torch.Tensor:
    """FINER's variable-periodic sine sin(w0 (|z| + 1) z); the scale is not differentiated (as in FINER)."""
    return torch.sin(omega0 * (z.detach().abs() + 1.0) * z)


class SineMLP(Network):
    """A SIREN/FINER MLP whose layers are plain parameter tensors that surgery can resize."""

    def __init__(self, config: NetworkConfig, encoding: Encoding, activation: str = "sine", seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.config = config
        self.encoding = encoding
        self.activation = activation
        self.omega0_first = float(config.omega0_first)
        self.omega0_hidden = float(config.omega0_hidden)
        sizes = [config.in_features, *config.widths, config.out_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        gen = torch.Generator().manual_seed(int(seed))
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = torch.empty(n_out, n_in, dtype=torch.float64)  # initialised in float64, then cast
            b = torch.empty(n_out, dtype=torch.float64)
            if i == 0:
                encoding.initialize(w, b, self.omega0_first, gen)
                if config.first_bias_scale is not None:
                    b.uniform_(-config.first_bias_scale, config.first_bias_scale, generator=gen)
            else:
                bound = math.sqrt(6.0 / n_in) / self.omega0_hidden
                w.uniform_(-bound, bound, generator=gen)
                b.uniform_(-1.0 / math.sqrt(n_in), 1.0 / math.sqrt(n_in), generator=gen)
            self.weights.append(nn.Parameter(w.to(dtype), requires_grad=(i > 0 or encoding.trainable)))
            self.biases.append(nn.Parameter(b.to(dtype), requires_grad=(i > 0 or encoding.trainable)))

    # ----------------------------------------------------------------- evaluation
    def omega(self, layer: int) -> float:
        """The omega_0 factor of sine layer `layer`."""
        return self.omega0_first if layer == 0 else self.omega0_hidden

    @property
    def num_sine_layers(self) -> int:
        return len(self.weights) - 1

    def sine_layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Output of sine layer i given its input h (the first layer always in full precision)."""
        if i == 0 and torch.is_autocast_enabled(h.device.type):
            # under bf16 autocast the first pre-activation (up to ~omega_0 in size) would lose ~0.1 rad
            with torch.autocast(h.device.type, enabled=False):
                return self._sine_layer(i, h.float())
        return self._sine_layer(i, h)

    def _sine_layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        w0 = self.omega(i)
        if self.activation == "sine":
            # omega_0 folded into the (small) weight instead of the (large) activation: one
            # elementwise pass fewer per layer forward and backward, same function.
            return torch.sin(F.linear(h, self.weights[i] * w0, self.biases[i] * w0))
        return finer_activation(F.linear(h, self.weights[i], self.biases[i]), w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        last = len(self.weights) - 1
        for i in range(last):
            h = self.sine_layer(i, h)
        return F.linear(h, self.weights[last], self.biases[last])

    def hidden_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every sine layer (for theory checks and criteria that look at activations)."""
        outs, h = [], x
        for i in range(len(self.weights) - 1):
            h = self.sine_layer(i, h)
            outs.append(h)
        return outs

    # ---------------------------------------------------------------- description
    def widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def outgoing(self, layer: int) -> torch.Tensor:
        """The matrix whose columns are the outgoing weights of sine layer `layer`'s neurons."""
        return self.weights[layer + 1]

    def canonical(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(Omega, phi), (A_1, c_1), ..., (W_out, b_out)] in float64 with omega_0 absorbed.

        For FINER the pairs are likewise scaled by omega_0 and the activation on the scaled
        pre-activation u is sin((1 + |u| / omega_0) u) (see `canonical_activation`).
        """
        out = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            scale = self.omega(i) if i < len(self.weights) - 1 else 1.0
            out.append((w.detach().double().cpu().numpy() * scale, b.detach().double().cpu().numpy() * scale))
        return out

    def canonical_activation(self, layer: int):
        """The elementwise function applied to canonical pre-activations of sine layer `layer`."""
        if self.activation == "sine":
            return np.sin
        w0 = self.omega(layer)
        return lambda u: np.sin((1.0 + np.abs(u) / w0) * u)

    def architecture(self) -> dict[str, Any]:
        """JSON-ready shape and settings, enough to rebuild the network (see aire.io)."""
        return {
            "in_features": int(self.weights[0].shape[1]),
            "widths": self.widths()[:-1],
            "out_features": int(self.weights[-1].shape[0]),
            "omega0_first": self.omega0_first,
            "omega0_hidden": self.omega0_hidden,
            "activation": self.activation,
            "encoding": self.config.encoding,
            "network": self.config.network if self.config.network not in ("siren", "finer")
            else ("finer" if self.activation == "finer" else "siren"),
        }

    # -------------------------------------------------------------------- surgery
    @torch.no_grad()
    def remove_neurons(self, layer: int, neurons: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        if not 0 <= layer < self.num_sine_layers:
            raise IndexError(f"sine layer {layer} does not exist (network has {self.num_sine_layers})")
        neurons = torch.as_tensor(neurons, dtype=torch.long).flatten().unique()
        width = self.weights[layer].shape[0]
        if neurons.numel() >= width:
            raise ValueError(f"cannot remove all {width} neurons of sine layer {layer}")
        if neurons.numel() == 0:
            return
        keep = keep_index(width, neurons)
        self.weights[layer] = remap_parameter(self.weights[layer], 0, keep, optimizer)
        self.biases[layer] = remap_parameter(self.biases[layer], 0, keep, optimizer)
        self.weights[layer + 1] = remap_parameter(self.weights[layer + 1], 1, keep, optimizer)

    @torch.no_grad()
    def insert_input_frequencies(self, weight_rows: torch.Tensor, bias: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        added = int(weight_rows.shape[0])
        if added == 0:
            return
        m = self.weights[0].shape[0]
        index = append_index(m, added)
        self.weights[0] = remap_parameter(self.weights[0], 0, index, optimizer)
        self.biases[0] = remap_parameter(self.biases[0], 0, index, optimizer)
        self.weights[1] = remap_parameter(self.weights[1], 1, index, optimizer)  # zero outgoing columns: f unchanged
        self.weights[0].data[m:] = weight_rows.to(self.weights[0])
        self.biases[0].data[m:] = bias.to(self.biases[0])
