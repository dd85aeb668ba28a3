"""aire.targets: what a target means for each signal, the refusals, the reach extrapolation and the cut sizing."""

from __future__ import annotations

import math

import pytest

import aire
from aire.config import ConfigError
from aire.schedules.plain import PlainSchedule
from aire.signals.image import ImageSignal, synthetic_image
from aire.signals.nerf.signal import NerfSignal
from aire.signals.sdf import SDFSignal
from aire.targets import CutOutcome, QualityTarget, check_schedule, declared, optimistic_end, propose_fraction, resolve


def test_each_signal_declares_its_targets_with_a_direction():
    assert declared(ImageSignal(image=synthetic_image(8))) == {"psnr": ("psnr", True)}
    assert NerfSignal.quality_targets == {"psnr": ("psnr_test", True)}
    assert SDFSignal.quality_targets == {"chamfer": ("chamfer_l1", False)}

    class Custom:  # no declaration: its quality key, in its direction
        quality_key, higher_is_better = "error", False

    assert declared(Custom()) == {"error": ("error", False)}


def test_resolve_maps_the_option_to_the_signal_metric():
    image = ImageSignal(image=synthetic_image(8))
    assert resolve(aire.ScheduleConfig(), image) is None
    assert resolve(aire.ScheduleConfig(target_psnr=30), image) == QualityTarget("target_psnr", "psnr", 30.0, True)
    sdf = SDFSignal.__new__(SDFSignal)  # only its class attributes are read
    assert resolve(aire.ScheduleConfig(target_chamfer=0.01), sdf) == QualityTarget("target_chamfer", "chamfer_l1", 0.01, False)


def test_a_target_the_signal_does_not_declare_is_one_line():
    image = ImageSignal(image=synthetic_image(8))
    with pytest.raises(ConfigError, match=r"^target_chamfer: ImageSignal declares no chamfer quality \(its targets: target_psnr\)$"):
        resolve(aire.ScheduleConfig(target_chamfer=0.01), image)
    sdf = SDFSignal.__new__(SDFSignal)
    with pytest.raises(ConfigError, match=r"^target_psnr: SDFSignal declares no psnr quality \(its targets: target_chamfer\)$"):
        resolve(aire.ScheduleConfig(target_psnr=30), sdf)


def test_two_targets_at_once_are_refused():
    with pytest.raises(ConfigError, match="one quality target at a time: target_psnr and target_chamfer"):
        aire.ScheduleConfig(target_psnr=30, target_chamfer=0.01)


def test_a_schedule_that_cannot_honour_a_target_is_refused():
    image = ImageSignal(image=synthetic_image(8))
    config = aire.ScheduleConfig(kind="none", target_psnr=30)
    with pytest.raises(ConfigError, match=r"^target_psnr 30 needs a schedule that cuts to a quality target \(aire\); "
                                          r"schedule 'none' cannot honour it$"):
        check_schedule(config, PlainSchedule(config), image)
    check_schedule(aire.ScheduleConfig(kind="none"), PlainSchedule(), image)  # no target: nothing to honour


def test_margin_and_holds_follow_the_direction():
    psnr = QualityTarget("target_psnr", "psnr", 30.0, True)
    assert psnr.margin(31.5) == 1.5 and psnr.holds(30.0) and not psnr.holds(29.9)
    chamfer = QualityTarget("target_chamfer", "chamfer_l1", 0.01, False)
    assert chamfer.margin(0.004) == pytest.approx(0.006) and chamfer.holds(0.01) and not chamfer.holds(0.011)
    assert chamfer.margin(None) == -math.inf and not chamfer.holds(None)  # no mesh: no Chamfer, not held


