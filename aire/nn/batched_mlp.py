"""N sinusoidal MLPs of one architecture as one network: stacked weights, batched matmuls.

Member n's layer i is ``weights[i][n]`` of shape (out, in) and ``biases[i][n]`` of shape (out,),
exactly a :class:`aire.nn.sine_mlp.SineMLP`'s tensors stacked along a new leading dimension, so a
forward pass of all members is one ``torch.baddbmm`` per layer. Surgery keeps the widths shared
(every member removes or adds the same number of neurons per layer) while each member chooses its
own neurons: the per-member index maps are gathered along the neuron dimension, and the optimizer's
per-member moments with them (:class:`aire.train.batched_adam.BatchedAdam`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from aire.nn.sine_mlp import SineMLP, finer_activation


def gather_members(tensor: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    """Per member n, ``tensor[n]`` gathered along `dim` (>= 1) by ``index[n]`` (N, k); entries with
    index -1 become zeros (new neurons)."""
    index = index.to(device=tensor.device, dtype=torch.long)
    shape = [1] * tensor.dim()
    shape[0], shape[dim] = index.shape[0], index.shape[1]
    full = list(tensor.shape)
    full[dim] = index.shape[1]
    picked = torch.gather(tensor, dim, index.clamp(min=0).view(shape).expand(full))
    return torch.where((index >= 0).view(shape), picked, torch.zeros((), dtype=tensor.dtype, device=tensor.device))


class BatchedSineMLP(nn.Module):
    """N SIREN/FINER MLPs with shared widths; built from (and split back into) SineMLPs.

    forward: x (N, P, in) or (1, P, in) shared by all members -> (N, P, out); forward_channels:
    the same as (N, out, P), the layout it computes in.
    """

    def __init__(self, networks: Sequence[SineMLP]) -> None:
        super().__init__()
        if not networks:
            raise ValueError("a batched network needs at least one member")
        first = networks[0]
        for net in networks:
            if type(net) is not SineMLP:
                raise TypeError(f"batched fitting supports aire's SineMLP only, not {type(net).__name__}")
            if net.architecture() != first.architecture() or net.weights[0].shape != first.weights[0].shape:
                raise ValueError("members of a batched network need one architecture")
        self.templates = list(networks)  # each member's encoding and config, for extraction
        self.activation = first.activation
        self.omega0_first, self.omega0_hidden = first.omega0_first, first.omega0_hidden
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([n.weights[i].detach() for n in networks]).clone(),
                          requires_grad=first.weights[i].requires_grad) for i in range(len(first.weights))])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([n.biases[i].detach() for n in networks]).clone(),
                          requires_grad=first.biases[i].requires_grad) for i in range(len(first.biases))])

    @property
    def members(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def num_sine_layers(self) -> int:
        return len(self.weights) - 1

    def omega(self, layer: int) -> float:
        return self.omega0_first if layer == 0 else self.omega0_hidden

    def widths(self) -> list[int]:
        return [int(w.shape[1]) for w in self.weights]

    def num_parameters(self) -> int:
        """Parameters of one member."""
        return sum(w[0].numel() + b[0].numel() for w, b in zip(self.weights, self.biases))

    def outgoing(self, layer: int) -> torch.Tensor:
        """(N, out, width): per member, the columns are the outgoing weights of sine layer `layer`."""
        return self.weights[layer + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, P, in), or (1, P, in) shared by all members -> (N, P, out), a transposed view of
        ``forward_channels``."""
        return self.forward_channels(x).transpose(1, 2)

    def forward_channels(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, P, in) or (1, P, in) -> (N, out, P): activations kept neurons-first, (N, width, P).

        Why this layout: each layer is then ``W_n @ H_n`` with the long pixel dimension as the GEMM's
        columns, which MKL's batched GEMM runs faster for these narrow layers than ``H_n @ W_n^T``
        (measured on one core, 64 members of 4096 pixels: the matmuls of a [50, 14, 14] step 67 ms
        against 111 ms), and shared inputs make the first layer one GEMM for all members,
        ``(N * width, in) @ (in, P)`` (its weight gradient likewise, instead of a batched GEMM over a
        broadcast input). Same products and sums as SineMLP's, in another order (rounding only)."""
        n, last = self.members, len(self.weights) - 1
        h = x
        for i in range(last):
            w, b, w0 = self.weights[i], self.biases[i], self.omega(i)
            if self.activation == "sine":  # omega_0 folded into the weight, as SineMLP does
                w, b = w * w0, b * w0
            if i > 0:
                z = torch.baddbmm(b.unsqueeze(2), w, h)
            elif x.shape[0] == 1:  # inputs shared by every member: one GEMM
                z = torch.addmm(b.reshape(-1, 1), w.reshape(-1, w.shape[2]), x[0].T).view(n, w.shape[1], -1)
            else:
                z = torch.baddbmm(b.unsqueeze(2), w, x.transpose(1, 2))
            h = torch.sin(z) if self.activation == "sine" else finer_activation(z, w0)
        return torch.baddbmm(self.biases[last].unsqueeze(2), self.weights[last], h)

    # ---------------------------------------------------------------- members
    @torch.no_grad()
    def member(self, n: int) -> SineMLP:
        """Member `n` as an ordinary SineMLP (copies of its tensors, its own encoding and config)."""
        template = self.templates[n]
        net = SineMLP.__new__(SineMLP)
        nn.Module.__init__(net)
        net.config, net.encoding, net.activation = template.config, template.encoding, template.activation
        net.omega0_first, net.omega0_hidden = template.omega0_first, template.omega0_hidden
        net.weights = nn.ParameterList([nn.Parameter(w[n].detach().clone(), requires_grad=w.requires_grad)
                                        for w in self.weights])
        net.biases = nn.ParameterList([nn.Parameter(b[n].detach().clone(), requires_grad=b.requires_grad)
                                       for b in self.biases])
        return net

    # ---------------------------------------------------------------- surgery
    def _remap(self, layer: int, index: torch.Tensor, optimizer: Any, after: Any = None) -> None:
        """Rows of layer `layer` and columns of layer+1 taken by the per-member `index` (N, k)."""
        for params, name, i, dim in ((self.weights, "weights", layer, 1), (self.biases, "biases", layer, 1),
                                     (self.weights, "weights", layer + 1, 2)):
            old = params[i]
            params[i] = nn.Parameter(gather_members(old.detach(), dim, index), requires_grad=old.requires_grad)
            if optimizer is not None:
                optimizer.remap((name, i), dim, index)

    @torch.no_grad()
    def remove_neurons(self, layer: int, neurons: torch.Tensor, optimizer: Any = None) -> None:
        """Remove, per member n, the neurons ``neurons[n]`` (N, k) of sine layer `layer`."""
        if not 0 <= layer < self.num_sine_layers:
            raise IndexError(f"sine layer {layer} does not exist (network has {self.num_sine_layers})")
        width = self.weights[layer].shape[1]
        neurons = torch.as_tensor(neurons, dtype=torch.long).to(self.weights[0].device)
        if neurons.shape[1] == 0:
            return
        if neurons.shape[1] >= width:
            raise ValueError(f"cannot remove all {width} neurons of sine layer {layer}")
        mask = torch.ones(self.members, width, dtype=torch.bool, device=neurons.device)
        mask.scatter_(1, neurons, False)
        if not bool((mask.sum(1) == width - neurons.shape[1]).all()):
            raise ValueError("each member must remove distinct neurons")
        keep = mask.nonzero()[:, 1].view(self.members, -1)  # ascending per member, as SineMLP keeps them
        self._remap(layer, keep, optimizer)

    @torch.no_grad()
    def insert_input_frequencies(self, weight_rows: torch.Tensor, bias: torch.Tensor, optimizer: Any = None) -> None:
        """Append, per member, input frequencies ``weight_rows`` (N, K, in) with ``bias`` (N, K) and zero
        outgoing columns (so every member's function is unchanged)."""
        added = int(weight_rows.shape[1])
        if added == 0:
            return
        m = self.weights[0].shape[1]
        index = torch.cat([torch.arange(m), torch.full((added,), -1)]).expand(self.members, -1)
        self._remap(0, index, optimizer)
        self.weights[0].data[:, m:] = weight_rows.to(self.weights[0])
        self.biases[0].data[:, m:] = bias.to(self.biases[0])
