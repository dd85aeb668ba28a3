"""The aire schedule as a callback: TWD excludes its targets from Adam and decays them by (1 - alpha_t),
the cut removes exactly what fell below epsilon, the lr restarts at the cut, and its state round-trips."""

from __future__ import annotations

import copy
import json
import math

import attrs
import pytest
import torch

import aire
from aire.pruning.certified import predict_cut
from aire.schedules.adaptive import PENDING, AireSchedule
from aire.signals.image import ImageSignal, synthetic_image
from aire.testing import rounding_bound
from aire.theory import pruning_bound
from aire.train import schedule as sched
from aire.train.trainer import Trainer

CONFIG = aire.ScheduleConfig(warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, alpha_max=0.9, prune_fraction=0.25,
                             densify_k=2, prune_layers=(1,))
from tests.notices import expect_notice, notice_messages


def _trainer(config=CONFIG, steps=50):
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 8, 8], seed=3)
    train = aire.TrainConfig(steps=steps, lr=1e-3, lr_final=1e-4, eval_every=steps, progress=False, guard=False)
    trainer = Trainer(signal, net, train, config)
    trainer.schedule.on_fit_start(trainer)
    return trainer


def _step(trainer, step):
    """One loop iteration of the schedule's hooks around a real training step."""
    trainer.step = step
    trainer.schedule.before_step(trainer, step)
    loss = trainer.training_step(step)
    trainer.schedule.after_step(trainer, step, loss)


def test_is_the_aire_plugin_with_the_planned_cycles():
    trainer = _trainer()
    assert isinstance(trainer.schedule, AireSchedule)
    assert trainer.schedule.cycles == [sched.Cycle(index=0, start=5, prune=15)]


def test_a_cycle_densifies_then_targets_the_weakest_columns_with_fresh_moments():
    trainer = _trainer()
    for step in range(5):
        _step(trainer, step)
    norms = trainer.network.outgoing(1).detach().abs().sum(0)
    trainer.step = 5
    trainer.schedule.before_step(trainer, 5)
    schedule = trainer.schedule
    assert trainer.network.widths()[0] == 10 and schedule.protected.tolist() == [8, 9]  # densify_k = 2
    targets = schedule.twd_targets[1]
    assert sorted(targets.tolist()) == sorted(torch.argsort(norms)[:2].tolist())  # round(0.25 * 8) = 2 weakest
    state = trainer.optimizer.state[trainer.network.outgoing(1)]
    assert torch.count_nonzero(state["exp_avg"][:, targets]) == 0
    assert torch.count_nonzero(state["exp_avg_sq"][:, targets]) == 0
    assert schedule.twd_phase == (5, 10)
    assert [e["event"] for e in trainer.events] == ["densify", "twd_start"]


def test_targets_get_no_optimizer_update_and_decay_by_one_minus_alpha():
    trainer = _trainer()
    for step in range(6):
        _step(trainer, step)
    schedule, w = trainer.schedule, trainer.network.outgoing(1)
    targets = schedule.twd_targets[1]
    others = torch.tensor([i for i in range(w.shape[1]) if i not in targets.tolist()])
    before = w.detach().clone()
    _step(trainer, 6)
    a = sched.alpha(6 - 5, 10, CONFIG.alpha_max)
    assert torch.equal(w.detach()[:, targets], before[:, targets] * (1.0 - a))  # Adam moved nothing, TWD scaled
    assert not torch.equal(w.detach()[:, others], before[:, others])  # the other columns train


