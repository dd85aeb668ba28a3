"""Import SIREN/FINER networks trained by other codebases into aire's SineMLP, exactly.

Every layout below computes h_i = act(w0_i * (W_i h_{i-1} + b_i)) with the bias *inside* the omega_0
product, and a linear last layer, which is what SineMLP stores; the tensors are copied as they are
(a missing bias, ``use_bias=False``, is zero) and only omega_0 has to be known. Layouts, read from each
codebase's source:

* ``siren-pytorch`` (lucidrains/siren-pytorch ``SirenNet``): ``layers.N.weight``/``bias`` and
  ``last_layer.weight``/``bias``; ``Siren.forward`` is ``sin(w0 * F.linear(x, W, b))`` with
  ``w0_initial`` (default 30) in the first layer and ``w0`` (default **1**) in the others; the last layer's
  ``final_activation`` must be the default identity. A ``SirenWrapper`` state dict (``net.`` prefix, a
  ``grid`` buffer) is accepted; one with a latent modulator is not. omega_0 is not in the state dict:
  give it when the model was built with other values.
* ``siren-bvp`` (vsitzmann/siren ``modules.SingleBVPNet``, ``type='sine'``, ``mode='mlp'``):
  ``net.net.N.0.weight``/``bias``; ``Sine`` is ``sin(30 * input)`` in every layer, outermost linear.
* ``siren-notebook`` (the ``Siren`` class of vsitzmann/siren's explore_siren.ipynb, and of FINER's
  models.py): ``net.N.linear.weight``/``bias``, last ``net.L.weight``/``bias`` (``outermost_linear=True``);
  ``sin(omega_0 * linear(x))`` with first_omega_0 / hidden_omega_0 (defaults 30, 30).
* ``finer`` (liuzhen0212/FINER models.py ``Finer``): the same names as ``siren-notebook``, activation
  ``sin(omega_0 * (|z| + 1) * z)`` with z = linear(x); these two cannot be told apart by their names,
  so a ``net.N.linear`` state dict needs the layout named.

Anything else is refused in one line naming what was expected (aire.errors.InputError).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import attrs
import torch

from aire.config import NetworkConfig
from aire.errors import InputError

#: layout name -> (what its state dict looks like, default (omega0_first, omega0_hidden), activation)
LAYOUTS: dict[str, tuple[str, tuple[float, float], str]] = {
    "siren-pytorch": ("layers.N.weight + last_layer.weight (lucidrains SirenNet)", (30.0, 1.0), "sine"),
    "siren-bvp": ("net.net.N.0.weight (vsitzmann/siren SingleBVPNet)", (30.0, 30.0), "sine"),
    "siren-notebook": ("net.N.linear.weight + net.L.weight (vsitzmann/siren notebook Siren)", (30.0, 30.0), "sine"),
    "finer": ("net.N.linear.weight + net.L.weight (liuzhen0212/FINER Finer)", (30.0, 30.0), "finer"),
}
EXPECTED = ("an aire run folder (model.safetensors + model.json), or a state dict (.pt, .pth, .safetensors) "
            "in one of the layouts " + "; ".join(f"{k}: {v[0]}" for k, v in LAYOUTS.items()))


@attrs.frozen
class Imported:
    """A network read from another codebase: its layers as (weight, bias) pairs, first to last."""

    layout: str
    layers: list[tuple[torch.Tensor, torch.Tensor]]
    omega0_first: float
    omega0_hidden: float
    activation: str

    @property
    def widths(self) -> list[int]:
        """Sine-layer widths (the first being the number of input frequencies)."""
        return [int(w.shape[0]) for w, _ in self.layers[:-1]]

    @property
    def in_features(self) -> int:
        return int(self.layers[0][0].shape[1])

    @property
    def out_features(self) -> int:
        return int(self.layers[-1][0].shape[0])


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file or a torch state dict (.pt/.pth, loaded with weights_only=True;
    a checkpoint holding it under "state_dict" or "model" is unwrapped). One-line InputError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            data: Any = load_file(str(path))
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read model {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise InputError(f"{path}: not a state dict of tensors; expected {EXPECTED}")
    return {str(k): v for k, v in data.items()}


def detect_layout(tensors: Mapping[str, torch.Tensor]) -> str:
    """The layout name of a state dict by its parameter names; InputError when none or two match."""
    keys = set(tensors)
    if any(re.fullmatch(r"(net\.)?layers\.\d+\.weight", k) for k in keys) and \
            any(re.fullmatch(r"(net\.)?last_layer\.weight", k) for k in keys):
        return "siren-pytorch"
    if any(re.fullmatch(r"net\.net\.\d+\.0\.weight", k) for k in keys):
        return "siren-bvp"
    if any(re.fullmatch(r"net\.\d+\.linear\.weight", k) for k in keys):
        raise InputError("net.N.linear.weight is the layout of both the SIREN notebook's Siren and FINER's Finer; "
                         "say which with --layout siren-notebook or --layout finer")
    shown = ", ".join(sorted(keys)[:4]) + (", ..." if len(keys) > 4 else "")
    raise InputError(f"unknown model layout (parameters {shown}); expected {EXPECTED}")


def _indexed(tensors: Mapping[str, torch.Tensor], pattern: str) -> dict[int, str]:
    """{N: key} of the keys matching `pattern` with one (\\d+) group."""
    found = {}
    for key in tensors:
        m = re.fullmatch(pattern, key)
        if m:
            found[int(m.group(1))] = key
    return found


def _pairs(tensors: Mapping[str, torch.Tensor], weights: list[str], layout: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pairs = []
    for name in weights:
        w = tensors[name]
        bias_name = name[: -len("weight")] + "bias"
        b = tensors.get(bias_name, torch.zeros(w.shape[0], dtype=w.dtype))  # use_bias=False
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise InputError(f"{layout} model: {name} has shape {tuple(w.shape)} and its bias {tuple(b.shape)}; "
                             "expected a matrix and a vector of its rows")
        pairs.append((w.detach().float().clone(), b.detach().float().clone()))
    for (w, _), (w_next, _) in zip(pairs, pairs[1:]):
        if w_next.shape[1] != w.shape[0]:
            raise InputError(f"{layout} model: a layer with {w.shape[0]} outputs feeds one with {w_next.shape[1]} inputs")
    return pairs


def _consecutive(found: dict[int, str], what: str, layout: str) -> list[str]:
    if not found or sorted(found) != list(range(len(found))):
        raise InputError(f"{layout} model: {what} layers are numbered {sorted(found)}; expected 0, 1, 2, ...")
    return [found[i] for i in range(len(found))]


def layers_of(tensors: Mapping[str, torch.Tensor], layout: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (weight, bias) pairs of a state dict in `layout`, first layer to last; InputError when the
    state dict has extra parameters (a part the import would drop) or misses some."""
    if layout == "siren-pytorch":
        prefix = "net." if any(k.startswith("net.layers.") for k in tensors) else ""
        hidden = _consecutive(_indexed(tensors, re.escape(prefix) + r"layers\.(\d+)\.weight"), "sine", layout)
        last = prefix + "last_layer.weight"
        if last not in tensors:
            raise InputError(f"siren-pytorch model: {last} is missing")
        names = [*hidden, last]
        allowed = {prefix + "grid"} if prefix else set()
    elif layout == "siren-bvp":
        names = _consecutive(_indexed(tensors, r"net\.net\.(\d+)\.0\.weight"), "", layout)
        allowed = set()
    elif layout in ("siren-notebook", "finer"):
        sine = _indexed(tensors, r"net\.(\d+)\.linear\.weight")
        linear = _indexed(tensors, r"net\.(\d+)\.weight")
        n = len(sine)
        if sorted(sine) != list(range(n)) or sorted(linear) != [n]:
            raise InputError(f"{layout} model: expected sine layers net.0.linear ... net.{n - 1}.linear and a linear "
                             f"last layer net.{n}.weight (outermost_linear=True); found sine layers {sorted(sine)} "
                             f"and linear layers {sorted(linear)}")
        names = [sine[i] for i in range(n)] + [linear[n]]
        allowed = set()
    else:
        raise InputError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    used = {n for name in names for n in (name, name[: -len("weight")] + "bias")} | allowed
    extra = sorted(set(tensors) - used)
    if extra:
        raise InputError(f"{layout} model has parameters the import does not know ({', '.join(extra[:3])}"
                         f"{', ...' if len(extra) > 3 else ''}); expected only {LAYOUTS[layout][0]}")
    if len(names) < 2:
        raise InputError(f"{layout} model has {len(names)} layer; need at least one sine layer and a linear last layer")
    return _pairs(tensors, names, layout)


