"""Plugin discovery through the `aire` entry-point group: built-ins, the example distribution,
broken plugins reported by name, event hooks and their faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

import aire
from aire.plugins import PluginError, PluginRegistry, UnknownComponentError

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_KINDS = {"signal": {"image"}, "encoding": {"siren"}, "network": {"siren", "finer"},
                 "criterion": {"column-l1", "certified"}, "policy": {"topk-doubling"}, "backend": {"torch"}}


def _core_entry_points():
    return [ep for ep in metadata.distribution("aire").entry_points if ep.group == "aire"]


def _fake_distribution(root: Path, name: str, entry_points: str, modules: dict[str, str]) -> Path:
    """A minimal installed distribution (dist-info with entry_points.txt) on a private path."""
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def _entry_points_at(path: Path):
    return [ep for dist in metadata.distributions(path=[str(path)]) for ep in dist.entry_points if ep.group == "aire"]


def test_builtins_register_through_entry_points_like_third_party():
    reg = PluginRegistry(_core_entry_points())
    for kind, names in BUILTIN_KINDS.items():
        comps = reg.components(kind)
        assert names <= set(comps), kind
        assert all(comps[n].distribution == "aire" for n in names)
    assert all(r.status == "loaded" for r in reg.records)


def test_example_distribution_is_installed_and_discovered(tmp_path, monkeypatch):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "plugins" / "aire-inout-criterion")],
                   check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(target))
    reg = PluginRegistry(_core_entry_points() + _entry_points_at(target))
    comp = reg.components("criterion")["inout"]
    assert comp.distribution == "aire-inout-criterion" and comp.plugin == "inout-criterion"
    criterion = reg.create("criterion", "inout")
    from aire.testing import check_pruning_criterion, small_network

    check_pruning_criterion(criterion)
    assert criterion.scores(small_network(), 0).shape == (7,)


def test_broken_plugins_are_reported_by_name_and_the_rest_works(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "aire-broken", """\
        [aire]
        broken-import = aire_broken_import
        no-spec = aire_no_spec
        raises-in-hook = aire_raises
        """, {
        "aire_broken_import": "raise ImportError('needs a library that is not installed')\n",
        "aire_no_spec": "import aire\n@aire.hookimpl\ndef aire_add_widgets():\n    return {}\n",
        "aire_raises": "import aire\n@aire.hookimpl\ndef aire_add_pruning_criteria():\n    raise RuntimeError('boom')\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = PluginRegistry(_core_entry_points() + _entry_points_at(tmp_path))
    rows = {r["name"]: r for r in reg.report() if r["status"] != "ok"}
    assert rows["broken-import"]["status"] == "error" and "needs a library" in rows["broken-import"]["error"]
    assert rows["broken-import"]["distribution"] == "aire-broken"
    assert "aire_add_widgets has no matching hookspec" in rows["no-spec"]["error"]
    assert "boom" in rows["raises-in-hook"]["error"]
    assert set(reg.components("criterion")) >= {"column-l1"}
    assert reg.create("criterion", "column-l1") is not None


def test_cli_lists_plugins_and_failures_without_crashing(tmp_path):
    _fake_distribution(tmp_path, "aire-broken", "[aire]\nbroken-import = aire_broken_import\n",
                       {"aire_broken_import": "import not_a_real_module_xyz\n"})
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "aire", "plugins", "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    broken = [r for r in rows if r["name"] == "broken-import"]
    assert broken and broken[0]["status"] == "error" and "not_a_real_module_xyz" in broken[0]["error"]
    assert {"image", "column-l1", "torch"} <= {r["name"] for r in rows if r["status"] == "ok"}
    table = subprocess.run([sys.executable, "-m", "aire", "plugins"], capture_output=True, text=True, env=env)
    assert table.returncode == 0 and "broken-import" in table.stdout and "column-l1" in table.stdout


def test_disable_plugins_by_environment(monkeypatch):
    monkeypatch.setenv("AIRE_DISABLE_PLUGINS", "topk-doubling")
    reg = PluginRegistry(_core_entry_points())
    assert "topk-doubling" not in reg.components("policy")
    assert any(r["name"] == "topk-doubling" and r["status"] == "disabled" for r in reg.report())


def test_unknown_component_suggests_a_close_name():
    with pytest.raises(UnknownComponentError, match="did you mean 'column-l1'"):
        aire.create("criterion", "colum-l1")


class _Recorder:
    def __init__(self):
        self.calls = []

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        self.calls.append(("step", step))

    @aire.hookimpl
    def aire_before_prune(self, trainer, layer, neurons):
        self.calls.append(("before_prune", layer, int(neurons.numel())))

    @aire.hookimpl
    def aire_after_prune(self, trainer, layer, removed):
        self.calls.append(("after_prune", layer, removed))

    @aire.hookimpl
    def aire_after_densify(self, trainer, added):
        self.calls.append(("densify", added))

    @aire.hookimpl
    def aire_evaluate(self, trainer, step, metrics):
        self.calls.append(("evaluate", step))


def _tiny_fit(schedule, steps=40):
    from aire.signals.image import ImageSignal, synthetic_image

    signal = ImageSignal(image=synthetic_image(16))
    net = aire.build_network(signal, [8, 8])
    return aire.fit(signal, net, steps=steps, eval_every=20, progress=False, schedule=schedule)


def test_training_events_reach_plugins():
    reg = aire.get_registry()
    recorder = _Recorder()
    reg.pm.register(recorder, name="recorder")
    try:
        _tiny_fit(aire.ScheduleConfig(cycles=1, warmup=0.25, twd_length=0.25, cycle_gap=0.0, densify_k=2,
                                      target_params=0.7))
    finally:
        reg.pm.unregister(name="recorder")
    kinds = [c[0] for c in recorder.calls]
    assert kinds.count("step") == 40
    assert ("densify", 2) in recorder.calls
    assert "before_prune" in kinds and "after_prune" in kinds
    assert kinds.index("before_prune") < kinds.index("after_prune")
    assert [c[1] for c in recorder.calls if c[0] == "evaluate"] == [0, 20, 40]


def test_a_plugin_that_raises_in_a_hook_is_named():
    class Faulty:
        @aire.hookimpl
        def aire_step_end(self, trainer, step, loss):
            raise ZeroDivisionError("bad plugin")

    reg = aire.get_registry()
    reg.pm.register(Faulty(), name="faulty-plugin")
    try:
        with pytest.raises(PluginError, match="faulty-plugin.*aire_step_end.*bad plugin"):
            _tiny_fit(aire.ScheduleConfig(kind="none"), steps=3)
    finally:
        reg.pm.unregister(name="faulty-plugin")
