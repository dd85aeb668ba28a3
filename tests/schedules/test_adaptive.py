"""The aire schedule as a callback: TWD excludes its targets from Adam and decays them by (1 - alpha_t),
the cut removes exactly what fell below epsilon, the lr restarts at the cut, and its state round-trips."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.schedules.adaptive import AireSchedule
from aire.signals.image import ImageSignal, synthetic_image
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
    budget = aire.ScheduleConfig(warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, alpha_max=0.9, target_params=0.8,
                                 densify_k=2, prune_layers=(1,))
    metrics = _trainer(budget).fit().metrics
    assert metrics["params_grew"] is False and metrics["params_fraction"] <= 0.8
    assert not [m for m in notice_messages(caplog) if "ended larger" in m]


# ------------------------------------------------------------------ quality target (target_psnr)
TARGET = aire.ScheduleConfig(warmup=0.1, cycles=2, twd_length=0.2, cycle_gap=0.1, alpha_max=0.9, prune_fraction=0.25,
                             densify_k=0, prune_layers=(1,), target_psnr=20.0)


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


def test_a_cut_that_breaks_the_target_is_undone_and_cutting_stops():
    trainer = _trainer(TARGET)
    _scripted(trainer, [21.0, 19.0])
    trainer.evaluate = lambda loss=None: None
    for step in range(20):  # warm-up, check (holds), cycle 0: TWD 5-14, cut at 15, recovery
        _step(trainer, step)
    kept = trainer.schedule.held
    # the cut happened, leaving 3/4 of the held network's parameters (prune_fraction 0.25)
    expected = sched.budget_widths(2, [8, 8, 8], 3, [1], 0.75 * trainer.schedule.accepted[0]["params"])
    assert trainer.network.widths()[:-1] == expected and expected[1] < 8
    trainer.step = 20
    assert trainer.schedule.check_target(trainer) is False  # cycle 1's check: 19 dB < 20 dB
    assert trainer.network.widths() == [8, 8, 8, 3] and trainer.schedule.cutting is False
    for mine, saved in zip(trainer.network.weights, kept["weights"]):
        assert torch.equal(mine.detach(), saved)
    assert trainer.events[-1]["event"] == "target_undo"
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


def test_an_unreachable_target_fails_early_naming_the_quality_reached():
    trainer = _trainer(TARGET, steps=100)
    trainer.evaluation.history = [{"step": 0, "psnr": 10.0}, {"step": 10, "psnr": 14.0}, {"step": 20, "psnr": 15.0}]
    trainer.step = 20
    trainer.schedule.on_evaluate(trainer, {"step": 20, "psnr": 15.0})  # 15 + 0.1/step * 80 steps = 23 >= 20: waits
    trainer.evaluation.history.append({"step": 40, "psnr": 15.2})
    trainer.step = 40
    with pytest.raises(aire.ConfigError, match=r"out of reach .*psnr 15\.2 at step 40.*at most 15\.8"):
        trainer.schedule.on_evaluate(trainer, {"step": 40, "psnr": 15.2})  # rate from step 20: 0.2 dB / 20 steps; 15.2 + 0.01 * 60 = 15.8 < 20


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
                                 "accepted": [{"step": 5, "params": trainer.network.num_parameters(), "psnr": 21.0}]}
