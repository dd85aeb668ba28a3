"""The image suite: large network, AIRe down to budgets, AIRe's final architecture from scratch.

Protocol (FINER's, scaled for the cpu size): DIV2K images, SIREN of 1 first + 3 hidden sine layers,
omega_0 30, full-batch Adam 5e-4 decayed exponentially to 5e-5, the same steps for every row. For
each budget, AIRe's final architecture is retrained from scratch with the same protocol, so the
margin "AIRe - scratch" is what the adaptive schedule buys at equal size. FINER as a backbone on the
first image(s).
"""

from __future__ import annotations

import statistics
from typing import Any

import aire
from benchmarks.common import div2k, fit_row

SIZES = {
    # 1 thread of a shared 2-core machine: ~15-25 min
    "cpu": dict(images=2, size=96, width=64, steps=800, budgets=[0.6, 0.4], finer_images=1, eval_every=50,
                precision="fp32"),
    # one H100: ~4 min for 2 images (the paper's 512 px, width 256, 5000 steps, TF32)
    "gpu": dict(images=2, size=512, width=256, steps=5000, budgets=[0.6, 0.4], finer_images=1, eval_every=250,
                precision="tf32"),
}


def run(size: str, device: str, options: dict[str, Any]) -> dict:
    s = {**SIZES[size], **options}
    widths = [int(s["width"])] * 4
    rows: list[dict] = []
    try:
        _fit_all(s, widths, device, rows)
    except KeyboardInterrupt:  # stopped by a time limit: keep the rows finished so far
        print(f"  interrupted after {len(rows)} rows", flush=True)
    return {"settings": {k: s[k] for k in SIZES[size]} | {"widths": widths, "omega0": 30.0, "lr": 5e-4,
                                                          "lr_final": 5e-5},
            "rows": rows, "summary": summarize(rows), "interrupted": len(rows) < _expected_rows(s)}


def _expected_rows(s: dict) -> int:
    images, finer = int(s["images"]), min(int(s["finer_images"]), int(s["images"]))
    return images * (1 + 2 * len(s["budgets"])) + finer * 3


def _fit_all(s: dict, widths: list[int], device: str, rows: list[dict]) -> None:
    for index, (name, signal) in enumerate(div2k(int(s["images"]), int(s["size"]))):
        backbones = ["siren"] + (["finer"] if index < int(s["finer_images"]) else [])
        for backbone in backbones:
            budgets = s["budgets"] if backbone == "siren" else s["budgets"][-1:]

            def fit(label: str, w: list[int], schedule: aire.ScheduleConfig, budget: float | None) -> dict:
                row = fit_row(signal, w, schedule, steps=int(s["steps"]), device=device, precision=s["precision"],
                              network=backbone, eval_every=int(s["eval_every"]))
                row = {"image": name, "backbone": backbone, "run": label, "budget": budget, **row}
                print(f"  {name} {backbone:5} {label:14} psnr {row['psnr']:7.3f}  params {row['params']:7d} "
                      f"{row['architecture']}  {row['seconds']:.0f} s", flush=True)
                rows.append(row)
                return row

            large = fit("large", widths, aire.ScheduleConfig(kind="none"), None)
            for budget in budgets:
                adaptive = fit(f"aire@{budget:.0%}", widths, aire.ScheduleConfig(target_params=float(budget)), budget)
                fit(f"scratch@{budget:.0%}", adaptive["architecture"][:-1], aire.ScheduleConfig(kind="none"), budget)
            del large


def summarize(rows: list[dict]) -> list[dict]:
    """Mean PSNR, parameters and seconds per (backbone, run) over the images."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["backbone"], r["run"]), []).append(r)
    out = []
    for (backbone, run), rs in groups.items():
        large = [x for x in rows if x["backbone"] == backbone and x["run"] == "large" and x["image"] in {r["image"] for r in rs}]
        out.append({"backbone": backbone, "run": run, "images": len(rs),
                    "psnr_mean": round(statistics.mean(r["psnr"] for r in rs), 3),
                    "params_mean": round(statistics.mean(r["params"] for r in rs)),
                    "fraction": round(statistics.mean(r["params"] for r in rs) / statistics.mean(x["params"] for x in large), 3),
                    "seconds_mean": round(statistics.mean(r["seconds"] for r in rs), 1)})
    return out


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"{s['images']} DIV2K image(s) at {s['size']} px; SIREN/FINER widths {s['widths']} (first + 3 hidden), "
             f"omega_0 30, {s['steps']} full-batch steps, Adam 5e-4 -> 5e-5, precision {s['precision']}. "
             "Seconds are wall time of the whole fit (evaluations included); on the shared 2-core CPU other "
             "jobs disturb them, PSNR is unaffected.", "",
             "| backbone | run | images | mean PSNR (dB) | parameters | fraction | mean seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in result["summary"]:
        lines.append(f"| {r['backbone']} | {r['run']} | {r['images']} | {r['psnr_mean']:.2f} | {r['params_mean']:,} | "
                     f"{r['fraction']:.0%} | {r['seconds_mean']} |")
    images = list(dict.fromkeys(r["image"] for r in result["rows"]))
    lines += ["", "Per image (PSNR dB / final architecture):", "",
              "| backbone | run | " + " | ".join(images) + " |", "|---|---|" + "---|" * len(images)]
    for g in result["summary"]:
        cells = []
        for image in images:
            match = [r for r in result["rows"] if (r["backbone"], r["run"], r["image"]) == (g["backbone"], g["run"], image)]
            cells.append(f"{match[0]['psnr']:.2f} {match[0]['architecture'][:-1]}" if match else "")
        lines.append(f"| {g['backbone']} | {g['run']} | " + " | ".join(cells) + " |")
    gaps = []
    for g in result["summary"]:
        if g["run"].startswith("aire@"):
            scratch = next((x for x in result["summary"] if x["backbone"] == g["backbone"] and x["run"] == "scratch" + g["run"][4:]), None)
            large = next(x for x in result["summary"] if x["backbone"] == g["backbone"] and x["run"] == "large")
            if scratch is None or scratch["images"] != g["images"]:
                continue
            gaps.append(f"* {g['backbone']} {g['run']}: {g['psnr_mean'] - scratch['psnr_mean']:+.2f} dB vs its "
                        f"architecture from scratch, {g['psnr_mean'] - large['psnr_mean']:+.2f} dB vs the large network")
    if result.get("interrupted"):
        gaps.append("\n**Interrupted by its time limit: the rows above are the runs that finished.**")
    return "\n".join(lines + [""] + gaps) + "\n"


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for g in result["summary"]:
        ax.scatter(g["params_mean"], g["psnr_mean"], label=f"{g['backbone']} {g['run']}",
                   marker="o" if g["backbone"] == "siren" else "s")
    first = result["rows"][0]["image"]
    for r in result["rows"]:
        if r["image"] == first:
            _, psnr, seconds, _ = zip(*r["history"])
            ax2.plot(seconds, psnr, label=f"{r['backbone']} {r['run']}")
    ax.set_xlabel("parameters")
    ax.set_ylabel("mean PSNR (dB)")
    ax.legend(fontsize=7)
    ax2.set_xlabel(f"seconds ({first})")
    ax2.set_ylabel("PSNR (dB)")
    ax2.set_ylim(bottom=max(0, min(p for r in result["rows"] for _, p, _, _ in r["history"][1:]) - 2))
    ax2.legend(fontsize=6)
    fig.savefig(path, dpi=100)
    plt.close(fig)
