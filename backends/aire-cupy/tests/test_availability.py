"""Without cupy (or without a CUDA GPU) the backend says so: `aire plugins` shows it unavailable, with why."""

from __future__ import annotations

import importlib.util
import json

import pytest

from aire.cli import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed here")


def test_cupy_backend_without_cupy_is_unavailable_and_says_to_install_cupy():
    from aire_cupy import CupyBackend

    assert CupyBackend.available() is False
    assert "cupy is not installed" in CupyBackend.unavailable_reason()
    with pytest.raises(RuntimeError, match="cannot run here: cupy is not installed"):
        CupyBackend()


def test_aire_plugins_reports_the_cupy_backend_unavailable_without_cupy(capsys):
    assert main(["plugins", "--json"]) == 0
    row = next(p for p in json.loads(capsys.readouterr().out)["plugins"] if p["name"] == "cupy-backend")
    assert row["status"] == "unavailable" and row["error"].startswith("backend cupy: cupy is not installed")
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if line.startswith("cupy-backend")).split()[3] == "unavailable"
    assert any(line.startswith("    unavailable: backend cupy: cupy is not installed") for line in lines)
