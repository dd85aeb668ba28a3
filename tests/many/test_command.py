"""`aire fit-many` on the command line: a bad spec is one line, exit 2, and nothing on disk."""

from __future__ import annotations

import pytest

from aire.cli import main


@pytest.mark.parametrize("argv, message", [
    (["{images}/nothing*.png"], "matches nothing"),
    (["{spec}", "--steps", "5"], "grid key 'steps'"),
    (["{images}", "--executor", "local", "--threads-per-worker", "0"], "--threads-per-worker"),
    (["{images}", "--set", "oops"], "KEY=VALUE"),
    (["{images}", "--workers", "0"], "--workers"),
    (["{spec}", "{images}"], "only SPEC"),
])
def test_bad_collections_fail_in_one_line_before_writing(collection, tmp_path, capsys, argv, message):
    spec = collection["spec"]
    bad = tmp_path / "bad.toml"
    bad.write_text(f'inputs = ["{spec.parent}/images/*.png"]\n[grid]\nsteps = [10, 20]\n')
    words = [w.format(images=spec.parent / "images", spec=bad) for w in argv]
    out = tmp_path / "runs"
    code = main(["fit-many", *words, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error: ")
    assert message in err[0]
    assert not out.exists()


def test_a_job_that_misses_its_quality_target_is_shown_apart_and_the_exit_status_is_2(tmp_path, capsys):
    """`aire fit` writes a run whose quality target was not held and exits 2; fit-many counted such a job
    as done and exited 0. Now its row says missed-target with the reason, and fit-many exits 2."""
    import csv
    import json

    from tests.many.conftest import write_images

    write_images(tmp_path / "images", 1, size=12)
    table = tmp_path / "table.toml"
    table.write_text('inputs = ["images/*.png"]\n[defaults]\nhidden = [4, 4]\nsteps = 6\neval_every = 3\n'
                     '[grid]\ntarget_psnr = [1.0, 99.0]\n')
    out = tmp_path / "runs"
    assert main(["fit-many", str(table), "--out", str(out), "--executor", "serial", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("1 done, 1 missed the quality target, 0 failed of 2 jobs"), captured.out
    rows = {float(r["target_psnr"]): r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows[1.0]["status"] == "done" and rows[1.0]["error"] == ""
    missed = rows[99.0]
    metrics = json.loads((out / missed["id"] / "metrics.json").read_text())
    assert metrics["target"]["held"] is False  # the run is written, as `aire fit` writes it
    assert missed["status"] == "missed-target"
    assert missed["error"].startswith(f"target_psnr 99 was not held: psnr {metrics['psnr']:.4g} at the end")
    assert f"missed-target: {missed['id']}: target_psnr 99 was not held" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["counts"]["done"], summary["counts"]["missed_target"]) == (1, 1)
    assert summary["cells"][1]["missed_target"] == 1 and summary["cells"][1]["quality_mean"] == metrics["psnr"]
