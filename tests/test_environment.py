"""metrics.json's environment block: the versions, device and checkout a run ran with."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

import aire
from aire import environment as env_module
from aire.environment import cpu_name, environment, git_state


def test_environment_reports_this_process():
    env = environment("cpu")
    assert env["aire"] == aire.__version__ and env["torch"] == torch.__version__
    assert env["python"] == platform.python_version() and env["device"] == "cpu"
    assert env["torch_threads"] == torch.get_num_threads() and env["device_name"] == cpu_name()


def test_cpu_name_is_the_model_name_of_proc_cpuinfo():
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        if names:
            assert cpu_name() == names[0]


def test_git_commit_is_the_checkouts_head_and_none_outside_a_checkout(monkeypatch, tmp_path):
    root = Path(aire.__file__).resolve().parent.parent
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert git_state()[0] == head and len(head) == 40 and isinstance(git_state()[1], bool)
    git_state.cache_clear()
    monkeypatch.setattr(env_module, "PACKAGE_DIR", tmp_path / "site-packages" / "aire")
    try:
        assert git_state() == (None, None) and environment()["git_commit"] is None
    finally:
        git_state.cache_clear()


def test_the_command_line_makes_waiting_openmp_threads_sleep_unless_the_user_chose(monkeypatch):
    """Spinning OpenMP threads made a 2-core fit 5.6x slower beside two busy processes: the CLI module
    sets OMP_WAIT_POLICY=PASSIVE before torch loads (it imports no torch), keeping a user's own value;
    metrics.json's environment records it."""
    import os
    import sys

    code = "import sys, os, aire.cli; print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["PASSIVE", "False"]
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"}, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["ACTIVE", "False"]
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert environment("cpu")["omp_wait_policy"] == "PASSIVE"