def test_the_cut_removes_what_twd_drove_below_epsilon_and_rewinds_the_lr():
    trainer = _trainer()
    for step in range(15):
        _step(trainer, step)
    schedule = trainer.schedule
    targets = schedule.twd_targets[1].clone()
    columns = trainer.network.outgoing(1).detach().abs().sum(0)
    assert (columns[targets] < CONFIG.epsilon).all()  # scaled by twd_shrink(10, 0.9) = 1.7e-4 over the phase
    expected = {"residual_column_l1": pytest.approx(float(columns[targets].sum())),
                "theorem2_bound": pytest.approx(pruning_bound(trainer.network, 1, targets.sort().values.numpy()))}
    trainer.step = 15
    schedule.before_step(trainer, 15)
    prune = [e for e in trainer.events if e["event"] == "prune"]
    assert len(prune) == 1 and prune[0]["removed"] == 2 and prune[0]["layer"] == 1
    assert {k: prune[0][k] for k in expected} == expected  # what _record_cut measured before the surgery
    assert trainer.network.widths()[:-1] == [10, 6, 8]
    assert schedule.twd_targets == {} and schedule.twd_phase is None and schedule.lr_origin == 15
    train = trainer.train_config
    assert schedule.learning_rate(15, train) == pytest.approx(train.lr)
    assert schedule.learning_rate(50, train) == pytest.approx(train.lr_final)


def test_without_lr_rewind_the_decay_runs_over_the_whole_fit():
    schedule = AireSchedule(aire.ScheduleConfig(lr_rewind=False), criterion=None, policy=None)
    train = aire.TrainConfig(steps=100, lr=1e-3, lr_final=1e-5)
    assert [schedule.learning_rate(s, train) for s in (0, 50, 100)] == pytest.approx([1e-3, 1e-4, 1e-5])


def test_state_round_trips_into_a_fresh_schedule():
    trainer = _trainer()
    for step in range(8):
        _step(trainer, step)
    state = trainer.schedule.state_dict()
    fresh = AireSchedule(CONFIG, trainer.schedule.criterion, trainer.schedule.policy)
    fresh.load_state_dict(state)
    assert fresh.twd_phase == (5, 10) and fresh.lr_origin == 0
    assert torch.equal(fresh.protected, trainer.schedule.protected)
    assert fresh.twd_targets.keys() == {1} and torch.equal(fresh.twd_targets[1], trainer.schedule.twd_targets[1])
    state["twd_targets"][1][0] = 99
    assert fresh.twd_targets[1][0] != 99  # a copy, not a view of the saved state


@pytest.mark.parametrize("stopped", [False, True])
def test_a_twd_phase_left_open_at_the_end_is_cut_unless_the_fit_was_stopped(stopped):
    trainer = _trainer()
    trainer.evaluate()
    for step in range(15):  # the whole TWD phase, steps 5-14; its cut would come at the top of step 15
        _step(trainer, step)
    trainer.step, trainer.should_stop = 15, stopped
    trainer.schedule.on_train_end(trainer)
    prunes = [e for e in trainer.events if e["event"] == "prune"]
    if stopped:  # the divergence guard stopped it: the last good model stays as it is
        assert prunes == [] and len(trainer.history) == 1 and trainer.schedule.twd_targets
    else:
        assert [e["removed"] for e in prunes] == [2] and [r["step"] for r in trainer.history] == [0, 15]
        assert trainer.history[-1]["params"] == trainer.network.num_parameters()


def test_a_fit_without_budget_that_ends_larger_says_so_in_one_line_and_records_it(caplog):
    grows = aire.ScheduleConfig(warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, alpha_max=0.9, prune_fraction=0.125,
                                densify_k=6, prune_layers=(1,))
    trainer = _trainer(grows)
    with expect_notice(caplog, r"the fit ended larger than it started \(\d+ -> \d+ parameters, \d+%\)"):
        metrics = trainer.fit().metrics
    # 6 input frequencies in (6 x (2 + 1 + 8) = 66 parameters); one neuron of layer 1 out, after densification:
    # its row over 8 + 6 inputs, its bias and its outgoing column of 8 (23 parameters)
    assert metrics["params_final"] - metrics["params_initial"] == 66 - 23
    assert metrics["params_grew"] is True
    assert metrics["params_fraction"] == pytest.approx(metrics["params_final"] / metrics["params_initial"])


