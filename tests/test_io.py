"""Saving and loading a network, including after surgery."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.errors import InputError
from aire.io import save_network
from aire.testing import small_network


@pytest.mark.parametrize("activation", ["sine", "finer"])
def test_round_trip_after_surgery(tmp_path, activation):
    net = small_network((6, 5, 4), activation=activation, dtype=torch.float32)
    net.remove_neurons(1, torch.tensor([0, 2]))
    net.insert_input_frequencies(torch.ones(2, 2), torch.zeros(2))
    save_network(net, tmp_path)
    loaded = aire.load(tmp_path)
    assert loaded.widths() == net.widths() == [8, 3, 4, 3]
    assert loaded.activation == activation
    x = torch.rand(20, 2) * 2 - 1
    assert torch.equal(loaded(x), net(x))
    assert torch.equal(aire.load(tmp_path / "model.safetensors")(x), net(x))


def test_missing_or_corrupt_model(tmp_path):
    with pytest.raises(InputError, match="no fitted model"):
        aire.load(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(InputError, match="cannot read model"):
        aire.load(tmp_path)


def test_lattice_settings_survive_save_and_load(tmp_path):
    import aire
    from aire.signals.image import ImageSignal, synthetic_image

    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 4], encoding="lattice", period=4.0, frozen=False)
    save_network(net, tmp_path)
    loaded = aire.load(tmp_path)
    assert loaded.encoding.period == 4.0 and loaded.encoding.trainable and loaded.weights[0].requires_grad
    x = torch.rand(10, 2) * 2 - 1
    assert torch.equal(loaded(x), net(x))


def _saved(tmp_path):
    net = small_network((6, 5, 4), dtype=torch.float32)
    save_network(net, tmp_path)
    return tmp_path / "model.json", tmp_path / "model.safetensors"


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("widths"), "key 'widths' is missing"),
    (lambda c: c.pop("omega0_first"), "key 'omega0_first' is missing"),
    (lambda c: c.update(widths=[6, 5, 9]), "declares"),
    (lambda c: c.update(widths=[6, -5, 4]), "widths"),
    (lambda c: c.update(omega0_first="fast"), "omega0_first"),
])
def test_tampered_model_json_is_one_line_naming_the_file(tmp_path, change, message):
    import json

    config_path, _ = _saved(tmp_path)
    config = json.loads(config_path.read_text())
    change(config)
    config_path.write_text(json.dumps(config))
    with pytest.raises(InputError, match=message) as info:
        aire.load(tmp_path)
    assert "\n" not in str(info.value) and "model." in str(info.value)


def test_nan_weights_and_bad_devices_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    _, model_path = _saved(tmp_path)
    tensors = load_file(str(model_path))
    tensors["layers.1.weight"][0, 0] = float("nan")
    save_file(tensors, str(model_path))
    with pytest.raises(InputError, match="layers.1.weight contains NaN"):
        aire.load(tmp_path)
    with pytest.raises(InputError, match="mps"):
        aire.load(tmp_path, device="mps")