def test_optimistic_end_extends_the_trend_of_the_second_half():
    # rate from the last sample at or before step 20 (15 dB) to step 40 (15.2 dB): 0.01 dB/step, 60 steps left
    assert optimistic_end([(0, 10.0), (10, 14.0), (20, 15.0), (40, 15.2)], 100) == pytest.approx(15.8)
    assert optimistic_end([(10, 15.0), (20, 14.0)], 100) == 14.0  # a fall is not extended (optimistic)
    # lower is better: a falling Chamfer goes on falling; no sample in the first half: the first one
    assert optimistic_end([(60, 0.05), (90, 0.04)], 120, higher_is_better=False) == pytest.approx(0.03)
    assert optimistic_end([(60, 0.05)], 120, higher_is_better=False) == 0.05


def test_propose_fraction_starts_with_the_first_and_stops_without_margin():
    assert propose_fraction(1.0, [], first=0.2, smallest=0.01) == 0.2
    assert propose_fraction(0.0, [], first=0.2, smallest=0.01) == 0.0
    assert propose_fraction(-1.0, [CutOutcome(0.2, 2.0, 1.0)], first=0.2, smallest=0.01) == 0.0


def test_propose_fraction_spends_part_of_the_margin_at_the_measured_rate():
    # the last cut: 0.2 of the parameters cost 1 dB (3 -> 2): 5 dB per unit; 0.7 of a 2 dB margin -> 0.28
    held = [CutOutcome(fraction=0.2, margin_before=3.0, margin_after=2.0)]
    assert propose_fraction(2.0, held, first=0.2, smallest=0.01) == pytest.approx(0.28)
    # a cut that cost nothing grows at most 1.5x the last that held
    free = [CutOutcome(0.1, 3.0, 3.2)]
    assert propose_fraction(3.2, free, first=0.2, smallest=0.01) == pytest.approx(0.15)
    # never more than `largest`, never less than `smallest`
    assert propose_fraction(100.0, held, first=0.2, smallest=0.01, largest=0.3) == 0.3
    assert propose_fraction(0.01, held, first=0.2, smallest=0.05) == 0.05


def test_propose_fraction_calibrates_the_prediction_by_the_measured_recovery():
    # predicted 50 dB per unit at the last cut, measured 5 after recovery (ratio 0.1); predicted 80 now -> 8
    history = [CutOutcome(0.2, 3.0, 2.0, predicted_rate=50.0)]
    assert propose_fraction(2.0, history, first=0.2, smallest=0.01, predicted_rate=80.0) == pytest.approx(0.7 * 2.0 / 8.0)
    # without a prediction now, the measured rate alone
    assert propose_fraction(2.0, history, first=0.2, smallest=0.01) == pytest.approx(0.28)


def test_propose_fraction_bisects_below_a_cut_that_failed():
    # from the same held network (margin 1 dB) a cut of 0.4 failed by 3 dB (10 dB per unit): the model says
    # 0.07, under the bisection's ceiling 0.2 (and 1.5x the last held cut, 0.45)
    steep = [CutOutcome(0.3, 2.0, 1.0), CutOutcome(0.4, 1.0, -3.0)]
    assert propose_fraction(1.0, steep, first=0.2, smallest=0.01) == pytest.approx(0.07)
    # a milder failure (1.2 dB over 0.4: 3 per unit) would say 0.7 / 3 = 0.233: the ceiling holds it at 0.2
    mild = [CutOutcome(0.3, 2.0, 1.0), CutOutcome(0.4, 1.0, -0.2)]
    assert propose_fraction(1.0, mild, first=0.2, smallest=0.01) == pytest.approx(0.2)
    twice = [CutOutcome(0.4, 1.0, -0.2), CutOutcome(0.1, 1.0, -0.1)]  # two failures: below half the smaller
    assert propose_fraction(1.0, twice, first=0.2, smallest=0.01) == pytest.approx(0.05)
    # the smallest cut already failed from this network: stop
    assert propose_fraction(1.0, [CutOutcome(0.01, 1.0, -0.5)], first=0.2, smallest=0.01) == 0.0


