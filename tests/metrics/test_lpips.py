"""LPIPS (AlexNet, v0.1): one line naming the missing backbone file; with a backbone checkpoint in torch's hub
cache, 0 for identical images, growing with the noise, and equal to torchmetrics' reference implementation run
on the same backbone. The real ImageNet weights are not on this machine (no package ships them): these tests
write a seeded random AlexNet in torchvision's checkpoint layout; the last test compares with torchmetrics on
the real weights wherever they and a working torchvision are present."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from aire.errors import InputError
from aire.metrics import lpips as lpips_module
from aire.metrics.lpips import ALEXNET_FILE, LPIPS_MIN_SIDE, alexnet_features, alexnet_weights_path, lpips
from aire.signals.image import synthetic_image


def write_alexnet(folder, seed=0) -> dict[str, torch.Tensor]:
    """A seeded random AlexNet trunk saved as torchvision's checkpoint file in folder/hub/checkpoints."""
    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in alexnet_features().state_dict().items()}
    path = folder / "hub" / "checkpoints" / ALEXNET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**state, "classifier.1.weight": torch.zeros(2, 2)}, path)
    return state


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME (torch.hub.get_dir() follows it) and a fresh model cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    lpips_module._model.cache_clear()
    yield tmp_path
    lpips_module._model.cache_clear()


@pytest.fixture
def image():
    return torch.as_tensor(synthetic_image(64))


def test_missing_backbone_is_one_line_naming_the_file_and_where_to_get_it(torch_home, image):
    with pytest.raises(InputError) as caught:
        lpips(image, image)
    message = str(caught.value)
    assert "\n" not in message
    assert str(torch_home / "hub" / "checkpoints" / ALEXNET_FILE) in message
    assert f"download https://download.pytorch.org/models/{ALEXNET_FILE}" in message
    assert alexnet_weights_path() == torch_home / "hub" / "checkpoints" / ALEXNET_FILE


def test_identical_images_give_zero_and_the_value_grows_with_the_noise(torch_home, image):
    write_alexnet(torch_home)
    assert lpips(image, image) == 0.0
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    values = [lpips((image + a * noise).clamp(0, 1), image) for a in (0.01, 0.03, 0.1, 0.3)]
    assert 0 < values[0] < values[1] < values[2] < values[3]
    noisy = (image + 0.1 * noise).clamp(0, 1)
    assert lpips(image, noisy) == pytest.approx(lpips(noisy, image), rel=1e-6)  # symmetric
    # the mean over a batch is the mean of each image's value; grey is measured as its RGB repetition
    batch = torch.stack([noisy, (image + 0.3 * noise).clamp(0, 1)])
    assert lpips(batch, torch.stack([image, image])) == pytest.approx((values[2] + values[3]) / 2, rel=1e-6)
    grey, grey_noisy = image[..., :1], noisy[..., :1]
    assert lpips(grey_noisy, grey) == pytest.approx(lpips(grey_noisy.expand(-1, -1, 3), grey.expand(-1, -1, 3)))


def test_equals_torchmetrics_reference_implementation_on_the_same_backbone(torch_home, image, monkeypatch):
    """torchmetrics' _LPIPS (the reference code, with its own copy of the linear weights) run on the same AlexNet
    trunk: torchvision is replaced by a stand-in that hands torchmetrics that trunk, as torchvision.models.alexnet
    would with the cached checkpoint."""
    import torchmetrics.functional.image.lpips as reference

    state = write_alexnet(torch_home, seed=3)
    trunk = alexnet_features()
    trunk.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(AlexNet_Weights=types.SimpleNamespace(DEFAULT="IMAGENET1K_V1"),
                                        alexnet=lambda weights: types.SimpleNamespace(features=trunk))
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setattr(reference, "_TORCHVISION_AVAILABLE", True)
    net = reference._LPIPS(net="alex")
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for a in (0.02, 0.2):
        noisy = (image + a * noise).clamp(0, 1)
        expected = net(noisy.permute(2, 0, 1)[None].float(), image.permute(2, 0, 1)[None].float(), normalize=True)
        assert lpips(noisy, image) == pytest.approx(float(expected), rel=1e-5)


def test_bad_checkpoints_and_inputs_are_refused_in_one_line(torch_home, image):
    path = torch_home / "hub" / "checkpoints" / ALEXNET_FILE
    path.parent.mkdir(parents=True)
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)  # another network's layer
    with pytest.raises(InputError, match="is not torchvision's AlexNet checkpoint"):
        lpips(image, image)
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="cannot read LPIPS weights"):
        lpips(image, image)
    write_alexnet(torch_home)
    side = LPIPS_MIN_SIDE
    assert lpips(torch.rand(side, side + 5, 3), torch.rand(side, side + 5, 3)) > 0
    with pytest.raises(ValueError, match=f"at least {side}x{side}"):
        lpips(torch.rand(side - 1, 64, 3), torch.rand(side - 1, 64, 3))
    with pytest.raises(ValueError, match="one shape"):
        lpips(image, image[:-1])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        lpips(torch.rand(40, 40, 2), torch.rand(40, 40, 2))


def _real_weights_and_torchvision() -> bool:
    from pathlib import Path

    default = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE
    if not default.is_file():
        return False
    try:
        import torchvision  # noqa: F401 - a CUDA wheel beside a CPU torch fails here with a RuntimeError
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _real_weights_and_torchvision(),
                    reason="AlexNet's ImageNet checkpoint is not in torch's hub cache or torchvision does not import")
def test_real_weights_agree_with_torchmetrics(image):
    from torchmetrics.functional.image import learned_perceptual_image_patch_similarity

    lpips_module._model.cache_clear()
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    noisy = (image + 0.1 * noise).clamp(0, 1)
    expected = learned_perceptual_image_patch_similarity(noisy.permute(2, 0, 1)[None].float(),
                                                         image.permute(2, 0, 1)[None].float(), net_type="alex",
                                                         normalize=True)
    assert lpips(noisy, image) == pytest.approx(float(expected), rel=1e-5)
