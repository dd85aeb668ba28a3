"""The schedule's plain functions: cycle plan, alpha ramp, TWD shrink, budget-derived widths."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aire.config import ConfigError, ScheduleConfig
from aire.train import schedule as sched


def test_plan_places_cycles_after_warmup_with_gaps():
    cfg = ScheduleConfig(warmup=0.1, cycles=3, twd_length=0.05, cycle_gap=0.1)
    cycles = sched.plan(cfg, 1000)
    assert [(c.start, c.prune) for c in cycles] == [(100, 150), (250, 300), (400, 450)]
    assert sched.plan(ScheduleConfig(kind="none"), 1000) == []


def test_alpha_ramps_linearly_to_alpha_max():
    values = [sched.alpha(t, 10, 0.5) for t in range(10)]
    assert values[0] == pytest.approx(0.05) and values[-1] == pytest.approx(0.5)
    assert all(b > a for a, b in zip(values, values[1:]))


@given(length=st.integers(1, 500), alpha_max=st.floats(0.01, 0.99))
def test_twd_shrink_is_the_product_of_the_decays(length, alpha_max):
    direct = math.prod(1 - sched.alpha(t, length, alpha_max) for t in range(length))
    assert sched.twd_shrink(length, alpha_max) == pytest.approx(direct, rel=1e-9, abs=1e-300)


@given(widths=st.lists(st.integers(1, 300), min_size=1, max_size=5), d=st.integers(1, 3), out=st.integers(1, 4),
       budget=st.floats(0.05, 1.0), data=st.data())
def test_budget_widths_meet_the_target_and_are_maximal(widths, d, out, budget, data):
    layers = data.draw(st.lists(st.integers(0, len(widths) - 1), min_size=1, unique=True))
    start = sched.count_parameters(d, widths, out)
    target = budget * start
    new = sched.budget_widths(d, widths, out, layers, target)
    assert all(n == w for i, (n, w) in enumerate(zip(new, widths)) if i not in layers)
    assert all(1 <= n <= w for n, w in zip(new, widths))
    minimal = [1 if i in layers else w for i, w in enumerate(widths)]
    if sched.count_parameters(d, minimal, out) <= target:
        assert sched.count_parameters(d, new, out) <= target
        # maximal for a common factor: the next factor at which any pruned layer gains a neuron is over budget
        grow = [(new[i] + 1) / widths[i] for i in layers if new[i] < widths[i]]
        if grow:
            s = min(grow)
            bigger = [max(1, math.floor(s * w + 1e-9)) if i in layers else w for i, w in enumerate(widths)]
            assert sched.count_parameters(d, bigger, out) > target
    else:
        assert new == minimal


def test_cycle_targets_are_geometric_and_end_at_the_budget():
    targets = [sched.cycle_target(1000, 0.25, c, 2) for c in range(2)]
    assert targets == pytest.approx([500.0, 250.0])


@pytest.mark.parametrize("field, value", [("alpha_max", 1.0), ("alpha_max", -0.1), ("target_params", 0.0),
                                          ("target_params", 1.5), ("cycles", 0), ("epsilon", -1.0),
                                          ("warmup", 1.2)])
def test_bad_schedule_settings_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        ScheduleConfig(**{field: value})


def test_phases_must_leave_room_for_fine_tuning():
    with pytest.raises(ConfigError, match="fine-tuning"):
        ScheduleConfig(warmup=0.5, cycles=4, twd_length=0.1, cycle_gap=0.1)
