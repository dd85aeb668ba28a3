"""Structural surgery on parameters: real smaller/larger tensors, Adam state carried along.

Each resized tensor becomes a new Parameter that takes the old one's place in the optimizer's
param groups; its per-parameter state tensors are remapped with the same index map, so the
optimizer object (and its settings) survive the surgery.
"""

from __future__ import annotations

import torch


def remap(tensor: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    """Gather `tensor` along `dim` by `index`; entries with index -1 become zeros (new neurons)."""
    index = index.to(device=tensor.device, dtype=torch.long)
    shape = list(tensor.shape)
    shape[dim] = index.numel()
    out = torch.zeros(shape, dtype=tensor.dtype, device=tensor.device)
    keep = (index >= 0).nonzero().flatten()
    if keep.numel():
        out.index_copy_(dim, keep, tensor.index_select(dim, index[keep]))
    return out


def remap_parameter(param: torch.nn.Parameter, dim: int, index: torch.Tensor,
                    optimizer: torch.optim.Optimizer | None) -> torch.nn.Parameter:
    """A new parameter: `param` resized along `dim`; the optimizer is switched over to it.

    Surviving entries keep their value and Adam moments; new entries start at zero with zero
    moments. The step counter is kept, so bias correction stays that of a warm optimizer. A new
    object is needed because autograd caches a leaf's shape.
    """
    new = torch.nn.Parameter(remap(param.detach(), dim, index), requires_grad=param.requires_grad)
    if optimizer is None:
        return new
    for group in optimizer.param_groups:
        for i, p in enumerate(group["params"]):
            if p is param:
                group["params"][i] = new
    state = optimizer.state.pop(param, None)
    if state:
        optimizer.state[new] = {
            key: remap(value, dim, index) if torch.is_tensor(value) and value.shape == param.shape and value.dim() > 0
            else value
            for key, value in state.items()
        }
    return new


def keep_index(size: int, removed: torch.Tensor) -> torch.Tensor:
    """Indices 0..size-1 without `removed`, in order."""
    mask = torch.ones(size, dtype=torch.bool)
    mask[removed.cpu().long()] = False
    return mask.nonzero().flatten()


def append_index(size: int, added: int) -> torch.Tensor:
    """Index map that keeps all `size` entries and appends `added` new (zero) ones."""
    return torch.cat([torch.arange(size), torch.full((added,), -1, dtype=torch.long)])
