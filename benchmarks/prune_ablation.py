"""The paper's Figure 5: pruning X % of the parameters with and without TWD, with and without fine-tuning.

A large SIREN is trained once. From it, for each X, two continuations of equal length run with
the trainer's own schedule machinery (column-L1 criterion, budget widths, TWD, structured cut):

* abrupt: ``twd`` steps of ordinary training, then the neurons of lowest outgoing column L1 in the
  hidden layers are cut at once (a one-step TWD phase with alpha_max = 0, i.e. no decay);
* TWD: the same neurons' successors are chosen at the start and decayed by targeted weight decay
  for ``twd`` steps, then cut.

Each is measured right after the cut ("no fine-tuning") and after ``finetune`` further steps
(learning rate rewound at the cut). Same seed, same data, same step counts for all four cells.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

import aire
from aire.interfaces import Callback
from aire.train.trainer import Trainer
from benchmarks.common import div2k

SIZES = {
    "cpu": dict(image=0, size=96, width=64, steps=800, twd=100, finetune=300, fractions=[0.28, 0.52, 0.72, 0.88],
                precision="fp32"),
    "gpu": dict(image=0, size=512, width=256, steps=5000, twd=250, finetune=1000, fractions=[0.28, 0.52, 0.72, 0.88],
                precision="tf32"),
}
#: learning rate of the continuations (restarted at the cut, decayed to lr_final)
LR, LR_FINAL = 2e-4, 5e-5


class CutProbe(Callback):
    """Notes the network's quality right after each structured cut (the schedule, the first
    callback, cuts in its before_step; this one runs after it)."""

    def __init__(self) -> None:
        self.after_cut: dict[str, Any] | None = None
        self._cuts = 0

    def before_step(self, trainer: Any, step: int) -> None:
        cuts = sum(e["event"] == "prune" for e in trainer.events)
        if cuts == self._cuts:
            return
        self._cuts = cuts
        trainer.network.eval()
        self.after_cut = {"psnr": trainer.signal.evaluate(trainer.network)["psnr"],
                          "params": trainer.network.num_parameters(), "architecture": trainer.network.widths(),
                          "step": step}
        trainer.network.train()


def continuation(signal, large: torch.nn.Module, fraction: float, twd: bool, s: dict, device: str) -> dict:
    steps = int(s["twd"]) + int(s["finetune"])
    common = dict(kind="aire", target_params=1.0 - fraction, cycles=1, cycle_gap=0.0, densify_k=0, lr_rewind=True)
    if twd:
        schedule = aire.ScheduleConfig(warmup=0.0, twd_length=int(s["twd"]) / steps, **common)
    else:  # train `twd` steps, then select by column L1 and cut at once (no decay)
        schedule = aire.ScheduleConfig(warmup=int(s["twd"]) / steps, twd_length=1 / steps, alpha_max=0.0, **common)
    train = aire.TrainConfig(steps=steps, lr=LR, lr_final=LR_FINAL, eval_every=max(1, int(s["finetune"]) // 4),
                             progress=False, device=device, precision=s["precision"])
    net = copy.deepcopy(large)
    probe = CutProbe()
    trainer = Trainer(signal, net, train, schedule, callbacks=[probe])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the abrupt cut removes targets above epsilon, by design
        result = trainer.fit()
    return {"cut": probe.after_cut, "finetuned": result.metrics["psnr"], "params": result.metrics["params_final"],
            "architecture": result.metrics["architecture_final"]}


def run(size: str, device: str, options: dict[str, Any]) -> dict:
    s = {**SIZES[size], **options}
    name, signal = div2k(int(s["image"]) + 1, int(s["size"]))[int(s["image"])]
    widths = [int(s["width"])] * 4
    signal.to(device)
    net = aire.build_network(signal, widths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        large_fit = aire.fit(signal, net, steps=int(s["steps"]), eval_every=max(1, int(s["steps"]) // 10),
                             progress=False, device=device, precision=s["precision"],
                             schedule=aire.ScheduleConfig(kind="none"))
    large = large_fit.network
    base = {"psnr": round(large_fit.metrics["psnr"], 3), "params": large_fit.metrics["params_final"]}
    print(f"  large {name}: {base['psnr']:.3f} dB, {base['params']} parameters", flush=True)
    rows: list[dict] = []
    try:
        _ablate(signal, large, base, s, device, rows)
    except KeyboardInterrupt:  # stopped by a time limit: keep the finished rows
        print(f"  interrupted after {len(rows)} rows", flush=True)
    return {"settings": {**{k: s[k] for k in SIZES[size]}, "image_name": name, "widths": widths, "lr": LR,
                         "lr_final": LR_FINAL},
            "large": base, "rows": rows, "interrupted": len(rows) < len(s["fractions"])}


def _ablate(signal, large, base: dict, s: dict, device: str, rows: list[dict]) -> None:
    for fraction in s["fractions"]:
        row = {"prune": fraction}
        for twd in (False, True):
            c = continuation(signal, large, float(fraction), twd, s, device)
            key = "twd" if twd else "abrupt"
            row.update({f"{key}_no_ft": round(c["cut"]["psnr"], 3), f"{key}_ft": round(c["finetuned"], 3),
                        f"{key}_params": c["params"], "architecture": c["architecture"]})
        row["pruned_fraction"] = round(1 - row["twd_params"] / base["params"], 3)
        print(f"  prune {fraction:.0%}: abrupt {row['abrupt_no_ft']:.2f} -> {row['abrupt_ft']:.2f}, "
              f"TWD {row['twd_no_ft']:.2f} -> {row['twd_ft']:.2f}  {row['architecture']}", flush=True)
        rows.append(row)


def markdown(result: dict) -> str:
    s, base = result["settings"], result["large"]
    lines = [f"{s['image_name']} at {s['size']} px, SIREN widths {s['widths']}, trained {s['steps']} steps "
             f"({base['psnr']:.2f} dB, {base['params']:,} parameters); then per row {s['twd']} steps of TWD "
             f"(or of plain training before an abrupt cut) and {s['finetune']} fine-tuning steps "
             f"(lr {s['lr']} -> {s['lr_final']}, rewound at the cut). Hidden layers pruned by outgoing column L1. "
             f"PSNR in dB.", "",
             "| pruned | parameters left | architecture | abrupt, no FT | abrupt + FT | TWD, no FT | TWD + FT |",
             "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['pruned_fraction']:.0%} | {r['twd_params']:,} | {r['architecture'][:-1]} | "
                     f"{r['abrupt_no_ft']:.2f} | {r['abrupt_ft']:.2f} | {r['twd_no_ft']:.2f} | {r['twd_ft']:.2f} |")
    if result.get("interrupted"):
        lines.append("\n**Interrupted by its time limit: the rows above are the levels that finished.**")
    return "\n".join(lines) + "\n"


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    x = [100 * r["pruned_fraction"] for r in result["rows"]]
    for key, label, style in (("abrupt_no_ft", "abrupt, no FT", "r--"), ("abrupt_ft", "abrupt + FT", "r-"),
                              ("twd_no_ft", "TWD, no FT", "b--"), ("twd_ft", "TWD + FT", "b-")):
        ax.plot(x, [r[key] for r in result["rows"]], style, marker="o", label=label)
    ax.axhline(result["large"]["psnr"], color="k", lw=0.8, label="large")
    ax.set_xlabel("parameters pruned (%)")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
