"""Plugin discovery through the `aire` entry-point group: built-ins, the example distribution,
broken plugins reported by name, blocked plugins, clashing component names, and event hooks called
through pluggy's hook caller (wrappers, tracing, results, faults named by plugin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest
import torch

import aire
from aire.interfaces import Backend
from aire.errors import InputError
from aire.hookspecs import TrainerView
from aire.plugins import (AmbiguousComponentError, PluginError, PluginRegistry, UnknownComponentError, get_registry,
                          reset_registry)
from aire.pruning.column_l1 import ColumnL1Criterion
from aire.signals.image import synthetic_image
from aire.testing import small_network
from tests.plugin_fixtures import core_entry_points, entry_points_at, fake_distribution

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_KINDS = {"signal": {"image", "sdf", "nerf"}, "encoding": {"siren", "lattice"}, "network": {"siren", "finer"},
                 "criterion": {"column-l1", "certified"}, "policy": {"topk-doubling", "residual-spectrum"}, "backend": {"torch"}}

#: a second distribution that also provides `column-l1` (scores = neuron index, unlike the L1 norm)
CLASHING = ("my-dist", "[aire]\nmy-l1 = my_l1\n", {"my_l1": """\
    import torch
    import aire
    from aire.interfaces import PruningCriterion

    class IndexCriterion(PruningCriterion):
        def scores(self, network, layer):
            return torch.arange(network.widths()[layer], dtype=torch.float64)

    @aire.hookimpl
    def aire_add_pruning_criteria():
        return {"column-l1": IndexCriterion}
    """})


@pytest.fixture
def fresh_registry(monkeypatch):
    """The process-wide registry rebuilt for this test (after env changes) and forgotten after it."""
    reset_registry()
    yield
    reset_registry()


def test_builtins_register_through_entry_points_like_third_party():
    reg = PluginRegistry(core_entry_points())
    for kind, names in BUILTIN_KINDS.items():
        comps = reg.components(kind)
        assert names <= set(comps), kind
        assert all(comps[n].distribution == "aire-inr" for n in names)
    assert all(r.status == "loaded" for r in reg.records)
    assert reg.clashes() == []


def test_example_distribution_is_installed_and_discovered(tmp_path, monkeypatch):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "plugins" / "aire-inout-criterion")],
                   check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(target))
    reg = PluginRegistry(core_entry_points() + entry_points_at(target))
    comp = reg.components("criterion")["inout"]
    assert comp.distribution == "aire-inout-criterion" and comp.plugin == "inout-criterion"
    criterion = reg.create("criterion", "inout")
    from aire.testing import check_pruning_criterion, small_network

    check_pruning_criterion(criterion)
    assert criterion.scores(small_network(), 0).shape == (7,)


def test_broken_plugins_are_reported_by_name_and_the_rest_works(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "aire-broken", """\
        [aire]
        broken-import = aire_broken_import
        no-spec = aire_no_spec
        raises-in-hook = aire_raises
        bad-name = aire_bad_name
        """, {
        "aire_broken_import": "raise ImportError('needs a library that is not installed')\n",
        "aire_no_spec": "import aire\n@aire.hookimpl\ndef aire_add_widgets():\n    return {}\n",
        "aire_raises": """\
            import aire
            @aire.hookimpl
            def aire_add_pruning_criteria():
                raise RuntimeError('boom')
            @aire.hookimpl
            def aire_step_end(step):
                raise AssertionError('a failed plugin must not be called')
            """,
        "aire_bad_name": "import aire\n@aire.hookimpl\ndef aire_add_backends():\n    return {'x:y': object}\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = PluginRegistry(core_entry_points() + entry_points_at(tmp_path))
    rows = {p["name"]: p for p in reg.report()["plugins"]}
    assert rows["broken-import"]["status"] == "error" and "needs a library" in rows["broken-import"]["error"]
    assert rows["broken-import"]["distribution"] == "aire-broken" and rows["broken-import"]["version"] == "0.1"
    assert "aire_add_widgets has no matching hookspec" in rows["no-spec"]["error"]
    assert rows["raises-in-hook"]["status"] == "error" and "RuntimeError: boom" in rows["raises-in-hook"]["error"]
    assert "'x:y'" in rows["bad-name"]["error"]
    assert rows["column-l1"]["status"] == "loaded"
    assert set(reg.components("criterion")) >= {"column-l1"}
    assert isinstance(reg.create("criterion", "column-l1"), ColumnL1Criterion)
    reg.emit("aire_step_end", trainer=None, step=0, loss=torch.tensor(1.0))  # the failed plugin was taken out


def test_disable_plugins_by_environment_blocks_them_in_pluggy(monkeypatch):
    monkeypatch.setenv("AIRE_DISABLE_PLUGINS", "topk-doubling, recorder")
    reg = PluginRegistry(core_entry_points())
    assert "topk-doubling" not in reg.components("policy")
    assert reg.pm.is_blocked("topk-doubling")
    assert reg.record("topk-doubling").status == "disabled"
    assert reg.pm.register(object(), name="recorder") is None  # blocked names stay blocked for later registrations
    disabled = [p for p in reg.report()["plugins"] if p["status"] == "disabled"]
    assert [p["name"] for p in disabled] == ["topk-doubling"]


def test_disable_external_blocks_every_third_party_entry_point_without_importing_it(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "aire-third", "[aire]\nthird = aire_third\n",
                      {"aire_third": "raise ImportError('imported although disabled')\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AIRE_DISABLE_PLUGINS", "external")
    reg = PluginRegistry(core_entry_points() + entry_points_at(tmp_path))
    assert reg.record("third").status == "disabled" and reg.record("third").error == ""
    assert all(r.status == "loaded" for r in reg.records if r.distribution == "aire-inr")


def test_unknown_component_suggests_a_close_name():
    with pytest.raises(UnknownComponentError, match="did you mean 'column-l1'"):
        aire.create("criterion", "colum-l1")


def test_create_refuses_settings_the_factory_does_not_take_naming_those_it_does():
    with pytest.raises(InputError, match=r"encoding 'lattice' \(aire-inr\): .*'perod'.*its settings: period, bandlimit"):
        aire.create("encoding", "lattice", perod=3.0)
    assert aire.create("encoding", "lattice", period=3.0).period == 3.0


def test_duplicate_component_names_are_kept_reported_and_refused(tmp_path, monkeypatch):
    fake_distribution(tmp_path, *CLASHING)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = PluginRegistry(core_entry_points() + entry_points_at(tmp_path))
    [clash] = reg.clashes()
    assert (clash.kind, clash.name) == ("criterion", "column-l1")
    assert [(c.distribution, c.plugin) for c in clash.providers] == [("aire-inr", "column-l1"), ("my-dist", "my-l1")]
    assert "column-l1" not in reg.components("criterion")  # neither wins silently, not even the built-in
    with pytest.raises(AmbiguousComponentError) as refused:
        reg.create("criterion", "column-l1")
    message = str(refused.value)
    assert "\n" not in message
    assert "aire-inr (plugin column-l1) and my-dist (plugin my-l1)" in message
    assert "aire-inr:column-l1 or my-dist:column-l1" in message
    net = small_network()
    assert isinstance(reg.create("criterion", "aire-inr:column-l1"), ColumnL1Criterion)
    mine = reg.create("criterion", "my-dist:column-l1")
    assert mine.scores(net, 1).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert type(reg.create("criterion", "My_Dist:column-l1")) is type(mine)  # PEP 503 normalised
    assert type(reg.create("criterion", "my-l1:column-l1")) is type(mine)  # or the entry-point name
    with pytest.raises(UnknownComponentError, match="no criterion 'column-l1' in 'other'.*aire-inr:column-l1, my-dist"):
        reg.create("criterion", "other:column-l1")
    report = reg.report()
    assert report["clashes"][0]["providers"] == [
        {"plugin": "column-l1", "distribution": "aire-inr", "selector": "aire-inr:column-l1"},
        {"plugin": "my-l1", "distribution": "my-dist", "selector": "my-dist:column-l1"}]
    rows = [c for c in report["components"] if c["name"] == "column-l1"]
    assert [(c["distribution"], c["clash"]) for c in rows] == [("aire-inr", True), ("my-dist", True)]


def test_a_runtime_plugin_can_provide_every_component_kind():
    from aire.backends.torch_backend import TorchBackend
    from aire.densify.topk_doubling import TopKDoubling
    from aire.encodings.siren import SirenEncoding
    from aire.nn.plugin import siren
    from aire.signals.image import ImageSignal

    class EveryKind:
        @aire.hookimpl
        def aire_add_signals(self):
            return {"image-copy": ImageSignal}

        @aire.hookimpl
        def aire_add_encodings(self):
            return {"siren-copy": SirenEncoding}

        @aire.hookimpl
        def aire_add_networks(self):
            return {"siren-copy": siren}

        @aire.hookimpl
        def aire_add_pruning_criteria(self):
            return {"column-l1-copy": ColumnL1Criterion}

        @aire.hookimpl
        def aire_add_densification_policies(self):
            return {"topk-copy": TopKDoubling}

        @aire.hookimpl
        def aire_add_backends(self):
            return {"torch-copy": TorchBackend}

    reg = PluginRegistry(core_entry_points())
    reg.pm.register(EveryKind(), name="every-kind")
    made = {kind: reg.create(kind, name) for kind, name in [
        ("encoding", "siren-copy"), ("criterion", "column-l1-copy"), ("policy", "topk-copy"), ("backend", "torch-copy")]}
    assert isinstance(made["encoding"], SirenEncoding) and isinstance(made["backend"], TorchBackend)
    assert isinstance(made["criterion"], ColumnL1Criterion) and isinstance(made["policy"], TopKDoubling)
    assert reg.components("network")["siren-copy"].factory is siren
    signal = reg.create("signal", "image-copy", image=synthetic_image(8))
    assert signal.values.shape == (64, 3)
    record = next(p for p in reg.report()["plugins"] if p["name"] == "every-kind")
    assert record["provides"] == {"signal": ["image-copy"], "encoding": ["siren-copy"], "network": ["siren-copy"],
                                  "criterion": ["column-l1-copy"], "policy": ["topk-copy"], "backend": ["torch-copy"]}
    assert record["distribution"] == "-" and len(record["hooks"]) == 6


class _Recorder:
    def __init__(self):
        self.calls = []

    @aire.hookimpl
    def aire_fit_start(self, trainer):
        assert isinstance(trainer, TrainerView)
        self.calls.append(("fit_start", trainer.step))

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        self.calls.append(("step", step))

    @aire.hookimpl
    def aire_before_prune(self, trainer, layer, neurons):
        self.calls.append(("before_prune", layer, int(neurons.numel()), trainer.network.widths()[layer]))

    @aire.hookimpl
    def aire_after_prune(self, trainer, layer, removed):
        self.calls.append(("after_prune", layer, removed, trainer.network.widths()[layer]))

    @aire.hookimpl
    def aire_after_densify(self, trainer, added):
        self.calls.append(("densify", added))

    @aire.hookimpl
    def aire_evaluate(self, trainer, step, metrics):
        self.calls.append(("evaluate", step))

    @aire.hookimpl
    def aire_fit_end(self, trainer, metrics):
        self.calls.append(("fit_end", trainer.step, metrics["steps"]))


def _tiny_fit(schedule, steps=40):
    from aire.signals.image import ImageSignal, synthetic_image

    signal = ImageSignal(image=synthetic_image(16))
    net = aire.build_network(signal, [8, 8])
    return aire.fit(signal, net, steps=steps, eval_every=20, progress=False, schedule=schedule)


def _registered(plugin, name):
    """Context: `plugin` registered on the process-wide registry under `name`."""
    class _Ctx:
        def __enter__(self):
            get_registry().pm.register(plugin, name=name)
            return plugin

        def __exit__(self, *exc):
            get_registry().pm.unregister(name=name)

    return _Ctx()


def test_training_events_reach_plugins():
    with _registered(_Recorder(), "recorder") as recorder:
        # budget 0.8 pays for the 2 new frequencies (aire.schedules.cuts.affordable_frequencies; at 0.7 only 1)
        _tiny_fit(aire.ScheduleConfig(kind="aire", cycles=1, warmup=0.25, twd_length=0.25, cycle_gap=0.0, densify_k=2,
                                      target_params=0.8))
    kinds = [c[0] for c in recorder.calls]
    assert recorder.calls[0] == ("fit_start", 0) and recorder.calls[-1] == ("fit_end", 40, 40)
    assert kinds.count("step") == 40
    assert [c[1] for c in recorder.calls if c[0] == "step"] == list(range(40))
    assert ("densify", 2) in recorder.calls
    before = next(c for c in recorder.calls if c[0] == "before_prune")
    after = next(c for c in recorder.calls if c[0] == "after_prune")
    assert kinds.index("before_prune") < kinds.index("after_prune")
    assert after[3] == before[3] - before[2] and after[2] == before[2]  # the layer really lost `removed` neurons
    assert [c[1] for c in recorder.calls if c[0] == "evaluate"] == [0, 20, 40]


def test_after_evaluate_gets_each_full_history_row_and_after_event_each_recorded_event():
    class Logger:
        def __init__(self):
            self.rows, self.events = [], []

        @aire.hookimpl
        def aire_after_evaluate(self, trainer, row):
            assert row is not trainer.history[-1] and dict(row) == trainer.history[-1]  # a read-only view
            with pytest.raises(TypeError):
                row["psnr"] = 0.0
            self.rows.append(dict(row))

        @aire.hookimpl
        def aire_after_event(self, trainer, event):
            assert dict(event) == trainer.events[-1]
            self.events.append(dict(event))

    with _registered(Logger(), "logger") as logger:
        result = _tiny_fit(aire.ScheduleConfig(kind="aire", cycles=1, warmup=0.25, twd_length=0.25, cycle_gap=0.0, densify_k=2,
                                               target_params=0.7))
    assert logger.rows == result.history and "seconds" in logger.rows[-1] and "psnr" in logger.rows[-1]
    assert logger.events == result.events
    assert [e["event"] for e in logger.events] == ["densify", "twd_start", "prune"]


def test_a_hook_wrapper_runs_around_the_other_implementations():
    order = []

    class Inner:
        @aire.hookimpl
        def aire_step_end(self, step):
            order.append(("inner", step))

    class Wrapper:
        @aire.hookimpl(wrapper=True)
        def aire_step_end(self, step):
            order.append(("before", step))
            result = yield
            order.append(("after", step, result))
            return result

    with _registered(Inner(), "inner"), _registered(Wrapper(), "wrapper"):
        _tiny_fit(aire.ScheduleConfig(kind="none"), steps=2)
    assert order == [("before", 0), ("inner", 0), ("after", 0, []), ("before", 1), ("inner", 1), ("after", 1, [])]


def test_aire_evaluate_results_join_the_history_and_the_final_metrics():
    class Extra:
        @aire.hookimpl
        def aire_evaluate(self, trainer, step, metrics):
            return {"ext_double_step": 2.0 * step, "ext_psnr_seen": metrics["psnr"]}

    class Silent:  # returning None adds nothing
        @aire.hookimpl
        def aire_evaluate(self, step):
            return None

    with _registered(Extra(), "extra"), _registered(Silent(), "silent"):
        result = _tiny_fit(aire.ScheduleConfig(kind="none"), steps=40)
    assert [row["ext_double_step"] for row in result.history] == [0.0, 40.0, 80.0]
    assert all(row["ext_psnr_seen"] == row["psnr"] for row in result.history)
    assert result.metrics["ext_double_step"] == 80.0


@pytest.mark.parametrize("returned, message", [
    ({"psnr": 1.0}, "'psnr' from aire_evaluate, which is already a signal metric"),
    ({"params": 1.0}, "'params' from aire_evaluate, which is already a history column"),
    ({"ext": torch.tensor(1.0)}, "'ext': Tensor from aire_evaluate; metrics are str -> int/float"),
    ([1.0], "returned list from aire_evaluate"),
])
def test_a_bad_aire_evaluate_result_is_an_error_naming_the_plugin(returned, message):
    class Bad:
        @aire.hookimpl
        def aire_evaluate(self):
            return returned

    class Silent:  # pluggy drops None results: the blame must still fall on the right plugin
        @aire.hookimpl
        def aire_evaluate(self):
            return None

    with _registered(Silent(), "silent-before"), _registered(Bad(), "bad-metrics"), _registered(Silent(), "silent"):
        with pytest.raises(PluginError, match=f"^plugin 'bad-metrics' .*{message}"):
            _tiny_fit(aire.ScheduleConfig(kind="none"), steps=2)


def test_two_plugins_returning_the_same_metric_are_both_named():
    def plugin(value):
        class P:
            @aire.hookimpl
            def aire_evaluate(self):
                return {"ext_shared": value}
        return P()

    with _registered(plugin(1.0), "first"), _registered(plugin(2.0), "second"):
        with pytest.raises(PluginError, match="plugin 'first' returned metric 'ext_shared'.*a metric of plugin 'second'"):
            _tiny_fit(aire.ScheduleConfig(kind="none"), steps=2)


def test_evaluate_metrics_are_read_only_for_plugins():
    class Mutates:
        @aire.hookimpl
        def aire_evaluate(self, metrics):
            metrics["sneaky"] = 1.0

    with _registered(Mutates(), "mutates"), pytest.raises(PluginError, match="'mutates' failed in aire_evaluate") as err:
        _tiny_fit(aire.ScheduleConfig(kind="none"), steps=2)
    assert isinstance(err.value.__cause__, TypeError)


def test_a_plugin_that_raises_in_a_hook_is_named_and_keeps_its_traceback():
    def helper():
        raise ZeroDivisionError("bad plugin")

    class Healthy:
        @aire.hookimpl
        def aire_step_end(self, step):
            pass

    class Faulty:
        @aire.hookimpl
        def aire_step_end(self, trainer, step, loss):
            helper()  # the culprit is the implementation that called into the raising code

    with _registered(Faulty(), "faulty-plugin"), _registered(Healthy(), "healthy"):
        with pytest.raises(PluginError, match="plugin 'faulty-plugin' failed in aire_step_end: ZeroDivisionError: bad plugin") as err:
            _tiny_fit(aire.ScheduleConfig(kind="none"), steps=3)
    assert err.value.plugin == "faulty-plugin" and err.value.hook == "aire_step_end"
    cause = err.value.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = []
    tb = cause.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-2:] == ["aire_step_end", "helper"]


def test_a_wrapper_that_raises_is_named_not_the_plugin_it_wraps():
    class Inner:
        @aire.hookimpl
        def aire_fit_start(self):
            pass

    class BrokenWrapper:
        @aire.hookimpl(wrapper=True)
        def aire_fit_start(self):
            yield
            raise KeyError("after")

    reg = PluginRegistry(core_entry_points())
    reg.pm.register(Inner(), name="inner")
    reg.pm.register(BrokenWrapper(), name="broken-wrapper")
    with pytest.raises(PluginError, match="plugin 'broken-wrapper' failed in aire_fit_start: KeyError"):
        reg.emit("aire_fit_start", trainer=None)


def test_an_input_error_from_a_plugin_stays_a_user_error_naming_it():
    class Refuses:
        @aire.hookimpl
        def aire_fit_start(self):
            raise InputError("this plugin needs --eval-every 10")

    reg = PluginRegistry(core_entry_points())
    reg.pm.register(Refuses(), name="refuses")
    with pytest.raises(InputError, match="plugin 'refuses' in aire_fit_start: this plugin needs --eval-every 10"):
        reg.emit("aire_fit_start", trainer=None)


def test_emit_returns_what_pluggy_returns_and_a_firstresult_hook_decides():
    class Specs:
        @aire.hookspecs.hookspec(firstresult=True)
        def aire_test_decide(self, value):
            """A hook whose first non-None answer decides."""

    class Abstains:
        @aire.hookimpl
        def aire_test_decide(self, value):
            return None

    class Decides:
        @aire.hookimpl
        def aire_test_decide(self, value):
            return value * 2

    class Late:
        @aire.hookimpl(trylast=True)
        def aire_test_decide(self, value):
            return -1

    reg = PluginRegistry(core_entry_points())
    reg.pm.add_hookspecs(Specs)
    for name, plugin in [("decides", Decides()), ("abstains", Abstains()), ("late", Late())]:
        reg.pm.register(plugin, name=name)
    assert reg.emit("aire_test_decide", value=21) == 42
    with pytest.raises(ValueError, match="no hookspec named 'aire_nope'"):
        reg.emit("aire_nope")


def test_trace_hooks_prints_every_event_call_with_its_plugins(monkeypatch, capsys, fresh_registry):
    monkeypatch.setenv("AIRE_TRACE_HOOKS", "1")
    monkeypatch.setenv("AIRE_DISABLE_PLUGINS", "external")  # only aire's plugins and these two

    class Timer:
        @aire.hookimpl(wrapper=True)
        def aire_step_end(self):
            return (yield)

    with _registered(_Recorder(), "recorder"), _registered(Timer(), "timer"):
        _tiny_fit(aire.ScheduleConfig(kind="none"), steps=2)
    err = capsys.readouterr().err.splitlines()
    assert "aire: hook aire_fit_start() -> recorder" in err
    steps = [line for line in err if line.startswith("aire: hook aire_step_end(")]
    assert len(steps) == 2 and steps[0].startswith("aire: hook aire_step_end(step=0, loss=")
    assert steps[0].endswith(") -> timer (wrapper), recorder")
    assert any(line.startswith("aire: hook aire_evaluate(step=2, metrics={psnr: ") for line in err)
    assert any(line.startswith("aire: hook aire_add_pruning_criteria() -> column-l1") for line in err)
    assert "aire: hook aire_add_pruning_criteria returned [{column-l1: ColumnL1Criterion}]" in err


def test_report_lists_event_only_plugins_with_their_hooks_and_wrappers():
    class Timer:
        @aire.hookimpl(wrapper=True)
        def aire_step_end(self):
            return (yield)

        @aire.hookimpl
        def aire_fit_end(self):
            pass

    reg = PluginRegistry(core_entry_points())
    reg.pm.register(Timer(), name="timer")
    row = next(p for p in reg.report()["plugins"] if p["name"] == "timer")
    assert row["hooks"] == ["aire_fit_end", "aire_step_end"] and row["wrappers"] == ["aire_step_end"]
    assert row["provides"] == {} and row["status"] == "loaded"
    assert json.loads(json.dumps(reg.report()))["api_version"] == aire.API_VERSION


def test_report_marks_a_plugin_whose_component_cannot_run_here_unavailable_with_the_reason():
    class NoGpu(Backend):
        name = "nogpu"

        def bessel_j(self, orders, x):
            raise NotImplementedError

        def power_spectrum(self, values):
            raise NotImplementedError

        @classmethod
        def available(cls):
            return False

        @classmethod
        def unavailable_reason(cls):
            return "needs a GPU"

    class Plugin:
        @aire.hookimpl
        def aire_add_backends(self):
            return {"nogpu": NoGpu}

    reg = PluginRegistry(core_entry_points())
    reg.pm.register(Plugin(), name="nogpu-backend")
    rows = {p["name"]: p for p in reg.report()["plugins"]}
    assert rows["nogpu-backend"]["status"] == "unavailable"
    assert rows["nogpu-backend"]["error"] == "backend nogpu: needs a GPU"
    assert rows["nogpu-backend"]["hooks"] == ["aire_add_backends"]
    assert rows["torch-backend"]["status"] == "loaded" and rows["torch-backend"]["error"] == ""


def test_cli_lists_plugins_clashes_and_failures_without_crashing(tmp_path):
    fake_distribution(tmp_path, "aire-broken", "[aire]\nbroken-import = aire_broken_import\n",
                      {"aire_broken_import": "import not_a_real_module_xyz\n"})
    fake_distribution(tmp_path, *CLASHING)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "aire", "plugins", "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["broken-import"]["status"] == "error" and "not_a_real_module_xyz" in plugins["broken-import"]["error"]
    assert plugins["image"]["provides"] == {"signal": ["image"]} and plugins["image"]["version"] == aire.__version__
    assert [c["name"] for c in report["clashes"]] == ["column-l1"]
    table = subprocess.run([sys.executable, "-m", "aire", "plugins"], capture_output=True, text=True, env=env)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0] == f"aire {aire.__version__}, plugin API {aire.API_VERSION}"
    assert lines[1].split() == ["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES", "HOOKS"]
    assert any(line.split()[:4] == ["broken-import", "aire-broken", "0.1", "error"] for line in lines)
    assert "    error: ModuleNotFoundError: No module named 'not_a_real_module_xyz'" in lines
    assert ("clash: criterion 'column-l1' is provided by aire-inr (plugin column-l1) and my-dist (plugin my-l1); "
            "write aire-inr:column-l1 or my-dist:column-l1 to choose") in lines


def test_cli_refuses_a_clashing_name_in_one_line_and_takes_dist_name(tmp_path, image_path):
    fake_distribution(tmp_path / "site", *CLASHING)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    fit = [sys.executable, "-m", "aire", "fit", "image", str(image_path), "--hidden", "8", "8", "--steps", "4",
           "--eval-every", "2", "--quiet", "--schedule", "none"]
    refused = subprocess.run([*fit, "--out", str(tmp_path / "a"), "--criterion", "column-l1"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and not (tmp_path / "a").exists()
    assert refused.stderr == ("aire: error: criterion 'column-l1' is provided by aire-inr (plugin column-l1) and my-dist "
                              "(plugin my-l1); write aire-inr:column-l1 or my-dist:column-l1 to choose\n")
    chosen = subprocess.run([*fit, "--out", str(tmp_path / "b"), "--criterion", "my-dist:column-l1"],
                            capture_output=True, text=True, env=env)
    assert chosen.returncode == 0, chosen.stderr
    settings = json.loads((tmp_path / "b" / "metrics.json").read_text())["settings"]
    assert "my-dist:column-l1" in json.dumps(settings)


def test_pluggy_version_has_what_aire_needs():
    """New-style wrappers (pluggy >= 1.1) and Result.exception are used by the registry and the tracer."""
    assert hasattr(pluggy.HookimplMarker("x")(wrapper=True)(lambda: None), "x_impl")
    assert hasattr(pluggy.Result, "exception")
