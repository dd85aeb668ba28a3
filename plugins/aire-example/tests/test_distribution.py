"""aire-example as a user meets it: listed by `aire plugins`, fitting through aire.fit with its
signal and its criterion (with a setting), and visible in AIRE_TRACE_HOOKS=1 output."""

import json
import os
import subprocess
import sys

import numpy as np

import aire
from aire_example.curve import Curve, chirp


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("AIRE_DISABLE_PLUGINS", "AIRE_TRACE_HOOKS",
                                                            "AIRE_EXAMPLE_TIMER")}
    return {**env, **extra}


def test_aire_plugins_lists_the_four_plugins_with_their_hooks():
    done = subprocess.run([sys.executable, "-m", "aire", "plugins", "--json"], capture_output=True, text=True,
                          env=_env())
    assert done.returncode == 0, done.stderr
    mine = {p["name"]: p for p in json.loads(done.stdout)["plugins"] if p["distribution"] == "aire-example"}
    assert set(mine) == {"example-criterion", "example-signal", "example-schedule", "step-timer"}
    assert mine["example-schedule"]["provides"] == {"schedule": ["halve-once"]}
    assert all(p["status"] == "loaded" and p["version"] == "0.1.0" for p in mine.values())
    assert mine["example-criterion"]["provides"] == {"criterion": ["column-lp"]}
    assert mine["example-signal"]["provides"] == {"signal": ["curve"]}
    assert mine["step-timer"]["provides"] == {}  # event-only, listed all the same
    assert mine["step-timer"]["hooks"] == ["aire_evaluate", "aire_fit_start", "aire_step_end"]
    assert mine["step-timer"]["wrappers"] == ["aire_step_end"]


def test_a_tiny_fit_through_the_python_api_with_the_example_signal_and_criterion():
    signal = Curve(values=chirp(128))
    network = aire.build_network(signal, [16, 16, 16], omega0=30.0)
    criterion = aire.create("criterion", "column-lp", p=2)
    schedule = aire.ScheduleConfig(kind="aire", target_params=0.6, cycles=1, warmup=0.2, twd_length=0.3,
                                   cycle_gap=0.0, densify_k=0)  # one cycle of the paper's schedule: 2 prune events
    result = aire.fit(signal, network, steps=300, eval_every=100, progress=False, schedule=schedule,
                      criterion=criterion)
    first, final = result.history[0]["rmse"], result.metrics["rmse"]
    assert final < 0.4 * first, (first, final)  # it fits the chirp (0.62 -> 0.13 measured)
    assert result.metrics["params_final"] <= 0.6 * result.metrics["params_initial"]
    assert [e["event"] for e in result.events].count("prune") == 2  # both hidden layers cut, with column-lp
    assert signal.evaluate(result.network)["rmse"] == final


def test_trace_hooks_shows_the_example_plugins_hooks(tmp_path):
    np.savetxt(tmp_path / "chirp.txt", chirp(64))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "aire", "fit", "curve", str(tmp_path / "chirp.txt"), "--out", str(out),
                           "--hidden", "8", "8", "--steps", "20", "--eval-every", "10", "--quiet", "--schedule", "none",
                           "--criterion", "column-lp"],
                          capture_output=True, text=True, env=_env(AIRE_TRACE_HOOKS="1", AIRE_EXAMPLE_TIMER="1"))
    assert done.returncode == 0, done.stderr
    err = done.stderr.splitlines()
    assert "aire: hook aire_add_signals() -> example-signal" in err
    assert "aire: hook aire_add_signals returned [{curve: Curve}]" in err
    assert "aire: hook aire_add_pruning_criteria returned [{column-lp: ColumnLpCriterion}]" in err
    assert "aire: hook aire_fit_start() -> step-timer" in err
    steps = [line for line in err if line.startswith("aire: hook aire_step_end(")]
    assert len(steps) == 20 and all(line.endswith("-> step-timer (wrapper)") for line in steps)
    assert steps[0].startswith("aire: hook aire_step_end(step=0, loss=")
    assert any(line.startswith("aire: hook aire_evaluate(step=10, metrics={rmse: ") for line in err)
    assert sum(line.startswith("aire: hook aire_evaluate returned [{timer_step_ms: ") for line in err) == 2
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())["history"]
    assert metrics["timer_step_ms"] > 0 and metrics["timer_hooks_ms"] >= 0
    assert [("timer_step_ms" in row) for row in history] == [False, True, True]  # nothing to report at step 0


def test_the_command_line_runs_every_example_plugin_with_its_settings(tmp_path):
    """The issue's end-to-end: the example signal, its criterion with a setting from the command line,
    its schedule with a setting, and the event-only timer, all in one `aire fit`, traced."""
    np.savetxt(tmp_path / "chirp.txt", chirp(64))
    common = [sys.executable, "-m", "aire", "fit", "curve", str(tmp_path / "chirp.txt"), "--hidden", "8", "8", "8",
              "--steps", "40", "--eval-every", "20", "--quiet"]
    out = tmp_path / "cut"
    done = subprocess.run([*common, "--out", str(out), "--schedule", "halve-once", "--schedule-set", "at=0.25",
                           "--schedule-set", "layer=2"], capture_output=True, text=True,
                          env=_env(AIRE_TRACE_HOOKS="1", AIRE_EXAMPLE_TIMER="1"))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture_initial"] == [8, 8, 8, 1] and metrics["architecture_final"] == [8, 8, 4, 1]
    events = json.loads((out / "history.json").read_text())["events"]
    assert [(e["event"], e["step"], e["layer"]) for e in events if e["event"] == "prune"] == [("prune", 10, 2)]
    config = json.loads((out / "config.json").read_text())
    assert config["schedule"]["kind"] == "halve-once" and config["schedule"]["settings"] == {"at": 0.25, "layer": 2}
    err = done.stderr.splitlines()
    assert any(line.startswith("aire: hook aire_add_schedules(") and "example-schedule" in line for line in err)
    assert any(line.startswith("aire: hook aire_before_prune(") for line in err)
    assert all(line.endswith("-> step-timer (wrapper)") for line in err if line.startswith("aire: hook aire_step_end("))
    assert metrics["timer_step_ms"] > 0
    aire_run = tmp_path / "aire"
    done = subprocess.run([*common, "--out", str(aire_run), "--criterion", "column-lp", "--criterion-set", "p=2",
                           "--target-params", "0.6", "--densify-k", "0"], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    config = json.loads((aire_run / "config.json").read_text())
    assert config["components"]["criterion_settings"] == {"p": 2}
    final = json.loads((aire_run / "metrics.json").read_text())
    assert final["params_final"] <= 0.6 * final["params_initial"]
    refused = subprocess.run([*common, "--out", str(tmp_path / "bad"), "--schedule", "halve-once",
                              "--schedule-set", "keeep=0.5"], capture_output=True, text=True, env=_env())
    assert refused.returncode == 2 and "schedule 'halve-once' has no setting 'keeep'" in refused.stderr
    assert not (tmp_path / "bad").exists()