def import_state_dict(tensors: Mapping[str, torch.Tensor], layout: str | None = None, *,
                      omega0: float | None = None, omega0_hidden: float | None = None) -> Imported:
    """A state dict of another codebase as an :class:`Imported` network; `layout` None detects it by
    parameter names; omega0 / omega0_hidden None take the layout's defaults (siren-bvp is 30 in every layer)."""
    layout = layout or detect_layout(tensors)
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    layers = layers_of(tensors, layout)
    (first, hidden), activation = LAYOUTS[layout][1], LAYOUTS[layout][2]
    if layout == "siren-bvp" and ((omega0 not in (None, 30.0)) or (omega0_hidden not in (None, 30.0))):
        raise InputError("siren-bvp models use omega_0 = 30 in every layer (its Sine is sin(30 x)); "
                         "--omega0 and --omega0-hidden cannot change that")
    return Imported(layout, layers, float(first if omega0 is None else omega0),
                    float(hidden if omega0_hidden is None else omega0_hidden), activation)


def to_network(imported: Imported, encoding: str = "siren") -> Any:
    """The imported network as an aire SineMLP (network plugin siren or finer), weights copied exactly."""
    from aire.nn.factory import network_from_config

    config = NetworkConfig(in_features=imported.in_features, out_features=imported.out_features,
                           widths=tuple(imported.widths), omega0_first=imported.omega0_first,
                           omega0_hidden=imported.omega0_hidden,
                           network="finer" if imported.activation == "finer" else "siren", encoding=encoding)
    network = network_from_config(config, seed=0)
    with torch.no_grad():
        for i, (w, b) in enumerate(imported.layers):
            network.weights[i].copy_(w)
            network.biases[i].copy_(b)
    return network


