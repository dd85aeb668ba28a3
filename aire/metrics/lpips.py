"""LPIPS: the learned perceptual image patch similarity (Zhang, Isola, Efros, Shechtman and Wang, "The
Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018), version 0.1 with the AlexNet
backbone, the variant NeRF and INR papers report. Lower is more similar; 0 for identical images.

Computed as the reference implementation (richzhang/PerceptualSimilarity) and torchmetrics' copy of it do:
images in [-1, 1] are shifted and scaled per channel (the ScalingLayer constants below), passed through
AlexNet's five ReLU stages, each stage's features are normalised to unit length over the channels, their
squared difference is weighted per channel by the learned linear layer of that stage (a 1x1 convolution),
averaged over the pixels, and the five stage values are summed.

Weights come from two files, neither of which aire downloads:

* the five linear layers: ``lpips_models/alex.pth`` shipped inside torchmetrics (a dependency of aire), the
  reference's v0.1 weights;
* the AlexNet backbone: torchvision's ImageNet checkpoint ``alexnet-owt-7be5be79.pth`` (AlexNet_Weights.
  IMAGENET1K_V1, 233 MB), read from torch's hub cache (``torch.hub.get_dir()/checkpoints``, moved by
  $TORCH_HOME), where any torchvision that ever built a pretrained AlexNet left it. No package on the index
  ships it, so when it is missing `check_lpips_weights` says in one line which file and how to get it.

The backbone is defined here in torchvision's layout (``features.0`` ... ``features.11``), so the checkpoint
loads into it without torchvision itself: torchvision's Linux wheels on the package index are CUDA builds
that do not import beside a CPU-only torch.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from aire.errors import InputError

#: torchvision's AlexNet ImageNet checkpoint (AlexNet_Weights.IMAGENET1K_V1), as torch.hub names it in its cache
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"
#: the smallest image side LPIPS-AlexNet measures: the second max-pooling needs 3 pixels, i.e. 31 at the input
LPIPS_MIN_SIDE = 31
#: the reference's per-channel input normalisation (ScalingLayer): (x - shift) / scale, x in [-1, 1]
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
#: AlexNet's ReLU stages LPIPS compares: features[0:2], [2:5], [5:8], [8:10], [10:12]
STAGES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))
CHANNELS = (64, 192, 384, 256, 256)


def alexnet_weights_path() -> Path:
    """Where torch's hub cache keeps torchvision's AlexNet checkpoint (it need not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


def check_lpips_weights() -> Path:
    """The AlexNet checkpoint's path; InputError (one line: the missing file and how to get it) when absent.
    Call it before a long fit that will report LPIPS."""
    path = alexnet_weights_path()
    if not path.is_file():
        raise InputError(f"LPIPS needs AlexNet's ImageNet weights, which no package ships: {path} is missing "
                         f"(download {ALEXNET_URL} into {path.parent}, or set TORCH_HOME to a folder whose "
                         "hub/checkpoints holds it)")
    return path


def check_lpips_ready(height: int, width: int, what: str = "the image") -> Path:
    """Refuse, in one line (InputError), a request for LPIPS that could not be honoured after a fit: images of
    `height` x `width` under LPIPS_MIN_SIDE, or the AlexNet checkpoint missing. Returns the checkpoint's path."""
    if min(height, width) < LPIPS_MIN_SIDE:
        raise InputError(f"lpips needs {what} to be at least {LPIPS_MIN_SIDE}x{LPIPS_MIN_SIDE} pixels, got "
                         f"{width}x{height}")
    return check_lpips_weights()


def alexnet_features() -> nn.Sequential:
    """AlexNet's convolutional trunk in torchvision's layout (Krizhevsky 2014, "One weird trick"; torchvision's
    models.alexnet().features), randomly initialised: the layers LPIPS reads, so its checkpoint loads as is."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def _linear_weights_file() -> Path:
    import torchmetrics.functional.image.lpips as reference

    return Path(reference.__file__).parent / "lpips_models" / "alex.pth"


class AlexLPIPS(nn.Module):
    """LPIPS v0.1 with AlexNet (see the module): forward(x, y) of (N, 3, H, W) images in [-1, 1] gives (N,)."""

    def __init__(self, features: nn.Sequential, linear: list[torch.Tensor]) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None], persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None], persistent=False)
        self.linear = nn.ParameterList([nn.Parameter(w.reshape(1, -1, 1, 1), requires_grad=False) for w in linear])
        self.eval().requires_grad_(False)

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for start, stop in STAGES:
            for layer in self.features[start:stop]:
                x = layer(x)
            out.append(x)
        return out

    @torch.no_grad()
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self._stages((x - self.shift) / self.scale), self._stages((y - self.shift) / self.scale)
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for a, b, w in zip(fx, fy, self.linear):
            a = a / torch.sqrt(1e-8 + (a ** 2).sum(dim=1, keepdim=True))  # unit length over the channels
            b = b / torch.sqrt(1e-8 + (b ** 2).sum(dim=1, keepdim=True))
            total = total + ((a - b) ** 2 * w).sum(dim=1).mean(dim=(1, 2))
        return total


@functools.lru_cache(maxsize=2)
def _model(path: str, mtime_ns: int) -> AlexLPIPS:
    """The LPIPS network with the backbone checkpoint at `path` (cached per file and modification time)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        lin = torch.load(_linear_weights_file(), map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated download, a file of something else
        raise InputError(f"cannot read LPIPS weights {path}: {' '.join(str(exc).split())[:200]}") from None
    features = alexnet_features()
    wanted = {f"features.{k}": v for k, v in features.state_dict().items()}
    got = {k: state.get(k) for k in wanted} if isinstance(state, dict) else {}
    wrong = [k for k, v in wanted.items() if not isinstance(got.get(k), torch.Tensor) or got[k].shape != v.shape]
    if wrong:
        raise InputError(f"{path} is not torchvision's AlexNet checkpoint ({wrong[0]} missing or of another shape); "
                         f"download {ALEXNET_URL} again")
    features.load_state_dict({k.removeprefix("features."): v.float() for k, v in got.items()})
    linear = [lin[f"lin{i}.model.1.weight"].float() for i in range(len(CHANNELS))]
    return AlexLPIPS(features, linear)


def lpips(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Mean LPIPS (v0.1, AlexNet) of images in [0, 1] of shape (H, W, C) or (N, H, W, C), C 3 or 1 (grey is
    repeated into RGB, as the network needs), the prediction clamped to [0, 1]; computed in float32 on the CPU,
    one image at a time. Lower is better; 0 for identical images.

    Raises InputError when the AlexNet checkpoint is missing (`check_lpips_weights`) or unreadable,
    ValueError for mismatched shapes, other channel counts, or a side shorter than LPIPS_MIN_SIDE."""
    x = prediction.detach().clamp(0, 1).float().cpu()
    y = target.detach().float().cpu()
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.shape != y.shape or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"lpips needs two (N, H, W, C) or (H, W, C) images of one shape with 1 or 3 channels, "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[1:3]) < LPIPS_MIN_SIDE:
        raise ValueError(f"lpips needs images of at least {LPIPS_MIN_SIDE}x{LPIPS_MIN_SIDE} pixels, "
                         f"got {x.shape[1]}x{x.shape[2]}")
    path = check_lpips_weights()
    model = _model(str(path), path.stat().st_mtime_ns)
    to_net = lambda images: (images.permute(0, 3, 1, 2).expand(-1, 3, -1, -1) * 2 - 1)  # noqa: E731 - [0, 1] -> [-1, 1]
    values = [model(to_net(a[None]), to_net(b[None])) for a, b in zip(x, y)]
    return float(torch.cat(values).double().mean())