# ------------------------------------------------------------------ the "anticipate" mode's arithmetic
def test_anticipate_plan_tiles_warm_up_to_end_and_checks_after_the_last_cut():
    from aire.targets import anticipate_plan

    cycles, check = anticipate_plan(800, 0.1, 0.6, 5, 0.05)  # 80 .. 480 in intervals of 80: TWD 40, recovery 40
    assert cycles == [(80, 120), (160, 200), (240, 280), (320, 360), (400, 440)]
    assert check == 480
    cycles, _ = anticipate_plan(100, 0.1, 0.5, 2, 0.3)  # a TWD longer than its interval ends one step early
    assert cycles == [(10, 29), (30, 49)]
    assert anticipate_plan(10, 0.1, 0.3, 4, 0.05) == ([], None)  # intervals under two steps: no cuts


def test_improvement_rate_is_per_e_fold_of_steps_in_the_target_direction():
    from aire.targets import improvement_rate

    psnr = QualityTarget("target_psnr", "psnr", 30.0, True)
    samples = [(0, 5.0), (50, 20.0), (100, 24.0), (200, 26.0)]
    assert improvement_rate(samples, psnr) == pytest.approx(2.0 / math.log(2.0))  # from step 100 (half of 200)
    assert improvement_rate([(0, 5.0), (50, 20.0), (80, 23.0)], psnr) == pytest.approx(3.0 / math.log(80 / 50))
    assert improvement_rate([(0, 5.0), (80, 23.0)], psnr) is None  # step 0 is no e-fold
    assert improvement_rate([(50, 21.0), (100, 20.0)], psnr) == 0.0  # a fall is no gain
    chamfer = QualityTarget("target_chamfer", "chamfer_l1", 0.01, False)
    assert improvement_rate([(10, 0.04), (20, 0.02)], chamfer) == pytest.approx(0.02 / math.log(2.0))


def test_projected_margin_extends_the_rate_damped_by_kappa_and_the_run_left():
    from aire.targets import projected_margin

    assert projected_margin(-1.0, 3.0, 200, 800, 0.4) == pytest.approx(-1.0 + 0.4 * 0.75 * 3.0 * math.log(4.0))
    assert projected_margin(-1.0, None, 200, 800, 0.4) == -1.0
    assert projected_margin(-1.0, 3.0, 800, 800, 0.4) == -1.0  # nothing left to gain at the last step


def test_target_mode_settings_and_their_refusals():
    from aire.targets import TargetMode

    mode = TargetMode.from_settings({"target_mode": "held", "target_cuts": 3})
    assert (mode.mode, mode.cuts, mode.end, mode.kappa, mode.densify_cycles, mode.first) == ("held", 3, 0.7, 0.4, 1, 0.3)
    with pytest.raises(ConfigError, match=r"unknown setting 'kappa' \(known: target_cuts, target_densify_cycles, "):
        TargetMode.from_settings({"kappa": 0.5})
    with pytest.raises(ConfigError, match="need target_cuts >= 1, 0 < target_end < 1"):
        TargetMode.from_settings({"target_end": 1.0})


def test_missed_line_names_the_quality_reached_and_the_run():
    from aire.targets import missed_line

    held = {"psnr": 31.0, "target": {"metric": "psnr", "value": 30.0, "held": True}}
    assert missed_line(held, "r") is None and missed_line({"psnr": 31.0}, "r") is None
    missed = {"psnr": 24.123, "target": {"metric": "psnr", "value": 30.0, "held": False,
                                         "missed": "target_psnr 30 is out of reach of the starting network: ..."}}
    assert missed_line(missed, "runs/x") == (
        "target_psnr 30 was not held: psnr 24.12 at the end (out of reach of the starting network); the run is "
        "written to runs/x with its final network (metrics.json: target.held false)")
    sdf = {"chamfer_l1": 0.02, "target": {"metric": "chamfer_l1", "value": 0.01, "held": False, "missed": "not reached"}}
    assert missed_line(sdf, "r").startswith("target_chamfer 0.01 was not held: chamfer_l1 0.02 at the end; the run")
