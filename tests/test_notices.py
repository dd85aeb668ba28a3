"""aire's notices: one line `aire: warning: ...` on stderr from the Python API, as from the CLI, with the
program's warnings filters and formatter untouched; through the program's logging when it set it up."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import warnings, logging, sys
import aire
from aire.signals.image import ImageSignal, synthetic_image
filters, formatter = list(warnings.filters), warnings.formatwarning
{setup}
signal = ImageSignal(image=synthetic_image(12))
net = aire.build_network(signal, [8, 8, 8], seed=1)
# 4-step TWD phases cannot bring the targets under epsilon: the schedule says so while cutting for the budget
aire.fit(signal, net, steps=20, eval_every=10, progress=False,
         schedule=aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.1, target_params=0.5))
# aire adds no filter (a library imported on the way may add one for its own category: sympy does)
added = [f for f in warnings.filters if f not in filters]
assert all(f[2].__module__ != "builtins" for f in added), added
assert warnings.formatwarning is formatter
"""


def _run(setup: str = "") -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(setup=setup)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


@pytest.mark.parametrize("setup, prefix", [("", "aire: warning: TWD left"),
                                           ("logging.basicConfig(format='%(name)s|%(levelname)s|%(message)s')",
                                            "aire.schedules.adaptive|WARNING|TWD left")])
def test_a_schedule_warning_of_the_python_api_is_one_line(setup, prefix):
    lines = _run(setup)
    assert lines and all(line.startswith(prefix) for line in lines), lines  # no source file, no code line
