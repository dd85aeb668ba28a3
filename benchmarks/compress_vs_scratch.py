"""`aire compress` of an imported siren-pytorch model against `aire fit` from scratch (issue 16, done-when).

    python -m benchmarks.compress_vs_scratch [--image 00.png] [--size 48] [--width 48] [--pretrain 1000] [--steps 1000]

A siren-pytorch-layout SirenNet (layers.N / last_layer, w0 = w0_initial = 30) is trained "elsewhere" by a
plain Adam loop for --pretrain steps, saved as a state dict, then compressed to half its parameters by
`aire compress` in --steps steps; the baselines are `aire fit` from scratch with the same widths and budget
in --steps steps, and in --pretrain + --steps steps (the same total optimisation). Writes
benchmarks/results/compress_vs_scratch.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from aire.cli import main as aire_main
from aire.signals.image import ImageSignal
from benchmarks.plain_siren import plain_fit
from benchmarks.suite import RESULTS, data_root


class Siren(torch.nn.Module):
    """lucidrains' Siren layer: sin(w0 * F.linear(x, W, b))."""

    def __init__(self, n_in: int, n_out: int, w0: float, first: bool) -> None:
        super().__init__()
        std = 1 / n_in if first else (6 / n_in) ** 0.5 / w0
        self.weight = torch.nn.Parameter(torch.empty(n_out, n_in).uniform_(-std, std))
        self.bias = torch.nn.Parameter(torch.empty(n_out).uniform_(-std, std))
        self.w0 = w0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * torch.nn.functional.linear(x, self.weight, self.bias))


class SirenNet(torch.nn.Module):
    """lucidrains' SirenNet with final_activation identity: layers.N and last_layer."""

    def __init__(self, n_in: int, width: int, n_out: int, layers: int, w0: float = 30.0) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList([Siren(n_in if i == 0 else width, width, w0, i == 0) for i in range(layers)])
        self.last_layer = torch.nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


def _metrics(out: Path) -> dict:
    m = json.loads((out / "metrics.json").read_text())
    return {"psnr": round(m["psnr"], 3), "params_initial": m["params_initial"], "params_final": m["params_final"],
            "architecture": m["architecture_final"], "seconds": round(m["seconds"], 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--image", default="00.png")
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--pretrain", type=int, default=1000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--budget", type=float, default=0.5)
    args = p.parse_args()
    image = data_root() / "div2k" / args.image
    torch.manual_seed(0)
    signal = ImageSignal(image, size=args.size)
    net = SirenNet(2, args.width, signal.out_features, 3)
    start = time.perf_counter()
    plain_fit(net, signal.coords, signal.values, args.pretrain)
    rows: dict = {"pretrained": {"psnr": round(signal.evaluate(net)["psnr"], 3),
                                 "seconds": round(time.perf_counter() - start, 1)}}
    common = ["--size", str(args.size), "--target-params", str(args.budget), "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "siren_pytorch.pt"
        torch.save(net.state_dict(), model)
        runs = {"compress": ["compress", str(model), "--signal", "image", str(image), "--omega0-hidden", "30",
                             "--steps", str(args.steps)],
                "scratch_same_steps": ["fit", "image", str(image), "--hidden", *[str(args.width)] * 3,
                                       "--steps", str(args.steps)],
                "scratch_total_steps": ["fit", "image", str(image), "--hidden", *[str(args.width)] * 3,
                                        "--steps", str(args.steps + args.pretrain)]}
        for name, argv in runs.items():
            out = Path(tmp) / name
            assert aire_main([*argv, *common, "--out", str(out)]) == 0, name
            rows[name] = _metrics(out)
    result = {"settings": vars(args), "rows": rows,
              "compress_minus_scratch_db": round(rows["compress"]["psnr"] - rows["scratch_same_steps"]["psnr"], 3)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compress_vs_scratch.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