def load_start(path: str | Path, layout: str | None = None, *, omega0: float | None = None,
               omega0_hidden: float | None = None) -> tuple[Any, dict[str, Any]]:
    """(SineMLP, description) of a network trained elsewhere: an aire run folder (or its
    model.safetensors, recognised by its model.json) or a state dict in one of LAYOUTS."""
    import aire

    path = Path(path)
    run_dir = path if path.is_dir() else path.parent
    if layout in (None, "aire") and (run_dir / "model.json").is_file() and (path.is_dir() or path.name == "model.safetensors"):
        if omega0 is not None or omega0_hidden is not None:
            raise InputError("an aire model records its omega_0; --omega0 and --omega0-hidden cannot change it")
        network = aire.load(run_dir)
        network.train()
        return network, {"path": str(path.resolve()), "layout": "aire"}
    if path.is_dir():
        raise InputError(f"{path} is a folder without an aire model (model.json); expected {EXPECTED}")
    if layout == "aire":
        raise InputError(f"{path} is not an aire model (no model.json beside it)")
    imported = import_state_dict(read_state_dict(path), layout, omega0=omega0, omega0_hidden=omega0_hidden)
    return to_network(imported), {"path": str(path.resolve()), "layout": imported.layout,
                                  "omega0": imported.omega0_first, "omega0_hidden": imported.omega0_hidden}
