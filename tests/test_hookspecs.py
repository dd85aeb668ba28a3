"""The hook API itself: every hook has a test that implements it, the trainer is a TrainerView, and
the API version is recorded in the changelog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import aire
from aire import hookspecs
from aire.config import ScheduleConfig, TrainConfig
from aire.plugins import KINDS, spec_names

ROOT = Path(__file__).resolve().parents[1]
#: where tests live: aire's own, and those of the distributions under plugins/ and backends/
TEST_SOURCES = sorted({*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py"),
                       *ROOT.glob("backends/*/tests/**/*.py")})


@pytest.mark.parametrize("hook", sorted(spec_names()))
def test_every_hookspec_is_implemented_by_a_test(hook):
    """datasette's test_plugin_hooks_have_tests: a hook added to aire.hookspecs without a test that
    implements it (`def <hook>(` in a test file) and checks what aire does with it fails here."""
    pattern = re.compile(rf"\bdef {hook}\(")
    assert any(pattern.search(path.read_text()) for path in TEST_SOURCES), (
        f"hook {hook} has no test: add one that implements it and checks its effect")


def test_every_component_hook_has_a_kind():
    assert {name for name in spec_names() if name.startswith("aire_add_")} == set(KINDS)


def test_hookspecs_are_documented_and_typed():
    for name in spec_names():
        stub = getattr(hookspecs, name)
        assert stub.__doc__ and stub.__doc__.strip(), name
        assert "Any" not in str(stub.__annotations__.get("trainer", "")), name
        if "trainer" in stub.__annotations__:
            assert stub.__annotations__["trainer"] == "TrainerView", name


def test_the_trainer_is_a_trainer_view():
    from aire.signals.image import ImageSignal, synthetic_image
    from aire.train.trainer import Trainer

    signal = ImageSignal(image=synthetic_image(8))
    trainer = Trainer(signal, aire.build_network(signal, [4, 4]), TrainConfig(steps=1, progress=False),
                      ScheduleConfig(kind="none"))
    assert isinstance(trainer, hookspecs.TrainerView)
    assert trainer.step == 0 and trainer.history == [] and trainer.elapsed() >= 0.0


def test_api_version_is_major_minor_and_in_the_changelog():
    assert re.fullmatch(r"\d+\.\d+", hookspecs.API_VERSION)
    assert aire.API_VERSION == hookspecs.API_VERSION
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"plugin API {hookspecs.API_VERSION}" in changelog
