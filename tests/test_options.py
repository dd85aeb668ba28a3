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


def test_fit_many_offers_the_same_options():
    fit = {a.option_strings[0] for a in _actions("fit")}
    many = {a.option_strings[0] for a in _actions("fit-many")}
    shared = {o.flag for o in generated_options()} - {"--quiet", "--checkpoint-every"}
    assert shared <= fit and shared <= many


def _actions(command):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions if a.option_strings]
