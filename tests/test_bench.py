"""The benchmark suite framework (benchmarks/, source checkout): registry, protocol, result files."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from aire.cli import main as aire_main
from aire.signals.image import synthetic_image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
suite = pytest.importorskip("benchmarks.suite")


def test_every_registered_suite_follows_the_protocol():
    for name, module_name in suite.SUITES.items():
        module = importlib.import_module(module_name)
        assert callable(module.run), name
        assert set(module.SIZES) == set(suite.SIZES), name


def test_aire_bench_lists_the_suites(capsys):
    assert aire_main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in suite.SUITES)


def test_unknown_suite_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        aire_main(["bench", "no-such-suite"])
    assert exc.value.code == 2 and "unknown suite" in capsys.readouterr().err


def test_aire_bench_help_names_aire_bench_as_its_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        aire_main(["bench", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert out.startswith("usage: aire bench ") and "python -m benchmarks" not in out


def test_python_m_benchmarks_help_keeps_its_own_usage(capsys):
    bench_main = importlib.import_module("benchmarks.__main__").main
    with pytest.raises(SystemExit):
        bench_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m benchmarks ")


def test_image_suite_writes_json_markdown_and_plot(tmp_path, monkeypatch):
    data = tmp_path / "data" / "div2k"
    data.mkdir(parents=True)
    iio.imwrite(data / "00.png", (synthetic_image(16) * 255).round().astype(np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path / "data"))
    options = {"images": 1, "size": 16, "width": 8, "steps": 20, "eval_every": 10, "budgets": [0.5], "finer_images": 0}
    path = suite.run_suite("image", "cpu", "cpu", options, tmp_path / "results")
    assert path.name == "image-cpu-cpu.json"
    result = json.loads(path.read_text())
    assert result["torch"] and result["device_name"] and result["date"]
    assert [r["run"] for r in result["rows"]] == ["large", "aire@50%", "scratch@50%"]
    aire_row, scratch_row = result["rows"][1:]
    assert aire_row["architecture"] == scratch_row["architecture"]  # scratch retrains AIRe's final architecture
    assert aire_row["params"] <= 0.5 * result["rows"][0]["params"]
    table = path.with_suffix(".md").read_text()
    assert "| siren | aire@50% | 1 |" in table and path.with_suffix(".png").stat().st_size > 0


def test_generic_markdown_lists_scalar_columns():
    table = suite.generic_markdown({"rows": [{"a": 1.23456, "b": "x", "skip": [1]}, {"a": 2, "b": None, "skip": []}]})
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1.235 | x |", "| 2 |  |"]


def test_sdf_suite_writes_rows_for_large_aire_and_scratch(tmp_path):
    import trimesh

    mesh = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(mesh)
    options = {"mesh": str(mesh), "widths": [16, 16, 16], "steps": 100, "omega0": 10.0, "batch_size": 512, "samples": 2000,
               "eval_resolution": 16, "chamfer_samples": 500, "budget": 0.7, "eval_every": 20, "pictures": False,
               "variants": {"": {}}}
    path = suite.run_suite("sdf", "cpu", "cpu", options, tmp_path / "results")
    result = json.loads(path.read_text())
    runs = {r["run"]: r for r in result["rows"]}
    assert set(runs) == {"large", "aire", "scratch"}
    assert runs["aire"]["architecture"] == runs["scratch"]["architecture"]
    assert runs["aire"]["params"] <= 0.7 * runs["large"]["params"]
    assert "Chamfer L1" in path.with_suffix(".md").read_text() and path.with_suffix(".png").is_file()


def _sweep_rows(diffs: list[float]) -> list[dict]:
    rows = []
    for seed, d in enumerate(diffs):
        scratch = 0.005
        for run, value in (("aire", scratch * (1 + d / 100)), ("scratch", scratch)):
            rows.append({"variant": "v", "size": "cpu", "settings": {}, "seed": seed, "run": run, "chamfer_l1": value,
                         "architecture": [8, 4, 1]})
    return rows


def test_sdf_sweep_summary_is_the_paired_mean_with_its_standard_error():
    sdf_sweep = importlib.import_module("benchmarks.sdf_sweep")
    (summary,) = sdf_sweep.summarise(_sweep_rows([-1.0, -3.0, 1.0]))
    assert summary["seeds"] == 3 and summary["aire_wins"] == 2
    assert summary["diff_percent"] == pytest.approx(-1.0)
    assert summary["sem_percent"] == pytest.approx((4.0 / 3) ** 0.5)  # sample sd 2, over sqrt(3)
    assert "| v | cpu |" in sdf_sweep.markdown([summary], "# t") and "-1.0 ± 1.2" in sdf_sweep.markdown([summary], "# t")


def test_sdf_sweep_skips_a_torn_line_and_unpaired_runs(tmp_path):
    sdf_sweep = importlib.import_module("benchmarks.sdf_sweep")
    rows = _sweep_rows([2.0, 4.0])[:-1]  # seed 1 has no scratch row yet
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"variant": "v", "se')
    assert len(sdf_sweep.read_rows(path)) == 3
    (summary,) = sdf_sweep.summarise(sdf_sweep.read_rows(path))
    assert summary["seeds"] == 1 and summary["diff_percent"] == pytest.approx(2.0)


def test_sdf_sweep_routes_settings_and_rejects_unknown_ones():
    sdf_sweep = importlib.import_module("benchmarks.sdf_sweep")
    fit, signal, schedule = sdf_sweep.split_variant({"steps": 10, "eikonal_weight": 0.1, "warmup": 0.2})
    assert (fit, signal, schedule) == ({"steps": 10}, {"eikonal_weight": 0.1}, {"warmup": 0.2})
    with pytest.raises(TypeError, match="no_such_setting"):
        sdf_sweep.split_variant({"no_such_setting": 1})


def test_sdf_sweep_fits_pairs_and_resumes_without_refitting(tmp_path, capsys):
    import trimesh

    sdf_sweep = importlib.import_module("benchmarks.sdf_sweep")
    mesh = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(mesh)
    base = {"widths": [16, 16, 16], "steps": 60, "omega0": 10.0, "batch_size": 512, "samples": 2000,
            "eval_resolution": 16, "chamfer_samples": 500, "budget": 0.7}
    out = tmp_path / "sweep.jsonl"
    argv = ["--mesh", str(mesh), "--seeds", "0", "1", "--threads", "1", "--base", json.dumps(base),
            "--variant", 'one={"cycles": 1}', "--out", str(out)]
    assert sdf_sweep.main(argv) == 0
    rows = sdf_sweep.read_rows(out)
    assert sorted((r["seed"], r["run"]) for r in rows) == [(0, "aire"), (0, "scratch"), (1, "aire"), (1, "scratch")]
    for seed in (0, 1):
        pair = {r["run"]: r for r in rows if r["seed"] == seed}
        assert pair["aire"]["architecture"] == pair["scratch"]["architecture"]
        assert pair["aire"]["params"] <= 0.7 * (3 * 16 + 16 + 2 * (16 * 16 + 16) + 17)
    assert out.with_suffix(".md").read_text().count("| one | cpu |") == 1
    capsys.readouterr()
    assert sdf_sweep.main(argv) == 0  # every pair is on disk: nothing is fitted again
    assert "seed" not in capsys.readouterr().out.split("# SDF")[0] and len(sdf_sweep.read_rows(out)) == 4


@pytest.mark.parametrize("pool", [False, pytest.param(True, marks=pytest.mark.slow)])  # the pool: ~1 min of start-up
def test_throughput_suite_times_serial_pool_and_batched_on_the_same_crops(tmp_path, monkeypatch, pool):
    data = tmp_path / "data" / "div2k"
    data.mkdir(parents=True)
    iio.imwrite(data / "00.png", (synthetic_image(40) * 255).round().astype(np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path / "data"))
    options = {"images": 3, "crop": 12, "widths": [6, 6, 6], "steps": 30, "pairs": 1, "pair_images": 2, "pool": pool}
    path = suite.run_suite("throughput", "cpu", "cpu", options, tmp_path / "results")
    result = json.loads(path.read_text())
    rows = {r["mode"]: r for r in result["rows"]}
    assert set(rows) == {"serial", "batched"} | ({"pool"} if pool else set())
    assert all(len(r["psnr"]) == 3 for r in rows.values())
    if pool:  # the same fits from PNG files in worker processes
        assert rows["pool"]["psnr_diff_max_abs"] < 1e-3
    assert rows["batched"]["psnr_diff_max_abs"] < 1e-3  # batched: the single fits up to float rounding
    assert rows["serial"]["speedup"] == 1.0 and result["pairs"][0]["images"] == 2
    assert "| batched | 3 | 1 |" in path.with_suffix(".md").read_text()
    # the schedule a budget resolves to (aire-cubic); compile on, and at this size no fit compiles
    assert result["settings"]["schedule"] == "aire-cubic" and result["settings"]["compile"] is True
    assert rows["serial"]["compiled_fits"] == 0 and rows["batched"]["compiled_fits"] == 0
    assert "schedule aire-cubic to 50 %" in path.with_suffix(".md").read_text()


def test_throughput_schedule_flag_reaches_the_suite(monkeypatch):
    import benchmarks.__main__ as bench

    seen = {}
    monkeypatch.setattr(bench, "run_suite", lambda name, size, device, options, out: seen.update(options))
    assert bench.main(["throughput", "--schedule", "aire", "--set", "images=2"]) == 0
    assert seen == {"schedule": "aire", "images": 2}


def test_baselines_suite_pairs_every_method_with_aire(tmp_path, monkeypatch):
    import trimesh

    data = tmp_path / "data" / "div2k"
    data.mkdir(parents=True)
    iio.imwrite(data / "00.png", (synthetic_image(16) * 255).round().astype(np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path / "data"))
    mesh = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(mesh)
    options = {"signals": ["image", "sdf"], "budgets": [0.5], "seeds": [0, 1],
               "image": {"images": 1, "size": 16, "widths": [12, 12, 12], "steps": 40, "eval_every": 20},
               "sdf": {"meshes": [str(mesh)], "widths": [12, 12, 12], "steps": 40, "batch_size": 256, "samples": 2000,
                       "eval_resolution": 16, "chamfer_samples": 300, "omega0": 10.0, "eval_every": 20}}
    path = suite.run_suite("baselines", "cpu", "cpu", options, tmp_path / "results")
    assert path.name == "baselines-cpu-cpu.json"
    result = json.loads(path.read_text())
    baselines = importlib.import_module("benchmarks.baselines")
    methods = [m for m in baselines.METHODS if m in result["methods"]]
    assert {"large", "dense-narrow", "aire", "scratch", "magnitude-oneshot", "magnitude-iterative"} <= set(methods)
    image = [r for r in result["rows"] if r["signal"] == "image"]
    assert len(image) == 2 * len(methods)  # per seed: large + every method at the one budget
    large = next(r for r in image if r["method"] == "large")
    for seed in (0, 1):
        runs = {r["method"]: r for r in image if r["seed"] == seed}
        assert runs["scratch"]["architecture"] == runs["aire"]["architecture"]
        for method in methods:
            if method != "large":
                assert runs[method]["params"] <= 0.5 * large["params"], method
        narrow = runs["dense-narrow"]["architecture"][:-1]
        assert len(set(narrow)) == 1 and sched_params(narrow[0] + 1) > 0.5 * large["params"]  # the widest under it
    summary = {(g["signal"], g["method"]): g for g in result["summary"]}
    diffs = [a["quality"] - m["quality"] for a in image if a["method"] == "aire"
             for m in image if m["method"] == "magnitude-oneshot" and m["seed"] == a["seed"]]
    g = summary[("image", "magnitude-oneshot")]
    assert g["pairs"] == 2 and g["aire_minus_method"] == pytest.approx(np.mean(diffs))
    assert g["se"] == pytest.approx(np.std(diffs, ddof=1) / np.sqrt(2))
    sdf = [r for r in result["rows"] if r["signal"] == "sdf"]
    assert len(sdf) == 2 * len(methods) and all(r["quality"] is None or r["quality"] > 0 for r in sdf)
    defined = {(r["seed"], r["method"]) for r in sdf if r["quality"] is not None}  # a tiny fit may have no surface
    both = [seed for seed in (0, 1) if {(seed, "aire"), (seed, "scratch")} <= defined]
    assert summary[("sdf", "scratch")]["pairs"] == len(both)
    table = path.with_suffix(".md").read_text()
    assert "## image" in table and "## sdf" in table and "| 50% | magnitude-oneshot | 2 |" in table
    assert "rigl: the only packaged" in table and path.with_suffix(".png").stat().st_size > 0


def sched_params(width: int) -> int:
    """Parameters of the tiny image network of the baselines test with uniform `width` (2 in, 3 out)."""
    from aire.train.schedule import count_parameters

    return count_parameters(2, [width] * 3, 3)


def test_baselines_suite_rejects_unknown_options():
    baselines = importlib.import_module("benchmarks.baselines")
    with pytest.raises(SystemExit, match="unknown option"):
        baselines.settings("cpu", {"no_such": 1})
    with pytest.raises(SystemExit, match="image takes"):
        baselines.settings("cpu", {"image": {"no_such": 1}})
    with pytest.raises(SystemExit, match="unknown signal"):
        baselines.settings("cpu", {"signals": "image,audio"})
    assert baselines.settings("cpu", {"signals": "image,sdf", "image": {"steps": 7}})["image"]["steps"] == 7


def test_widest_uniform_is_the_largest_width_under_the_target():
    baselines = importlib.import_module("benchmarks.baselines")
    from aire.train.schedule import count_parameters

    target = 0.5 * count_parameters(2, [64] * 4, 3)
    w = baselines.widest_uniform(2, 4, 3, target)
    assert count_parameters(2, [w] * 4, 3) <= target < count_parameters(2, [w + 1] * 4, 3)


def test_target_suite_bisection_finds_the_smallest_width_that_reaches():
    target_suite = importlib.import_module("benchmarks.target_suite")
    tried = []
    smallest, used = target_suite.bisect_width(lambda w: tried.append(w) or w >= 13, 48)
    assert smallest == 13 and used == [48, 24, 12, 18, 15, 13] and tried == used
    assert target_suite.bisect_width(lambda w: True, 48) == (1, [48, 24, 12, 6, 3, 1])
    with pytest.raises(ValueError, match="width 8 does not reach"):
        target_suite.bisect_width(lambda w: False, 8)


def test_target_suite_writes_sweep_and_aire_rows(tmp_path, monkeypatch):
    data = tmp_path / "data" / "div2k"
    data.mkdir(parents=True)
    iio.imwrite(data / "00.png", (synthetic_image(16) * 255).round().astype(np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path / "data"))
    options = {"images": 1, "size": 16, "width": 6, "steps": 60, "eval_every": 20, "easy": 3.0, "hard": 1.0}
    path = suite.run_suite("target", "cpu", "cpu", options, tmp_path / "results")
    result = json.loads(path.read_text())
    easy, hard = result["rows"]
    assert (easy["target"], hard["target"]) == ("easy", "hard")
    for row in (easy, hard):
        assert row["target_psnr"] == pytest.approx(row["large_psnr"] - (3.0 if row is easy else 1.0), abs=0.006)
        assert row["sweep_psnr"] >= row["target_psnr"] and row["sweep_widths"][-1] <= 6
        assert row["sweep_params"] == 2 * row["sweep_width"] + 3 * (row["sweep_width"] ** 2 + row["sweep_width"]) \
            + 3 * row["sweep_width"] + 3 + row["sweep_width"]  # 4 sine layers of that width, 2 inputs, RGB
        assert row["aire_held"] == (row["aire_psnr"] >= row["target_psnr"])
        assert row["params_ratio"] == pytest.approx(row["aire_params"] / row["sweep_params"], abs=1e-3)
    assert hard["sweep_width"] >= easy["sweep_width"]  # a harder target needs at least as wide a network
    table = path.with_suffix(".md").read_text()
    assert "| 00.png | easy |" in table and path.with_suffix(".png").stat().st_size > 0
    assert easy["aire_architecture"][0] >= 6  # AIRe starts from the sweep's largest width (6), densified or not

    # AIRe's rows again against the same sweep (reuse): the sweep's fields are the earlier ones, the large fit retimed
    again = suite.run_suite("target", "cpu", "cpu", {**options, "reuse": str(path), "aire_width": 6},
                            tmp_path / "again")
    rerun = json.loads(again.read_text())["rows"]
    for old, new in zip(result["rows"], rerun):
        assert {k: new[k] for k in ("target_psnr", "sweep_width", "sweep_params", "sweep_seconds")} == \
            {k: old[k] for k in ("target_psnr", "sweep_width", "sweep_params", "sweep_seconds")}
        assert new["reused_sweep"] is True and new["params_ratio"] == pytest.approx(new["aire_params"] / old["sweep_params"],
                                                                                      abs=1e-3)
    assert "sweep rows reused from" in again.with_suffix(".md").read_text()


def test_baselines_image_first_picks_the_hold_out_images(tmp_path, monkeypatch):
    data = tmp_path / "div2k"
    data.mkdir()
    for i in range(3):
        iio.imwrite(data / f"0{i}.png", np.full((8, 8, 3), 40 * i, dtype=np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path))
    baselines = importlib.import_module("benchmarks.baselines")
    targets = baselines._targets("image", {"first": 1, "images": 2, "size": 8})
    assert [name for name, _ in targets] == ["01.png", "02.png"]


def test_method_search_pairs_candidates_with_the_default_and_the_best_baseline(tmp_path):
    search = importlib.import_module("benchmarks.method_search")
    rows = [{"candidate": c, "image": im, "seed": s, "psnr": p, "params": 100, "architecture": [1], "seconds": 1.0}
            for c, im, s, p in [("default", "00.png", 0, 30.0), ("default", "01.png", 0, 31.0),
                                ("magnitude-iterative", "00.png", 0, 29.5), ("magnitude-iterative", "01.png", 0, 30.0),
                                ("activation", "00.png", 0, 30.2), ("activation", "01.png", 0, 31.6),
                                ("activation", "04.png", 0, 40.0)]]
    summary = {e["candidate"]: e for e in search.summarize(rows, {"00.png", "01.png"})}
    act = summary["activation"]
    assert act["runs"] == 2 and act["psnr"] == pytest.approx(30.9)
    assert act["vs_default"]["mean"] == pytest.approx(0.4) and act["vs_default"]["n"] == 2
    assert act["vs_default"]["se"] == pytest.approx(np.std([0.2, 0.6], ddof=1) / np.sqrt(2))
    assert act["vs_best_baseline"]["mean"] == pytest.approx(1.15)
    assert summary["default"]["vs_default"]["mean"] is None  # not paired with itself
    assert search.parse_range("0-3") == [0, 1, 2, 3] and search.parse_range("4,6") == [4, 6]
    assert search.schedule_for("lsq-refit", 0.5).kind == "aire-lsq"
    assert search.schedule_for("default", 0.3).target_params == 0.3
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    search.write_summary(path)
    table = path.with_suffix(".md").read_text()
    assert "| activation |" in table and "+0.40 ± 0.20 (2)" in table and "hold-out images 04-07" in table


def test_baselines_merge_joins_runs_and_recomputes_the_pairs():
    baselines = importlib.import_module("benchmarks.baselines")
    c = {"images": 1, "first": 0, "size": 8, "steps": 5}

    def part(target, seed, aire, magnitude, first=0):
        rows = [{"signal": "image", "target": target, "seed": seed, "budget": 0.5, "method": m, "quality": q,
                 "params": 10, "seconds": 1.0} for m, q in (("aire", aire), ("magnitude-iterative", magnitude))]
        return {"suite": "baselines", "size": "cpu", "device": "cpu", "device_name": "x", "torch": "t",
                "date": f"2026-01-0{seed + 1}", "wall_seconds": 5.0, "options": {}, "load": [1.0, 2.0],
                "settings": {"signals": ["image"], "budgets": [0.5], "seeds": [seed], "precision": "fp32",
                             "image": {**c, "first": first}},
                "methods": ["aire", "magnitude-iterative"], "skipped": {}, "rows": rows}

    merged = baselines.merge([part("00.png", 0, 30.0, 29.0), part("04.png", 1, 31.0, 29.5, first=4)])
    g = next(g for g in merged["summary"] if g["method"] == "magnitude-iterative")
    assert g["pairs"] == 2 and g["aire_minus_method"] == pytest.approx(1.25) and g["se"] == pytest.approx(0.25)
    assert merged["settings"]["seeds"] == [0, 1] and merged["wall_seconds"] == 10.0 and len(merged["parts"]) == 2
    assert "machine load [1.0, 2.0]" in baselines.markdown(merged)
    with pytest.raises(ValueError, match="in two runs"):
        baselines.merge([part("00.png", 0, 30.0, 29.0), part("00.png", 0, 30.0, 29.0)])
    other = part("04.png", 1, 31.0, 29.5)
    other["settings"]["image"]["steps"] = 6
    with pytest.raises(ValueError, match="settings differ"):
        baselines.merge([part("00.png", 0, 30.0, 29.0), other])
    finer = part("04.png", 1, 31.0, 29.5)
    finer["settings"]["network"] = "finer"  # a run of the FINER rows never joins the SIREN ones
    with pytest.raises(ValueError, match="differ in network"):
        baselines.merge([part("00.png", 0, 30.0, 29.0), finer])



def test_baselines_merge_command_renames_the_old_default_and_keeps_every_runs_parts(tmp_path):
    """The rows measured as ``aire`` before the default changed become ``aire-cycles`` beside the new ``aire``
    rows (python -m benchmarks.baselines merge RUN:aire=aire-cycles NEW ...); a merged run brings its own
    parts; the table lists methods in the suite's order; --only-targets keeps a subset."""
    baselines = importlib.import_module("benchmarks.baselines")

    def part(target, seed, qualities, parts=None):
        rows = [{"signal": "image", "target": target, "seed": seed, "budget": 0.5, "method": m, "quality": q,
                 "params": 10, "seconds": 1.0} for m, q in qualities.items()]
        out = {"suite": "baselines", "size": "cpu", "device": "cpu", "device_name": "x", "torch": "t",
               "date": "2026-01-01", "wall_seconds": 5.0, "options": {"seeds": [seed]}, "load": [1.0, 2.0],
               "settings": {"signals": ["image"], "budgets": [0.5], "seeds": [seed], "precision": "fp32",
                            "image": {"images": 1, "size": 8, "steps": 5}},
               "methods": list(qualities), "skipped": {}, "rows": rows}
        return {**out, "parts": parts} if parts else out

    old = part("00.png", 0, {"magnitude-iterative": 29.0, "aire": 30.0},
               parts=[{"date": d, "wall_seconds": 1.0, "options": {}} for d in ("d1", "d2")])
    old["rows"] += part("01.png", 0, {"magnitude-iterative": 28.0, "aire": 29.0})["rows"]
    new = part("00.png", 0, {"aire": 31.5})
    new["rows"] += part("01.png", 0, {"aire": 30.5})["rows"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert baselines.main(["merge", "--out", str(tmp_path / "all"), f"{tmp_path / 'old.json'}:aire=aire-cycles",
                           str(tmp_path / "new.json")]) == 0
    merged = json.loads((tmp_path / "all.json").read_text())
    assert sorted((r["target"], r["method"], r["quality"]) for r in merged["rows"] if r["method"].startswith("aire")) == \
           [("00.png", "aire", 31.5), ("00.png", "aire-cycles", 30.0), ("01.png", "aire", 30.5),
            ("01.png", "aire-cycles", 29.0)]
    summary = {g["method"]: g for g in merged["summary"]}
    assert [g["method"] for g in merged["summary"]] == ["aire", "aire-cycles", "magnitude-iterative"]
    assert summary["aire-cycles"]["aire_minus_method"] == pytest.approx(1.5)
    assert summary["magnitude-iterative"]["aire_minus_method"] == pytest.approx(2.5)
    assert [q.get("date") for q in merged["parts"]] == ["d1", "d2", "2026-01-01"]  # the merged run's own parts
    assert "| 50% | aire-cycles | 2 |" in (tmp_path / "all.md").read_text() and (tmp_path / "all.png").stat().st_size
    assert baselines.main(["merge", "--out", str(tmp_path / "one"), "--only-targets", "01.png",
                           f"{tmp_path / 'old.json'}:aire=aire-cycles", str(tmp_path / "new.json")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())
    assert {r["target"] for r in one["rows"]} == {"01.png"}
    assert next(g for g in one["summary"] if g["method"] == "aire-cycles")["aire_minus_method"] == pytest.approx(1.5)


def test_baselines_suite_runs_finer_with_the_lattice_encoding(tmp_path, monkeypatch):
    data = tmp_path / "data" / "div2k"
    data.mkdir(parents=True)
    iio.imwrite(data / "00.png", (synthetic_image(16) * 255).round().astype(np.uint8))
    monkeypatch.setenv("AIRE_DATA", str(tmp_path / "data"))
    options = {"signals": ["image"], "budgets": [0.5], "seeds": [0], "network": "finer", "encoding": "lattice",
               "aire_schedule": "aire-cubic", "methods": ["dense-narrow", "aire", "aire-cycles", "scratch"],
               "image": {"images": 1, "size": 16, "widths": [12, 12, 12], "steps": 40, "eval_every": 20}}
    path = suite.run_suite("baselines", "cpu", "cpu", options, tmp_path / "results")
    result = json.loads(path.read_text())
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"dense-narrow", "aire", "aire-cycles", "scratch"}
    assert all(r["activation"] == "finer" and r["encoding"] == "lattice" for r in rows.values())
    assert rows["scratch"]["architecture"] == rows["aire"]["architecture"]
    assert all(r["params"] <= 0.5 * r["params_initial"] for m, r in rows.items() if m in ("aire", "aire-cycles"))
    assert "network finer, encoding lattice, the aire rows' schedule aire-cubic" in path.with_suffix(".md").read_text()


def test_baselines_aire_rows_take_the_default_or_the_named_schedule():
    import aire

    baselines = importlib.import_module("benchmarks.baselines")
    s = baselines.settings("cpu", {})
    assert (s["network"], s["encoding"], s["aire_schedule"]) == ("siren", "siren", None)
    default = baselines.aire_schedule(s, 0.5, (1, 2, 3))
    assert default.kind == aire.ScheduleConfig(target_params=0.5).kind == "aire-cubic" and default.target_params == 0.5
    assert default.prune_layers == (1, 2, 3)
    named = baselines.aire_schedule(baselines.settings("cpu", {"aire_schedule": "aire-cubic"}), 0.3, (1,))
    assert (named.kind, named.target_params, named.prune_layers) == ("aire-cubic", 0.3, (1,))
    # the signal's default preset is part of "the current defaults" (NeRF: no densification); its budget is not
    nerf = baselines.aire_schedule(s, 0.5, (1, 2), "nerf")
    assert (nerf.densify_k, nerf.target_params, nerf.kind) == (0, 0.5, "aire-cubic")
    assert baselines.aire_schedule(s, 0.5, (1, 2), "image").densify_k is None
    with pytest.raises(SystemExit, match="network must be siren or finer"):
        baselines.settings("cpu", {"network": "relu"})
    with pytest.raises(SystemExit, match="encoding siren or lattice"):
        baselines.settings("cpu", {"encoding": "fourier"})


def test_sdf_nerf_search_pairs_in_percent_for_sdfs_and_db_for_nerf():
    search = importlib.import_module("benchmarks.sdf_nerf_search")
    rows = [{"signal": sig, "target": t, "seed": 0, "budget": 0.5, "method": m, "quality": q, "params": 10,
             "seconds": 1.0}
            for sig, t, m, q in [("sdf", "a", "aire-cubic", 0.010), ("sdf", "b", "aire-cubic", 0.020),
                                 ("sdf", "a", "cubic-nodensify", 0.009), ("sdf", "b", "cubic-nodensify", 0.021),
                                 ("sdf", "a", "magnitude-iterative", 0.0095), ("nerf", "s", "aire-cubic", 18.0),
                                 ("nerf", "s", "aire-lsq", 18.5)]]
    sdf = {e["method"]: e for e in search.summarize(rows, "sdf")}
    nodensify = sdf["cubic-nodensify"]
    assert nodensify["vs_aire-cubic"]["mean"] == pytest.approx(-2.5)  # -10 % and +5 % of aire-cubic's Chamfer
    assert nodensify["vs_aire-cubic"]["se"] == pytest.approx(np.std([-10.0, 5.0], ddof=1) / np.sqrt(2))
    assert nodensify["vs_magnitude-iterative"]["mean"] == pytest.approx(100 * (0.009 - 0.0095) / 0.0095)
    assert nodensify["vs_magnitude-iterative"]["n"] == 1 and sdf["aire-cubic"]["vs_aire-cubic"]["n"] == 0
    nerf = {e["method"]: e for e in search.summarize(rows, "nerf")}
    assert nerf["aire-lsq"]["vs_aire-cubic"]["mean"] == pytest.approx(0.5) and nerf["aire-lsq"]["runs"] == 1
    whole = search.schedule_for("cubic-prune-input", 4)
    assert whole.kind == "aire-cubic" and whole.prune_layers == (0, 1, 2, 3) and whole.target_params == 0.5
    plain = search.schedule_for("cubic-nodensify", 3)
    assert plain.prune_layers == (1, 2) and plain.settings == {"densify_cycles": 0}
    assert "| cubic-nodensify |" in search.markdown({"rows": rows})


def test_sdf_nerf_search_refuses_rows_of_another_protocol_in_one_file(tmp_path):
    search = importlib.import_module("benchmarks.sdf_nerf_search")
    path = tmp_path / "search.json"
    other = {s: search.protocol(s) for s in ("sdf", "nerf")} | {"budget": search.BUDGET}
    other["sdf"] = {**other["sdf"], "chamfer_samples": 200_000}
    path.write_text(json.dumps({"rows": [], "protocol": other}))
    with pytest.raises(SystemExit, match="another protocol"):
        search.check_protocol(path)
    other["sdf"]["chamfer_samples"] = search.protocol("sdf")["chamfer_samples"]
    path.write_text(json.dumps({"rows": [], "protocol": other}))
    search.check_protocol(path)  # the same protocol: rows may be added


def test_theory_verify_benchmark_reads_the_table_verify_prints():
    from benchmarks.theory_verify import parse_rows

    from aire.theory.verify import BoundRow, format_bounds

    rows = [BoundRow("layer 0 perturbed 1%", 4.98e4, 1.7, 0.365, 0.2),
            BoundRow("remove 26 of sine layer 3", 0.224, 0.224, 0.188, 0.9)]
    text = "backend: torch\n\n" + format_bounds(rows) + "\n9 passed, 0 failed\n"
    parsed = parse_rows(text)
    assert [r["change"] for r in parsed] == ["layer 0 perturbed 1%", "remove 26 of sine layer 3"]
    assert parsed[0]["theorem2"] == pytest.approx(4.98e4) and parsed[0]["tight"] == pytest.approx(1.7)
    assert parsed[0]["tight_over_observed"] == pytest.approx(1.7 / 0.365, rel=1e-2)
    assert parsed[1]["result"] == "pass"
