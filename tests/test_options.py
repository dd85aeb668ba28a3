"""`aire fit` options are generated from the specification: every documented field has a flag with
its help text, and each flag's value lands at its place in the spec."""

from __future__ import annotations

import argparse

import attrs
import pytest

from aire.cli import build_parser, main
from aire.config import ScheduleConfig, TrainConfig
from aire.options import SECTIONS, generated_options, overrides_from_args
from aire.spec import ComponentSpec, NetworkSpec


def test_every_documented_field_has_one_flag():
    options = generated_options()
    flags = [o.flag for o in options]
    assert len(flags) == len(set(flags))
    paths = {o.path for o in options}
    for section, cls, _ in SECTIONS:
        for field in attrs.fields(cls):
            assert "help" in field.metadata, f"{cls.__name__}.{field.name} has no help text"
            assert (section, field.name) in paths


def test_help_shows_the_field_help(capsys):
    assert main(["fit", "--help"]) == 0
    text = capsys.readouterr().out
    for cls in (NetworkSpec, TrainConfig, ScheduleConfig, ComponentSpec):
        for field in attrs.fields(cls):
            first_words = " ".join(field.metadata["help"].split()[:3])
            assert first_words in " ".join(text.split()), (cls.__name__, field.name)


def _overrides(*argv):
    args = build_parser().parse_args(["fit", "image", "x.png", "--out", "o", *argv])
    return overrides_from_args(args)


def test_values_land_in_the_spec():
    got = _overrides("--hidden", "8", "9", "--quiet", "--set", "a=1", "--set", "b=x", "--size", "12",
                     "--no-lr-rewind", "--criterion-set", "k=[1, 2]", "--omega0", "20")
    assert got == {"network": {"widths": [8, 9], "omega0": 20.0}, "train": {"progress": False},
                   "signal_settings": {"a": 1, "b": "x", "size": 12}, "schedule": {"lr_rewind": False},
                   "components": {"criterion_settings": {"k": [1, 2]}}}
    assert _overrides() == {}


@pytest.mark.parametrize("argv", [["--steps", "1.5"], ["--hidden", "8", "x"], ["--set", "novalue"],
                                  ["--precision", "fp8"], ["--lr", "fast"]])
def test_bad_option_values_are_one_line(argv, capsys, tmp_path):
    code = main(["fit", "image", "x.png", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error:"), err


@pytest.mark.parametrize("argv, message", [
    (["--target-params", "1.5"], "aire: error: --target-params must lie in (0, 1], got 1.5"),
    (["--omega0", "-1"], "aire: error: --omega0 must be a positive number, got -1.0"),
    (["--steps", "0"], "aire: error: --steps must be a positive number, got 0"),
])
def test_an_out_of_range_value_is_refused_naming_the_flag_the_user_typed(argv, message, capsys, tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"")  # never read: the value is refused while the specification is built
    code = main(["fit", "image", str(image), "--out", str(tmp_path / "o"), *argv])
    assert (code, capsys.readouterr().err.strip()) == (2, message)
    assert not (tmp_path / "o").exists()


def test_an_out_of_range_value_of_a_config_file_is_refused_naming_the_file_and_key(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"signal": "image", "path": "x.png", "schedule": {"target_params": 2}}')
    code = main(["fit", "--config", str(config), "--out", str(tmp_path / "o")])
    assert (code, capsys.readouterr().err.strip()) == (
        2, f"aire: error: {config}: schedule.target_params must lie in (0, 1], got 2")


@pytest.mark.parametrize("edit, message", [
    ({"train": {"steps": "twenty"}}, "train.steps must be int, got 'twenty'"),
    ({"network": {"widths": [8, "x"]}}, "network.widths must be list of int, got [8, 'x']"),
    ({"schedule": [1]}, "schedule must be a table, got [1]"),
    ({"train": {"stepz": 5}}, "train.stepz: unknown key; did you mean 'steps'? (known: steps, "),
    ({"nonsense": 1}, "nonsense: unknown key (known: signal, path, "),
])
def test_a_wrong_type_or_unknown_key_of_a_config_file_is_refused_naming_the_file_and_key(edit, message, capsys,
                                                                                           tmp_path):
    import json

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"signal": "image", "path": "x.png", **edit}))
    code = main(["fit", "--config", str(config), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"aire: error: {config}: {message}"), err
    assert not (tmp_path / "o").exists()


def test_fit_many_offers_the_same_options():
    fit = {a.option_strings[0] for a in _actions("fit")}
    many = {a.option_strings[0] for a in _actions("fit-many")}
    shared = {o.flag for o in generated_options()} - {"--quiet", "--checkpoint-every"}
    assert shared <= fit and shared <= many


def _actions(command):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions if a.option_strings]


def _fit_action(flag: str) -> argparse.Action:
    fit = _subparsers(build_parser())["fit"]
    return next(a for a in fit._actions if flag in a.option_strings)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("flag, metavar", [("--steps", "N"), ("--lr", "FLOAT"), ("--omega0", "FLOAT"),
                                           ("--preset", "NAME"), ("--batch-size", "N"), ("--size", "N"),
                                           ("--target-params", "FLOAT"), ("--device", "NAME")])
def test_metavars_say_what_the_value_is(flag, metavar):
    assert _fit_action(flag).metavar == metavar


def test_no_option_of_any_command_lacks_help_or_shows_an_internal_metavar():
    for command, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"aire {command} {action.option_strings or action.dest}"
            names = action.metavar if isinstance(action.metavar, tuple) else (action.metavar,)
            for name in names:
                assert name is None or "." not in name and name == name.upper(), f"aire {command}: {name}"


def test_quiet_does_not_claim_a_default_and_preset_defaults_are_shown_per_signal():
    assert "default" not in _fit_action("--quiet").help
    batch = _fit_action("--batch-size").help
    # the values each signal's default preset gives (aire.presets), not the field's None
    assert "16384 for image" in batch and "8192 for sdf" in batch and "512 for nerf" in batch
    hidden = _fit_action("--hidden").help
    assert "128x128x128x128 for image/sdf" in hidden and "64x64x64 for nerf" in hidden
    assert "output layer" in hidden  # nerf's --hidden 16 16 is reported with its 16-wide output layer
    assert "(default 2000)" in _fit_action("--steps").help  # every preset agrees with the field


def test_fit_signal_help_lists_the_signal_settings_from_its_signature(capsys):
    assert main(["fit", "image", "--help"]) == 0
    text = capsys.readouterr().out
    listing = text[text.index("settings of signal 'image'"):]
    assert "orientation (one of 'apply', 'ignore', default \"apply\")" in listing
    assert "max_size (int or null, default 256 from the preset; null otherwise)" in listing
    assert "path" not in listing.split("\n", 1)[1]  # passed by aire itself, not a setting


def test_plugins_settings_lists_every_component_kind(capsys):
    assert main(["plugins", "--settings"]) == 0
    text = capsys.readouterr().out
    assert "signal sdf (--set KEY=VALUE):" in text and "criterion column-l1 (--criterion-set KEY=VALUE):" in text
    nerf = text[text.index("signal nerf"):text.index("signal sdf")]
    assert "samples (int, default 32 from the preset; 48 otherwise)" in nerf


def test_preset_help_names_each_signals_presets():
    """--preset names what exists, so `--preset gpu` (image) is found from --help alone."""
    help_text = next(o for o in generated_options() if o.flag == "--preset").kwargs["help"]
    assert "(image: gpu, paper; nerf: cubic, paper; sdf: paper)" in help_text
