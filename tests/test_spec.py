"""The fit specification: layering (defaults < signal preset < named preset < config < options),
validation naming the key, and a lossless round trip through config.json."""

from __future__ import annotations

import json

import pytest

from aire.config import ConfigError
from aire.errors import InputError
from aire.presets import preset, presets, register_preset
from aire.spec import FitSpec, merge, read_config, resolve


def test_layers_win_in_order():
    base = resolve({"signal": "sdf", "path": "m.ply"})
    assert base.network.widths == tuple(preset("sdf", "default")["network"]["widths"])
    assert base.train.lr == preset("sdf", "default")["train"]["lr"]
    assert base.train.eval_every == 100  # the attrs default, untouched by the presets
    paper = resolve({"signal": "sdf", "path": "m.ply", "preset": "paper"})
    assert paper.network.omega0 == 60.0 and paper.schedule.prune_layers == (1, 2)
    mine = resolve({"signal": "sdf", "path": "m.ply", "preset": "paper", "network": {"omega0": 45}})
    assert mine.network.omega0 == 45.0 and mine.network.widths == paper.network.widths
    replay = resolve({"train": {"steps": 7}}, config=mine.to_dict())
    assert replay.train.steps == 7 and replay.network.omega0 == 45.0 and replay.train.lr == mine.train.lr


def test_round_trip_through_json_is_lossless(tmp_path):
    spec = resolve({"signal": "image", "path": "a.png", "signal_settings": {"size": 12},
                    "schedule": {"target_params": 0.5, "prune_layers": [1, 2]},
                    "components": {"criterion_settings": {"k": 1}}})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(spec.to_dict()))
    assert FitSpec.from_dict(read_config(path)) == spec


@pytest.mark.parametrize("data, message", [
    ({"train": {"stepz": 5}}, "did you mean 'steps'"),
    ({"train": {"steps": "many"}}, "train.steps must be int"),
    ({"train": {"steps": 2.5}}, "train.steps must be int"),
    ({"train": {"steps": -3}}, "steps must be a positive number"),
    ({"network": {"widths": [8, "x"]}}, "widths must be list of int"),
    ({"schedule": {"compensate": "yes"}}, "compensate must be bool"),
    ({"schedule": 3}, "schedule must be a table"),
    ({"nonsense": 1}, "unknown key 'nonsense'"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        resolve({"signal": "image", "path": "a.png", **data})


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(InputError, match="known: gpu, paper"):
        resolve({"signal": "image", "path": "a.png", "preset": "fast"})
    assert preset("some-plugin-signal", "default") == {}


def test_plugins_register_presets(monkeypatch):
    import copy

    import aire.presets

    # a private copy of the table: the toy signal's default would otherwise reach later tests (--help texts)
    monkeypatch.setattr(aire.presets, "_PRESETS", copy.deepcopy(aire.presets._PRESETS))
    register_preset("toy-signal", "default", {"train": {"steps": 11}})
    register_preset("toy-signal", "long", {"train": {"steps": 99}})
    assert presets("toy-signal") == ["default", "long"]
    assert resolve({"signal": "toy-signal", "path": "x"}).train.steps == 11
    assert resolve({"signal": "toy-signal", "path": "x", "preset": "long"}).train.steps == 99


def test_merge_is_nested_and_does_not_alias():
    base = {"a": {"b": 1, "c": [1]}, "d": 2}
    out = merge(base, {"a": {"b": 3}})
    assert out == {"a": {"b": 3, "c": [1]}, "d": 2}
    out["a"]["c"].append(2)
    assert base["a"]["c"] == [1]


def test_config_files_from_another_version_are_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"spec_version": 99, "signal": "image"}))
    with pytest.raises(InputError, match="spec_version"):
        read_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="table"):
        read_config(path)


def test_the_default_schedule_follows_the_budget_rule_and_is_recorded_resolved():
    budget = resolve({"signal": "image", "path": "a.png", "schedule": {"target_params": 0.5}})
    assert budget.schedule.kind == "aire-cubic" and budget.to_dict()["schedule"]["kind"] == "aire-cubic"
    assert resolve({"signal": "image", "path": "a.png"}).schedule.kind == "aire"
    quality = resolve({"signal": "image", "path": "a.png", "schedule": {"target_params": 0.5, "target_psnr": 30}})
    assert quality.schedule.kind == "aire"
    named = resolve({"signal": "image", "path": "a.png", "schedule": {"kind": "aire", "target_params": 0.5}})
    assert named.schedule.kind == "aire"
    # replaying the recorded (resolved) spec gives the same spec, kind included
    assert FitSpec.from_dict(json.loads(json.dumps(budget.to_dict()))) == budget


@pytest.mark.parametrize("schedule", [{"cycles": 2}, {"warmup": 0.1, "twd_length": 0.05}, {"cycle_gap": 0.05}])
def test_cycle_options_given_under_the_budget_default_are_refused_even_at_their_default_values(schedule):
    with pytest.raises(ConfigError, match="--schedule aire") as info:
        resolve({"signal": "image", "path": "a.png", "schedule": {"target_params": 0.5, **schedule}})
    assert "\n" not in str(info.value) and all(f"--{k.replace('_', '-')}" in str(info.value) for k in schedule)
    kept = resolve({"signal": "image", "path": "a.png", "schedule": {"kind": "aire", "target_params": 0.5, **schedule}})
    assert kept.schedule.kind == "aire" and all(getattr(kept.schedule, k) == v for k, v in schedule.items())