def test_a_fit_with_a_budget_does_not_grow_and_records_its_fraction(caplog):
    budget = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, alpha_max=0.9, target_params=0.8,
                                 densify_k=2, prune_layers=(1,))
    metrics = _trainer(budget).fit().metrics
    assert metrics["params_grew"] is False and metrics["params_fraction"] <= 0.8
    assert not [m for m in notice_messages(caplog) if "ended larger" in m]


# ------------------------------------------------------------------ quality target (target_psnr)
# the "held" mode (the default: cuts only after the measured quality holds the target); the "anticipate" mode below
TARGET = aire.ScheduleConfig(warmup=0.1, cycles=2, twd_length=0.2, cycle_gap=0.1, alpha_max=0.9, prune_fraction=0.25,
                             densify_k=0, prune_layers=(1,), target_psnr=20.0, settings={"target_mode": "held"})


def _scripted(trainer, values):
    """Make the signal report the PSNR values of `values` in turn (the schedule's logic, not training, is tested)."""
    values = iter(values)
    trainer.signal.evaluate = lambda model: {"psnr": next(values)}


def test_a_network_that_holds_the_target_is_kept_and_recorded():
    trainer = _trainer(TARGET)
    _scripted(trainer, [21.0])
    trainer.step = 5
    assert trainer.schedule.check_target(trainer) is True
    assert trainer.schedule.accepted == [{"step": 5, "params": trainer.network.num_parameters(), "psnr": 21.0}]
    assert torch.equal(trainer.schedule.held["weights"][1], trainer.network.weights[1].detach())


def _cut_then_check(config, values):
    """Warm-up, check (holds), cycle 0 (TWD 5-14, cut at 15, recovery), then cycle 1's check at step 20.
    `values`: the PSNR of the check at 5, the cut's own measurements right before and right after it,
    and the check at 20."""
    trainer = _trainer(config)
    _scripted(trainer, values)
    trainer.evaluate = lambda loss=None: None
    for step in range(20):
        _step(trainer, step)
    kept = trainer.schedule.held
    trainer.step = 20
    return trainer, kept, trainer.schedule.check_target(trainer)


def test_a_cut_that_breaks_the_target_is_undone_and_a_smaller_one_is_tried():
    # (this replaces "the first broken cut stops cutting": the cut is now bisected while cycles remain)
    trainer, kept, cuts_again = _cut_then_check(TARGET, [21.0, 21.0, 19.5, 19.0])
    schedule = trainer.schedule
    cut = [e for e in trainer.events if e["event"] == "prune"]
    assert [(e["measured"]["before"], e["measured"]["after_cut"], e["measured"]["drop"]) for e in cut] == [(21.0, 19.5, 1.5)]
    held = schedule.accepted[0]["params"]
    assert cuts_again is True and schedule.cutting is True
    assert trainer.network.widths() == [8, 8, 8, 3]  # back to the held network, tensors and all
    for mine, saved in zip(trainer.network.weights, kept["weights"]):
        assert torch.equal(mine.detach(), saved)
    # the failed cut went to 3/4 of the held parameters (prune_fraction 0.25): 195 -> 144 (layer 1: 8 -> 5)
    failed = schedule.outcomes[-1]
    assert held == 195 and failed.fraction == pytest.approx(1 - 144 / 195)
    assert (failed.margin_before, failed.margin_after) == (1.0, -1.0)
    # next: 2 dB were lost for 51/195 of the parameters; spend 0.7 of the 1 dB margin at that rate
    # (below half the failed fraction, the bisection's ceiling)
    assert schedule.next_fraction == pytest.approx(0.7 * 1.0 / (2.0 / (51 / 195)))
    assert schedule.next_fraction < 0.5 * failed.fraction
    assert [e["event"] for e in trainer.events[-2:]] == ["target_undo", "target_next_cut"]
    schedule.begin_cycle(trainer, schedule.cycles[1])  # 195 * (1 - 0.0915) = 177.2: layer 1 8 -> 6 (161)
    assert {l: int(t.numel()) for l, t in schedule.twd_targets.items()} == {1: 2}


