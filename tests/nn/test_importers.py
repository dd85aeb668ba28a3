"""Importing other codebases' SIREN/FINER models: each layout is rebuilt here in a few lines of torch, with the
forward its source computes, and the imported aire network must compute the same function."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from aire.errors import InputError
from aire.nn.importers import detect_layout, import_state_dict, load_start, read_state_dict, to_network


# ---- lucidrains/siren-pytorch (siren_pytorch.py: Sine, Siren, SirenNet; final_activation identity) ----
class LucidSiren(nn.Module):
    def __init__(self, dim_in, dim_out, w0, is_first, use_bias=True, activation=None):
        super().__init__()
        std = (1 / dim_in) if is_first else math.sqrt(6.0 / dim_in) / w0
        self.weight = nn.Parameter(torch.empty(dim_out, dim_in).uniform_(-std, std))
        self.bias = nn.Parameter(torch.empty(dim_out).uniform_(-std, std)) if use_bias else None
        self.w0, self.activation = w0, activation

    def forward(self, x):
        out = F.linear(x, self.weight, self.bias)
        return torch.sin(self.w0 * out) if self.activation is None else self.activation(out)


class LucidSirenNet(nn.Module):
    def __init__(self, dim_in, dim_hidden, dim_out, num_layers, w0=1.0, w0_initial=30.0, use_bias=True):
        super().__init__()
        self.layers = nn.ModuleList([LucidSiren(dim_in if i == 0 else dim_hidden, dim_hidden,
                                                w0_initial if i == 0 else w0, i == 0, use_bias)
                                     for i in range(num_layers)])
        self.last_layer = LucidSiren(dim_hidden, dim_out, w0, False, use_bias, activation=nn.Identity())

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


# ---- vsitzmann/siren modules.py SingleBVPNet: net (FCBlock).net = Sequential(Sequential(BatchLinear, Sine)...) ----
class BvpSine(nn.Module):
    def forward(self, x):
        return torch.sin(30 * x)


class FCBlock(nn.Module):
    def __init__(self, in_features, out_features, num_hidden_layers, hidden_features):
        super().__init__()
        layers = [nn.Sequential(nn.Linear(in_features, hidden_features), BvpSine())]
        layers += [nn.Sequential(nn.Linear(hidden_features, hidden_features), BvpSine()) for _ in range(num_hidden_layers)]
        layers.append(nn.Sequential(nn.Linear(hidden_features, out_features)))  # outermost_linear=True
        self.net = nn.Sequential(*layers)
        with torch.no_grad():  # sine_init, then first_layer_sine_init, as FCBlock applies them
            for i, block in enumerate(self.net):
                n = block[0].weight.shape[1]
                bound = 1 / n if i == 0 else math.sqrt(6 / n) / 30
                block[0].weight.uniform_(-bound, bound)

    def forward(self, x):
        return self.net(x)


class SingleBVPNet(nn.Module):
    def __init__(self, out_features=1, in_features=2, hidden_features=256, num_hidden_layers=3):
        super().__init__()
        self.net = FCBlock(in_features, out_features, num_hidden_layers, hidden_features)

    def forward(self, coords):
        return self.net(coords)


# ---- explore_siren.ipynb Siren / FINER models.py Siren and Finer: net = Sequential(SineLayer..., Linear) ----
class SineLayer(nn.Module):
    def __init__(self, in_features, out_features, omega_0, finer=False, first=False):
        super().__init__()
        self.omega_0, self.finer = omega_0, finer
        self.linear = nn.Linear(in_features, out_features)
        with torch.no_grad():  # the sources' init_weights (is_first: 1/n, else sqrt(6/n)/omega_0)
            bound = 1 / in_features if first else math.sqrt(6 / in_features) / omega_0
            self.linear.weight.uniform_(-bound, bound)
            if first:
                self.linear.bias.uniform_(-1.0, 1.0)  # FINER's first_bias_scale: large biases exercise |z| + 1

    def forward(self, x):
        z = self.linear(x)
        if not self.finer:
            return torch.sin(self.omega_0 * z)
        with torch.no_grad():
            scale = torch.abs(z) + 1
        return torch.sin(self.omega_0 * scale * z)


class NotebookSiren(nn.Module):
    def __init__(self, in_features, hidden_features, hidden_layers, out_features, first_omega_0=30.0,
                 hidden_omega_0=30.0, finer=False):
        super().__init__()
        net = [SineLayer(in_features, hidden_features, first_omega_0, finer, first=True)]
        net += [SineLayer(hidden_features, hidden_features, hidden_omega_0, finer) for _ in range(hidden_layers)]
        net.append(nn.Linear(hidden_features, out_features))
        self.net = nn.Sequential(*net)

    def forward(self, coords):
        return self.net(coords)


def _compare(model, network, in_features):
    x = torch.rand(512, in_features, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        expected, got = model(x), network(x)
        # omega_0 is folded into the weights in aire's forward: equal up to float32 rounding ...
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        # ... and the same function: in float64 the two agree to 1e-10
        exact = model.double()(x.double()) - network.double()(x.double())
    assert exact.abs().max() < 1e-10
    model.float(), network.float()


CASES = {
    "siren-pytorch": (lambda: LucidSirenNet(2, 24, 3, 3), {}),
    "siren-pytorch w0=30": (lambda: LucidSirenNet(2, 24, 3, 3, w0=30.0, w0_initial=20.0),
                            {"omega0": 20.0, "omega0_hidden": 30.0}),
    "siren-pytorch no bias": (lambda: LucidSirenNet(3, 16, 1, 2, use_bias=False), {}),
    "siren-bvp": (lambda: SingleBVPNet(out_features=3, in_features=2, hidden_features=20, num_hidden_layers=2), {}),
    "siren-notebook": (lambda: NotebookSiren(2, 20, 2, 1, first_omega_0=25.0, hidden_omega_0=30.0),
                       {"layout": "siren-notebook", "omega0": 25.0}),
    "finer": (lambda: NotebookSiren(2, 20, 2, 3, finer=True), {"layout": "finer"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_layout_imports_to_the_same_function(case):
    torch.manual_seed(0)
    build, options = CASES[case]
    model = build()
    imported = import_state_dict(model.state_dict(), options.get("layout"), omega0=options.get("omega0"),
                                 omega0_hidden=options.get("omega0_hidden"))
    network = to_network(imported)
    in_features = network.weights[0].shape[1]
    _compare(model, network, in_features)
    assert network.activation == ("finer" if case == "finer" else "sine")


def test_layouts_are_recognised_by_their_parameter_names():
    torch.manual_seed(0)
    assert detect_layout(LucidSirenNet(2, 8, 1, 2).state_dict()) == "siren-pytorch"
    assert detect_layout(SingleBVPNet(1, 2, 8, 1).state_dict()) == "siren-bvp"
    assert import_state_dict(SingleBVPNet(1, 2, 8, 1).state_dict()).omega0_hidden == 30.0
    assert import_state_dict(LucidSirenNet(2, 8, 1, 2).state_dict()).omega0_hidden == 1.0  # SirenNet's default w0
    with pytest.raises(InputError, match="--layout siren-notebook or --layout finer"):
        detect_layout(NotebookSiren(2, 8, 1, 1).state_dict())


def test_siren_wrapper_state_dict_is_accepted_without_modulator():
    torch.manual_seed(0)
    net = LucidSirenNet(2, 8, 3, 2)
    wrapped = {**{f"net.{k}": v for k, v in net.state_dict().items()}, "grid": torch.zeros(4, 2)}
    wrapped["net.grid"] = wrapped.pop("grid")
    _compare(net, to_network(import_state_dict(wrapped)), 2)
    wrapped["modulator.layers.0.0.weight"] = torch.zeros(8, 4)
    with pytest.raises(InputError, match="does not know .*modulator"):
        import_state_dict(wrapped)


def test_unknown_and_malformed_layouts_give_one_line_naming_what_was_expected():
    with pytest.raises(InputError, match="unknown model layout .*expected .*siren-pytorch"):
        import_state_dict({"encoder.weight": torch.zeros(2, 2)})
    sine_last = NotebookSiren(2, 8, 1, 1).state_dict()
    sine_last["net.2.linear.weight"] = sine_last.pop("net.2.weight")  # outermost_linear=False
    sine_last["net.2.linear.bias"] = sine_last.pop("net.2.bias")
    with pytest.raises(InputError, match="linear last layer"):
        import_state_dict(sine_last, "finer")
    with pytest.raises(InputError, match="omega_0 = 30"):
        import_state_dict(SingleBVPNet(1, 2, 8, 1).state_dict(), omega0=10.0)
    broken = LucidSirenNet(2, 8, 1, 2).state_dict()
    broken["layers.1.weight"] = torch.zeros(8, 5)
    with pytest.raises(InputError, match="feeds one with 5 inputs"):
        import_state_dict(broken)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_state_dict_files_are_read(tmp_path, suffix):
    torch.manual_seed(0)
    net = LucidSirenNet(2, 8, 3, 2)
    path = tmp_path / f"model{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    else:
        torch.save({"state_dict": net.state_dict(), "epoch": 3}, path)  # a training checkpoint is unwrapped
    network, info = load_start(path)
    assert info["layout"] == "siren-pytorch"
    _compare(net, network, 2)
    assert set(read_state_dict(path)) == set(net.state_dict())


def test_unreadable_model_files_give_one_line(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read model"):
        load_start(bad)
    with pytest.raises(InputError, match="model not found"):
        load_start(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="folder without an aire model"):
        load_start(tmp_path)
