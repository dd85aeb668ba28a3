"""Where a run ran: the versions, the machine and the checkout, for metrics.json's ``environment`` block
(what a paper's table of results needs beside the numbers)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

#: the aire package's folder; its parent is the checkout when aire runs from a git clone
PACKAGE_DIR = Path(__file__).resolve().parent


def cpu_name() -> str | None:
    """The CPU model: /proc/cpuinfo's ``model name`` on Linux, else platform.processor(); None when
    neither says (never runs lscpu or another program)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def device_name(device: Any) -> str | None:
    """The model of a torch device: the CUDA device's name, else the CPU's (`cpu_name`)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    return cpu_name() if device.type == "cpu" else None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout aire is imported from: HEAD's 40 hex digits and whether the
    tracked files of its aire/ folder differ from it; (None, None) for an installed package, or when git is
    missing or fails."""
    root = PACKAGE_DIR.parent
    if not (root / ".git").exists():  # a folder in a clone, a file in a worktree
        return None, None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "aire"],
                               capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None, None
    return (head, dirty) if len(head) == 40 else (None, None)


def environment(device: Any = "cpu") -> dict[str, Any]:
    """{aire, torch, python, platform, device, device_name, torch_threads, omp_wait_policy, git_commit,
    git_dirty} of this process, for a fit on `device`; values that cannot be known are None."""
    import torch

    from aire import __version__

    commit, dirty = git_state()
    return {"aire": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "device": str(device), "device_name": device_name(device),
            "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "git_commit": commit, "git_dirty": dirty}