def test_cutting_stops_when_the_smallest_cut_already_broke_the_target():
    config = attrs.evolve(TARGET, prune_fraction=0.01)  # the first cut: one neuron (the smallest)
    trainer, kept, cuts_again = _cut_then_check(config, [21.0, 21.0, 19.5, 19.0])
    assert trainer.schedule.outcomes[-1].fraction == pytest.approx(17 / 195)
    assert cuts_again is False and trainer.schedule.cutting is False
    assert trainer.network.widths() == [8, 8, 8, 3]
    before = [w.detach().clone() for w in trainer.network.weights]
    trainer.schedule.before_step(trainer, 35)  # cycle 1's cut step: nothing is cut any more
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, trainer.network.weights))


def test_cycles_wait_while_the_target_has_not_held_yet():
    trainer = _trainer(TARGET)
    assert [(c.start, c.prune) for c in trainer.schedule.cycles] == [(5, 15), (20, 30)]
    _scripted(trainer, [12.0])
    trainer.step = 5
    assert trainer.schedule.check_target(trainer) is False
    assert [(c.start, c.prune) for c in trainer.schedule.cycles] == [(10, 20), (25, 35)]  # delayed by cycle_gap
    assert trainer.schedule.held is None and trainer.schedule.cutting


@pytest.mark.parametrize("mode", ["held", "anticipate"])
def test_an_unreachable_target_is_said_early_and_the_fit_trains_on_without_cuts(caplog, mode):
    # (this replaces "fails early with a ConfigError": the user kept nothing of the fit; now the run goes on)
    trainer = _trainer(attrs.evolve(TARGET, settings={"target_mode": mode}), steps=100)
    trainer.evaluation.history = [{"step": 0, "psnr": 10.0}, {"step": 10, "psnr": 14.0}, {"step": 20, "psnr": 15.0}]
    trainer.step = 20
    trainer.schedule.on_evaluate(trainer, {"step": 20, "psnr": 15.0})  # 15 + 0.1/step * 80 steps = 23 >= 20: waits
    assert trainer.schedule.out_of_reach is None and trainer.schedule.cutting
    trainer.evaluation.history.append({"step": 40, "psnr": 15.2})
    trainer.step = 40
    trainer.schedule.on_evaluate(trainer, {"step": 40, "psnr": 15.2})  # rate from step 20: 0.2 dB / 20 steps; 15.2 + 0.01 * 60 = 15.8 < 20
    [line] = [m for m in notice_messages(caplog) if "out of reach" in m]
    assert line.startswith("target_psnr 20 is out of reach of the starting network: psnr 15.2 at step 40, ")
    assert "at most 15.8 by step 100" in line and line.endswith("reports the target as not held")
    assert trainer.schedule.cutting is False
    before = [w.detach().clone() for w in trainer.network.weights]
    for cycle in trainer.schedule.cycles:  # no cycle densifies, decays or cuts any more
        trainer.schedule.before_step(trainer, cycle.start)
        trainer.schedule.before_step(trainer, cycle.prune)
    assert trainer.schedule.twd_targets == {}
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, trainer.network.weights))
    metrics = {"psnr": 16.0}
    trainer.schedule.on_fit_end(trainer, metrics)
    assert metrics["target"]["held"] is False and metrics["target"]["missed"].startswith(line[:60])


def test_a_final_network_that_misses_the_target_is_replaced_by_the_last_that_held():
    trainer = _trainer(TARGET)
    _scripted(trainer, [21.0, 18.0])
    trainer.step = 5
    trainer.schedule.check_target(trainer)
    kept = trainer.schedule.held
    trainer.network.remove_neurons(1, torch.tensor([0, 1]), trainer.optimizer)
    trainer.step = 50
    trainer.evaluation.history = [{"step": 50, "loss": 0.1, "psnr": 19.5}]
    trainer.schedule.on_train_end(trainer)  # 19.5 < 20: back to the held network, evaluated again (18.0)
    assert trainer.network.widths() == [8, 8, 8, 3]
    assert torch.equal(trainer.network.weights[2].detach(), kept["weights"][2])
    metrics = {"psnr": 21.0}
    trainer.schedule.on_fit_end(trainer, metrics)
    assert metrics["target"] == {"metric": "psnr", "value": 20.0, "higher_is_better": True, "held": True,
                                 "accepted": [{"step": 5, "params": trainer.network.num_parameters(), "psnr": 21.0}],
                                 "cuts": [{"fraction": 1 - 161 / 195, "margin_before": 1.0, "margin_after": -0.5,
                                           "predicted_rate": trainer.schedule.predicted_rate}]}


