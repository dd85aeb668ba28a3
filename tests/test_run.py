"""Running a specification: config.json replays bit-identically, settings are checked by name and
type, and --resume continues only the same fit on the same, unchanged input."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from aire.cli import main
from aire.signals.image import synthetic_image
from aire.train.state import CHECKPOINT_FILE, load_checkpoint
from tests.notices import expect_notice

FAST = ["--hidden", "8", "8", "8", "--steps", "40", "--eval-every", "10", "--quiet", "--target-params", "0.6"]


def _fit(capsys, *argv):
    capsys.readouterr()
    code = main([*map(str, argv)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_config_replays_bit_identically(image_path, tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _fit(capsys, "fit", "image", image_path, "--out", a, *FAST)[0] == 0
    config = json.loads((a / "config.json").read_text())
    assert config["train"]["steps"] == 40 and config["network"]["widths"] == [8, 8, 8]
    assert config["schedule"]["kind"] == "aire-cubic"  # the budget's default, recorded resolved: replays the same
    assert _fit(capsys, "fit", "--config", a / "config.json", "--out", b)[0] == 0
    assert _same_tensors(a, b)
    assert json.loads((b / "config.json").read_text()) == config
    # options given with --config override it
    assert _fit(capsys, "fit", "--config", a / "config.json", "--out", c, "--seed", "5")[0] == 0
    assert json.loads((c / "config.json").read_text())["train"]["seed"] == 5
    assert not _same_tensors(a, c)


def test_a_budget_fit_records_the_resolved_cubic_ramp_and_schedule_aire_keeps_the_cycles(image_path, tmp_path, capsys):
    """The default under --target-params is aire-cubic: config.json, metrics.json and the history say so (its
    8 TWD phases tile 10-35 % of the 40 steps); --schedule aire runs the paper's 2 cycles (warm-up 4 steps,
    TWD 2, gap 2) and records that."""
    cubic, cycles = tmp_path / "cubic", tmp_path / "cycles"
    assert _fit(capsys, "fit", "image", image_path, "--out", cubic, *FAST)[0] == 0
    assert _fit(capsys, "fit", "image", image_path, "--out", cycles, *FAST, "--schedule", "aire")[0] == 0
    for run, kind, starts in ((cubic, "aire-cubic", [4, 5, 6, 8, 9, 10, 12, 13]), (cycles, "aire", [4, 8])):
        assert json.loads((run / "config.json").read_text())["schedule"]["kind"] == kind
        assert json.loads((run / "metrics.json").read_text())["settings"]["schedule"]["kind"] == kind
        events = json.loads((run / "history.json").read_text())["events"]
        assert [e["step"] for e in events if e["event"] == "twd_start"] == starts, kind


def test_a_cycle_option_with_the_budget_default_is_one_line_and_writes_nothing(image_path, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = _fit(capsys, "fit", "image", image_path, "--out", out, *FAST, "--cycles", "3")
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error: ")
    assert "--cycles" in err[0] and "--schedule aire" in err[0] and not out.exists()


def _same_tensors(a, b) -> bool:
    """Every weight of both models bit-identical (safetensors' header order may vary between writes)."""
    from safetensors.torch import load_file

    x, y = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.parametrize("argv, message", [
    (["--set", "sizee=8"], "valid settings: lpips (bool), max_size (int or null), orientation (one of 'apply', 'ignore'), size (int or null)"),
    (["--set", "size=1.5"], "size must be int or null"),
    (["--set", "size=abc"], "aire: error: signal 'image' setting size must be int or null, got 'abc'"),
    (["--set", "size=-3"], "size must be an integer of at least 2"),
    (["--size", "1"], "at least 2"),
    (["--criterion-set", "k=1"], "criterion 'column-l1' has no setting 'k'"),
    (["--policy-set", "k=1"], "policy 'topk-doubling' has no setting 'k'"),
    (["--encoding-set", "frozen=3"], "frozen must be bool"),
    (["--preset", "fast"], "known: gpu, paper"),
])
def test_settings_are_checked_by_name_and_type(image_path, tmp_path, capsys, argv, message):
    out = tmp_path / "o"
    code, err = _fit(capsys, "fit", "image", image_path, "--out", out, *FAST, *argv)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_config_with_preset_or_without_out_is_refused(image_path, tmp_path, capsys):
    a = tmp_path / "a"
    assert _fit(capsys, "fit", "image", image_path, "--out", a, *FAST)[0] == 0  # (none with a budget is refused)
    code, err = _fit(capsys, "fit", "--config", a / "config.json", "--out", tmp_path / "b", "--preset", "paper")
    assert code == 2 and "--preset" in err[0]
    code, err = _fit(capsys, "fit", "--config", a / "config.json")
    assert code == 2 and "--out" in err[0]


def _interrupted(capsys, image_path, tmp_path):
    """A fit stopped (KeyboardInterrupt) right after writing its step-20 checkpoint, as a kill would leave it."""
    import aire.train.callbacks.checkpoint as checkpoint_module

    run = tmp_path / "run"
    real_save = checkpoint_module.save_checkpoint

    def save_then_stop(state, directory, extra=None):
        real_save(state, directory, extra)
        raise KeyboardInterrupt

    checkpoint_module.save_checkpoint = save_then_stop
    try:
        code = main(["fit", "image", str(image_path), "--out", str(run), *FAST, "--checkpoint-every", "20"])
    finally:
        checkpoint_module.save_checkpoint = real_save
    capsys.readouterr()
    assert code == 130 and (run / CHECKPOINT_FILE).is_file() and not (run / "metrics.json").exists()
    return run


def test_resume_honours_device_and_quiet_and_refuses_the_rest(image_path, tmp_path, capsys, monkeypatch):
    run = _interrupted(capsys, image_path, tmp_path)
    for argv, word in ((["--steps", "80"], "--steps"), (["--hidden", "4"], "--hidden"), (["--out", "x"], "--out"),
                       (["--set", "size=8"], "--set"), (["--overwrite"], "--overwrite")):
        code, err = _fit(capsys, "fit", "--resume", run, *argv)
        assert code == 2 and len(err) == 1 and word in err[0], (argv, err)
    code, err = _fit(capsys, "fit", "--resume", run, "--device", "meta")
    assert code == 2 and "meta" in err[0]
    monkeypatch.chdir(tmp_path.parent)  # resuming works from any working folder
    code, _ = _fit(capsys, "fit", "--resume", run, "--device", "cpu", "--quiet")
    assert code == 0 and (run / "metrics.json").is_file() and not (run / CHECKPOINT_FILE).exists()


def test_resume_refuses_a_changed_input(image_path, tmp_path, capsys):
    run = _interrupted(capsys, image_path, tmp_path)
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(image_path, (synthetic_image(20, seed=4) * 255).astype(np.uint8))  # another image, another size
    code, err = _fit(capsys, "fit", "--resume", run)
    assert code == 2 and "changed since the checkpoint" in err[0]
    assert (run / CHECKPOINT_FILE).is_file() and not (run / "metrics.json").exists()


def test_checkpoint_written_on_cuda_loads_on_the_cpu(image_path, tmp_path, capsys):
    """A checkpoint whose tensors were saved on cuda:0 (their storage location rewritten in the
    archive, since this machine may have no GPU) loads with every tensor on the CPU."""
    run = _interrupted(capsys, image_path, tmp_path)
    path = run / CHECKPOINT_FILE
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    pickle_name = next(n for n in entries if n.endswith("data.pkl"))
    data = entries[pickle_name]
    cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"  # pickle protocol 2 BINUNICODE strings
    assert cpu in data
    entries[pickle_name] = data.replace(cpu, cuda)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.load(path, weights_only=False)  # what a plain load does with it here
    state = load_checkpoint(run)
    assert all(w.device.type == "cpu" for w in state["weights"])
    code, _ = _fit(capsys, "fit", "--resume", run, "--device", "cpu")
    assert code == 0 and (run / "metrics.json").is_file()


def test_literal_settings_are_checked(image_path, tmp_path, capsys):
    code, err = _fit(capsys, "fit", "image", image_path, "--out", tmp_path / "o", *FAST, "--set", "orientation=sideways")
    assert code == 2 and "orientation must be one of 'apply', 'ignore'" in err[0], err


def test_criterion_settings_reach_the_criterion(image_path, tmp_path, capsys):
    """The example plugin's column-lp criterion takes a setting from the command line."""
    from aire.plugins import get_registry

    if get_registry().find("criterion", "column-lp") is None:
        pytest.skip("the aire-example plugin is not installed")
    out = tmp_path / "o"
    code, _ = _fit(capsys, "fit", "image", image_path, "--out", out, *FAST, "--criterion", "column-lp",
                   "--criterion-set", "p=2")
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["schedule"]["criterion"] == "column-lp" and config["components"]["criterion_settings"] == {"p": 2}
    code, err = _fit(capsys, "fit", "image", image_path, "--out", tmp_path / "x", *FAST, "--criterion", "column-lp",
                     "--criterion-set", "p=0.5")
    assert code == 2 and "p" in err[0], err


def test_a_device_generator_of_another_device_is_dropped_with_a_note(image_path, tmp_path, capsys, caplog):
    run = _interrupted(capsys, image_path, tmp_path)
    state = torch.load(run / CHECKPOINT_FILE, weights_only=False)
    state["rng"]["device"] = "cuda:0"  # as a CUDA fit would have written it
    torch.save(state, run / CHECKPOINT_FILE)
    with expect_notice(caplog, "random state for cuda:0 was dropped"):
        code, _ = _fit(capsys, "fit", "--resume", run, "--device", "cpu")
    assert code == 0


def test_seconds_fit_counts_the_loop_and_seconds_total_adds_final_metrics_and_exports(image_path, tmp_path,
                                                                                        monkeypatch, capsys):
    """Half a second spent in the final metrics and in the export each lands in seconds_total, not in
    seconds_fit (lower bounds only: the loop's own time varies)."""
    import time

    from aire.signals.image import ImageSignal

    final, export = ImageSignal.final_metrics, ImageSignal.export
    monkeypatch.setattr(ImageSignal, "final_metrics", lambda self, model: (time.sleep(0.5), final(self, model))[1])
    monkeypatch.setattr(ImageSignal, "export", lambda self, model, out: (time.sleep(0.5), export(self, model, out))[1])
    out = tmp_path / "run"
    assert main(["fit", "image", str(image_path), "--out", str(out), "--hidden", "8", "8", "--steps", "4",
                 "--eval-every", "2", "--schedule", "none", "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["seconds"] == m["seconds_fit"]
    assert m["seconds_total"] >= m["seconds_fit"] + 1.0
    assert f"{m['seconds_total']:.1f} s in all" in capsys.readouterr().out


@pytest.mark.parametrize("argv, kind", [(["--target-params", "0.5"], "aire-cubic"), ([], "aire"),
                                        (["--schedule", "none"], "none")])
def test_the_summary_line_names_the_schedule_that_ran(argv, kind, image_path, tmp_path, capsys):
    """`auto` (the default) resolves to aire-cubic with a budget and aire without; the line names the kind."""
    out = tmp_path / "run"
    assert main(["fit", "image", str(image_path), "--out", str(out), "--hidden", "8", "8", "--steps", "10",
                 "--eval-every", "5", "--quiet", *argv]) == 0
    summary = capsys.readouterr().out.splitlines()[0]
    assert json.loads((out / "config.json").read_text())["schedule"]["kind"] == kind
    assert f"]  schedule {kind}  " in summary, summary


@pytest.mark.parametrize("damage, message", [
    (lambda s: [1, 2, 3], "not an aire checkpoint"),
    (lambda s: {k: v for k, v in s.items() if k != "optimizer"}, "key 'optimizer' is missing"),
    (lambda s: {**s, "weights": [s["weights"][0], s["weights"][1][:, :2], *s["weights"][2:]]}, "layer 1 takes 2 inputs"),
    (lambda s: {**s, "biases": [s["biases"][0][:1], *s["biases"][1:]]}, "layer 0 has weight"),
    (lambda s: {**s, "weights": [s["weights"][0] * float("nan"), *s["weights"][1:]]}, "NaN or infinite weights in layer 0"),
])
def test_damaged_checkpoints_are_one_line_naming_the_file(image_path, tmp_path, capsys, damage, message):
    run = _interrupted(capsys, image_path, tmp_path)
    state = torch.load(run / CHECKPOINT_FILE, weights_only=False)
    torch.save(damage(state), run / CHECKPOINT_FILE)
    code, err = _fit(capsys, "fit", "--resume", run)
    assert code == 2 and len(err) == 1 and message in err[0] and "checkpoint.pt" in err[0], err
    assert not (run / "metrics.json").exists()