def test_the_held_network_gets_a_theorem_2_prediction_of_the_next_cut():
    from aire.pruning.certified import predict_cut

    trainer = _trainer(TARGET)
    for step in range(40):  # a fitted network: removing neurons costs PSNR
        trainer.training_step(step)
    _scripted(trainer, [21.0])
    trainer.step = 5
    assert trainer.schedule.check_target(trainer) is True
    # prune_fraction 0.25 of layer 1 (2 of 8 neurons, the criterion's lowest), on 4096 points drawn with the seed
    x, y = trainer.signal.sample(4096, torch.Generator().manual_seed(trainer.train_config.seed))
    neurons = trainer.schedule.criterion.select(trainer.network, 1, 2, None)
    drop = predict_cut(trainer.network, 1, neurons, 21.0, x, y).psnr_drop_estimate
    assert drop > 0 and trainer.schedule.predicted_rate == pytest.approx(drop / 0.25)
    assert trainer.events[-1]["event"] == "target_next_cut" and trainer.events[-1]["fraction"] == 0.25


# ------------------------------------------------------------- cut prediction (Theorem 2 as a guide)
class CutProbe:
    """A plugin keeping copies of the network right before and right after each cut."""

    def __init__(self):
        self.cuts = []

    @aire.hookimpl
    def aire_before_prune(self, trainer, layer, neurons):
        self.cuts.append({"layer": layer, "before": copy.deepcopy(trainer.network)})

    @aire.hookimpl
    def aire_after_prune(self, trainer, layer, removed):
        self.cuts[-1]["after"] = copy.deepcopy(trainer.network)


PREDICTED = ("change_bound", "vector_bound", "rms_change", "psnr_drop_bound", "psnr_drop_estimate")


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "compensated"])
def predicted_fit(request, tmp_path_factory):
    """A real fit with two cycles cutting sine layers 1 and 2 (four cuts), its live log and history.json."""
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [10, 10, 10], seed=1)
    schedule = aire.ScheduleConfig(warmup=0.1, cycles=2, twd_length=0.2, cycle_gap=0.1, alpha_max=0.5, densify_k=1,
                                   prune_fraction=0.3, compensate=request.param, cut_certificate_boxes=64)
    probe, registry = CutProbe(), aire.get_registry()
    registry.pm.register(probe, name="cut-probe")
    live, out = tmp_path_factory.mktemp("live"), tmp_path_factory.mktemp("runs") / "run"
    try:
        result = aire.fit(signal, net, steps=100, eval_every=10, lr=1e-3, progress=False, schedule=schedule, log_dir=live)
    finally:
        registry.pm.unregister(name="cut-probe")
    aire.save_run(result, signal, out)
    return signal, result, probe.cuts, live / "history.jsonl", out / "history.json"


def test_every_cut_records_its_prediction_and_its_measured_effect(predicted_fit):
    signal, result, cuts, jsonl, saved = predicted_fit
    prunes = [e for e in result.events if e["event"] == "prune"]
    assert len(prunes) >= 2 and len(prunes) == len(cuts)
    for event, cut in zip(prunes, cuts):
        predicted, measured = event["predicted"], event["measured"]
        assert all(isinstance(predicted[k], float) for k in PREDICTED), predicted
        assert predicted["change_bound"] <= predicted["vector_bound"]
        assert 0 < predicted["certificate"]["boxes"] <= 64 and predicted["certificate"]["bound"] >= predicted["change_bound"]
        cert = predicted["certificate"]
        converged = cert["bound"] <= 4 * cert["observed"]
        assert cert["stopped"] == ("converged: the bound is within target_ratio of the change it saw" if converged
                                   else "its box budget was spent")
        # measured: the signal's own PSNR of the networks right before and right after the cut
        assert measured["metric"] == "psnr"
        assert measured["before"] == pytest.approx(signal.evaluate(cut["before"])["psnr"], abs=1e-9)
        assert measured["after_cut"] == pytest.approx(signal.evaluate(cut["after"])["psnr"], abs=1e-9)
        assert measured["drop"] == pytest.approx(measured["before"] - measured["after_cut"])
        # recovered: at the start of the next cycle (before its densification), or the last evaluation
        row = next(r for r in result.history if r["step"] == measured["recovered_step"])
        assert measured["recovered_step"] > event["step"] and measured["recovered"] == row["psnr"]
    # both history files have them whole: the live log rewrote the prune lines once they were complete
    saved_prunes = [e for e in json.loads(saved.read_text())["events"] if e["event"] == "prune"]
    live = [line for line in map(json.loads, jsonl.read_text().splitlines()) if line.get("event") == "prune"]
    for e, s, l in zip(prunes, saved_prunes, live, strict=True):
        assert s["predicted"] == l["predicted"] == e["predicted"] and s["measured"] == l["measured"] == e["measured"]
        assert e["measured"]["recovered"] != PENDING


def test_the_measured_change_never_exceeds_the_certified_prediction(predicted_fit):
    """sup |f_after - f_before| on 4096 random points and every pixel, in float64 and in float32
    (the float32 networks the fit used), within change_bound plus both passes' rounding bounds
    (aire.testing.rounding_bound in that dtype); the measured PSNR drop within the implied bound,
    widened by the float32 rounding at the pixels (the bound is for exact arithmetic)."""
    signal, result, cuts, _, _ = predicted_fit
    prunes = [e for e in result.events if e["event"] == "prune"]
    x = torch.cat([torch.rand(4096, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1, signal.coords])
    for event, cut in zip(prunes, cuts):
        bound = event["predicted"]["change_bound"]
        before, after = cut["before"], cut["after"]
        with torch.no_grad():
            for dtype in (torch.float64, torch.float32):
                b, a = copy.deepcopy(before).to(dtype), copy.deepcopy(after).to(dtype)
                change = (a(x.to(dtype)) - b(x.to(dtype))).abs().max(dim=1).values.double()
                rounding = rounding_bound(before, x, dtype) + rounding_bound(after, x, dtype)
                assert (change <= bound + rounding).all(), (dtype, float(change.max()), bound)
            pixels = signal.coords
            rho = float((rounding_bound(before, pixels, torch.float32) + rounding_bound(after, pixels, torch.float32)).max())
        rmse = 2 * 10 ** (-event["measured"]["before"] / 20)  # on the output scale [-1, 1]
        assert event["measured"]["drop"] <= 20 * math.log10(1 + (bound + rho) / rmse)
        assert event["predicted"]["psnr_drop_bound"] == pytest.approx(20 * math.log10(1 + bound / rmse))


def test_a_proposed_cut_can_be_predicted_without_making_it():
    trainer = _trainer()
    for step in range(15):
        _step(trainer, step)
    weights = [w.detach().clone() for w in trainer.network.weights]
    psnr = trainer.signal.evaluate(trainer.network)["psnr"]
    neurons = torch.tensor([0, 3])
    batches = trainer.generator.get_state()
    prediction = trainer.schedule.predict_cut(trainer, 1, neurons)
    assert all(torch.equal(a, b.detach()) for a, b in zip(weights, trainer.network.weights))  # nothing changed
    assert torch.equal(trainer.generator.get_state(), batches)  # its sample points come from its own generator
    direct = predict_cut(trainer.network, 1, neurons, psnr)
    assert prediction.vector_bound == pytest.approx(direct.vector_bound)
    assert prediction.change_bound <= prediction.vector_bound and prediction.certificate is not None
    assert prediction.psnr_drop_bound == pytest.approx(20 * math.log10(1 + prediction.change_bound / (2 * 10 ** (-psnr / 20))))
    # without a box budget: the vector bound, and the record says why
    trainer.schedule.config = attrs.evolve(trainer.schedule.config, cut_certificate_boxes=0)
    quick = trainer.schedule.predict_cut(trainer, 1, neurons, psnr)
    assert quick.change_bound == quick.vector_bound and "cut_certificate_boxes is 0" in quick.as_dict()["certificate"]


def test_a_cut_the_fit_stops_after_records_why_it_has_no_recovered_quality():
    trainer = _trainer()
    trainer.evaluate()
    for step in range(16):  # the cut at the top of step 15
        _step(trainer, step)
    prune = [e for e in trainer.events if e["event"] == "prune"]
    assert prune and prune[0]["measured"]["recovered"] == PENDING
    trainer.step, trainer.should_stop = 16, True
    trainer.schedule.on_train_end(trainer)
    assert prune[0]["measured"]["recovered"] == "the fit stopped (divergence guard) before the recovery ended"
    assert prune[0]["measured"]["recovered_step"] == 16


# ------------------------------------------------ quality target, "anticipate" mode (--schedule-set target_mode=anticipate)
ANTICIPATE = attrs.evolve(TARGET, settings={"target_mode": "anticipate", "target_cuts": 2, "target_end": 0.5,
                                            "target_kappa": 0.5})


def test_anticipate_plans_its_cuts_between_warm_up_and_end_then_one_check():
    trainer = _trainer(ANTICIPATE, steps=100)
    schedule = trainer.schedule
    assert schedule.anticipates and schedule.mode.mode == "anticipate"
    # warm-up 10, end 50: two intervals of 20 steps, each a TWD phase of twd_length 0.2 = 20 steps, at most 19
    assert [(c.start, c.prune) for c in schedule.cycles] == [(10, 29), (30, 49)]
    assert schedule.check_step == 50


def test_anticipate_cuts_on_the_quality_projected_to_the_last_step():
    trainer = _trainer(ANTICIPATE, steps=100)
    schedule = trainer.schedule
    trainer.evaluation.history = [{"step": 0, "psnr": 5.0}, {"step": 5, "psnr": 15.0}]
    _scripted(trainer, [19.0])
    trainer.step = 10
    # measured 19 < 20, but the warm-up gained 4 dB from step 5 to 10 (4 / ln 2 per e-fold of steps):
    # projected margin -1 + 0.5 * (1 - 10/100) * (4 / ln 2) * ln(100/10) = 4.98 dB
    rate = 4.0 / math.log(2.0)
    margin = -1.0 + 0.5 * 0.9 * rate * math.log(10.0)
    assert schedule.check_target(trainer) is True
    assert schedule.rate == pytest.approx(rate)
    assert schedule.held_margin == pytest.approx(margin)
    assert schedule.accepted == [{"step": 10, "params": 195, "psnr": 19.0, "projected_margin": pytest.approx(margin)}]
    assert schedule.real_held is None  # projected, not measured: never the fallback of the end


def test_anticipate_waits_while_even_the_projection_misses():
    trainer = _trainer(ANTICIPATE, steps=100)
    trainer.evaluation.history = [{"step": 0, "psnr": 5.0}, {"step": 5, "psnr": 10.0}]
    _scripted(trainer, [10.1])
    trainer.step = 10
    assert trainer.schedule.check_target(trainer) is False  # 10.1 + 0.5 * 0.9 * (0.1 / ln 2) * ln 10 < 20
    assert trainer.schedule.held is None and trainer.schedule.cycles[1].start == 30  # the next cycle checks again


def test_anticipate_ends_with_the_last_network_whose_measured_quality_held():
    trainer = _trainer(ANTICIPATE, steps=100)
    schedule = trainer.schedule
    trainer.evaluation.history = [{"step": 0, "psnr": 5.0}, {"step": 5, "psnr": 15.0}]
    _scripted(trainer, [21.0, 19.0])
    trainer.step = 10
    schedule.check_target(trainer)  # measured 21: the fallback of the end
    real = schedule.real_held
    assert real is not None and torch.equal(real["weights"][1], trainer.network.weights[1].detach())
    trainer.network.remove_neurons(1, torch.tensor([0, 1]), trainer.optimizer)
    trainer.step = 30
    schedule.check_target(trainer)  # 19 now, but projected to hold: kept as the held network, not as the fallback
    assert schedule.held is not real and schedule.real_held is real
    trainer.step = 100
    trainer.evaluation.history = [{"step": 100, "loss": 0.1, "psnr": 19.5}]
    _scripted(trainer, [21.0])
    schedule.on_train_end(trainer)  # 19.5 misses at the end: back to the network that measured 21
    assert trainer.network.widths() == [8, 8, 8, 3]
    assert torch.equal(trainer.network.weights[1].detach(), real["weights"][1])


def test_the_target_mode_settings_are_checked():
    assert _trainer(attrs.evolve(TARGET, settings={})).schedule.mode.mode == "held"  # the default
    with pytest.raises(aire.ConfigError, match="target_mode must be one of anticipate, held, got 'later'"):
        _trainer(attrs.evolve(TARGET, settings={"target_mode": "later"}))
    with pytest.raises(aire.ConfigError, match=r"schedule aire: unknown setting 'cuts' \(known: target_cuts, "):
        _trainer(attrs.evolve(TARGET, settings={"cuts": 3}))


# ------------------------------------------------ densification paid from a parameter budget
def test_a_budget_densifies_only_what_it_can_pay_for_in_proportion():
    from aire.schedules.cuts import affordable_frequencies

    # the image default ([64] * 4, half the parameters): 16 then 20 frequencies, as before
    assert affordable_frequencies(2, [64, 64, 64, 64], 3, [1, 2, 3], 0.5 * 12867, 16) == 16
    assert affordable_frequencies(2, [80, 48, 48, 48], 3, [1, 2, 3], 0.5 * 12867, 20) == 20
    # a small network at half its 957 parameters: without new frequencies its hidden layers keep 5 + 5
    # neurons at the budget; 12 new ones (+24 %) would leave 4 + 4 (-20 %, 0.992 < 1 in proportion), and
    # two cycles of them [78, 2, 2]: only 3 are paid (5 + 5 at 53)
    assert sched.budget_widths(2, [50, 12, 12], 3, [1, 2], 478) == [50, 5, 5]
    assert sched.budget_widths(2, [62, 12, 12], 3, [1, 2], 478)[1:] == [4, 4]
    assert sched.budget_widths(2, [78, 12, 12], 3, [1, 2], 478)[1:] == [2, 2]
    k = affordable_frequencies(2, [50, 12, 12], 3, [1, 2], 478, 12)
    assert k == 3 and sched.budget_widths(2, [53, 12, 12], 3, [1, 2], 478) == [53, 5, 5]
    # the input layer pruned too, or no layer pruned: the count stands
    assert affordable_frequencies(2, [50, 12, 12], 3, [0, 1, 2], 478, 12) == 12


def test_a_budgeted_cycle_adds_only_the_frequencies_the_budget_pays_for():
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [50, 12, 12], seed=3)
    config = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, target_params=0.5)
    trainer = Trainer(signal, net, aire.TrainConfig(steps=50, progress=False, guard=False, eval_every=50), config)
    trainer.schedule.on_fit_start(trainer)
    trainer.schedule.begin_cycle(trainer, trainer.schedule.cycles[0])
    assert trainer.network.widths()[0] == 53  # densify_fraction 0.25 asked for 12
    assert [e["added"] for e in trainer.events if e["event"] == "densify"] == [3]
