"""Batched fitting against single fits with the same seeds (aire.many.batched.fit_batched).

What can be equal: the batched step computes each member's forward with one baddbmm over the
stack where a single fit calls addmm, and reduces the loss in another order, so the floats differ
by rounding (~1e-7 relative) from the first step on, and Adam carries that along. Measured over
these fits: weights within ~5e-7, PSNR within ~1e-6 dB. The test asserts the strongest statements
that rounding cannot break at this size: the same events (densify/TWD/prune counts, architectures)
at the same steps, the same neurons removed (checked through the final weights: a different choice
of neurons would put other columns in place, off by O(0.1), far above the 1e-5 allowed), and PSNR
within 1e-4 dB (an MSE within ~2e-5 relative: 100x the measured rounding drift).
"""

from __future__ import annotations

import attrs
import pytest
import torch

import aire
from aire.errors import InputError
from aire.many.batched import _build_network, _components, batch_key, fit_batched
from aire.signals.image import ImageSignal, synthetic_image
from aire.spec import resolve

PSNR_TOLERANCE_DB = 1e-4
WEIGHT_TOLERANCE = 1e-5


def small_spec(**schedule):
    return resolve({"signal": "image", "path": ".", "network": {"widths": [12, 12, 12]},
                    "train": {"steps": 120, "eval_every": 40, "progress": False, "lr": 1e-3},
                    "schedule": {"kind": "aire", "target_params": 0.5, **schedule}})  # the paper's cycles; aire-cubic below


def alone(signal, spec, seed):
    return aire.fit(signal, _build_network(signal, spec, seed), train=attrs.evolve(spec.train, seed=seed),
                    schedule=spec.schedule, **_components(spec))


def assert_same_fit(batched, single):
    b, s = batched.metrics, single.metrics
    assert b["architecture_final"] == s["architecture_final"] and b["params_final"] == s["params_final"]
    # what the single fit measures at each cut (bounds, prediction, quality before/after/recovered) is its own
    strip = ("residual_column_l1", "theorem2_bound", "predicted", "measured")
    assert [{k: v for k, v in e.items() if k not in strip} for e in batched.events] == \
           [{k: v for k, v in e.items() if k not in strip} for e in single.events]
    for wb, ws in zip(batched.network.weights, single.network.weights):
        torch.testing.assert_close(wb, ws, rtol=0, atol=WEIGHT_TOLERANCE)
    assert abs(b["psnr"] - s["psnr"]) < PSNR_TOLERANCE_DB
    assert b["ms_ssim_scales"] == s["ms_ssim_scales"] and (b["ms_ssim"] is None) == (s["ms_ssim"] is None)
    for key in ("ssim", "ms_ssim"):  # the batch's final metrics (one MS-SSIM call) are each member's own
        assert b[key] is None or abs(b[key] - s[key]) < 1e-5
    assert [r["step"] for r in batched.history] == [r["step"] for r in single.history]


@pytest.mark.filterwarnings("ignore:TWD left")
def test_four_images_batched_match_their_single_fits():
    spec = small_spec()
    images = [synthetic_image(16, seed=i) for i in range(4)]
    seeds = [3, 1, 4, 1]
    results = fit_batched([ImageSignal(image=im) for im in images], spec, seeds=seeds)
    assert [r.metrics["batched"] for r in results] == [{"members": 4, "member": n} for n in range(4)]
    assert any(e["event"] == "prune" for e in results[0].events)
    for image, seed, result in zip(images, seeds, results):
        assert_same_fit(result, alone(ImageSignal(image=image), spec, seed))
    assert results[0].metrics["params_final"] <= 0.5 * results[0].metrics["params_initial"]


@pytest.mark.filterwarnings("ignore:TWD left")
def test_cubic_schedule_batched_matches_single_fits():
    """aire-cubic (8 short TWD/cut intervals, densification in the first two): every member cuts the
    same number of neurons per layer at each of the 8 cuts, each its own neurons, as its single fit."""
    spec = small_spec(kind="aire-cubic")
    images = [synthetic_image(24, seed=i) for i in range(3)]  # 24 px: MS-SSIM on 2 scales, batched too
    seeds = [2, 7, 1]
    results = fit_batched([ImageSignal(image=im) for im in images], spec, seeds=seeds)
    assert [r.metrics["batched"] for r in results] == [{"members": 3, "member": n} for n in range(3)]
    events = results[0].events
    assert sum(e["event"] == "twd_start" for e in events) == 8  # the cubic ramp's 8 intervals
    assert len({e["step"] for e in events if e["event"] == "prune"}) >= 4  # at 12 neurons some cuts round to 0
    assert sum(e["event"] == "densify" for e in events) == 2  # densify_cycles
    for image, seed, result in zip(images, seeds, results):
        assert_same_fit(result, alone(ImageSignal(image=image), spec, seed))
    assert results[0].metrics["params_final"] <= 0.5 * results[0].metrics["params_initial"]
    # every member chose its own neurons: the final weights differ between members
    assert not torch.equal(results[0].network.weights[1], results[1].network.weights[1])
    assert results[0].metrics["ms_ssim_scales"] == 2 and results[0].metrics["ms_ssim"] != results[1].metrics["ms_ssim"]


def test_cubic_schedule_settings_reach_the_batch():
    spec = small_spec(kind="aire-cubic", settings={"cuts": 3})
    results = fit_batched([ImageSignal(image=synthetic_image(16, seed=i)) for i in range(2)], spec, seeds=[0, 1])
    assert sum(e["event"] == "twd_start" for e in results[0].events) == 3
    assert_same_fit(results[1], alone(ImageSignal(image=synthetic_image(16, seed=1)), spec, 1))


def test_plain_schedule_batched_matches_single_fits():
    spec = small_spec()
    spec = attrs.evolve(spec, schedule=attrs.evolve(spec.schedule, kind="none", target_params=None))
    images = [synthetic_image(16, seed=i) for i in range(2)]
    results = fit_batched([ImageSignal(image=im) for im in images], spec, seeds=[5, 6])
    for image, seed, result in zip(images, (5, 6), results):
        assert result.events == []
        assert_same_fit(result, alone(ImageSignal(image=image), spec, seed))


class ExplodingImage(ImageSignal):
    """An image whose loss is multiplied by 1e9 from its 30th step on (counted again after to())."""

    def to(self, device):
        self.calls = 0
        return super().to(device)

    def loss(self, prediction, target):
        self.calls += 1
        return super().loss(prediction, target) * (1e9 if self.calls >= 30 else 1.0)


@pytest.mark.filterwarnings("ignore:TWD left", "ignore:loss diverged", "ignore:training diverged")
def test_a_diverging_member_leaves_the_batch_and_is_fitted_alone():
    spec = small_spec()
    images = [synthetic_image(16, seed=i) for i in range(3)]
    signals = [ImageSignal(image=images[0]), ExplodingImage(image=images[1]), ImageSignal(image=images[2])]
    results = fit_batched(signals, spec, seeds=[0, 1, 2])
    assert "diverged" in results[1].metrics["batched"]["left"]
    single = alone(ExplodingImage(image=images[1]), spec, 1)
    assert single.metrics["rollbacks"] > 0
    assert results[1].metrics["psnr"] == single.metrics["psnr"]  # it is the single fit
    for n in (0, 2):  # the others did not notice
        assert "left" not in results[n].metrics["batched"]
        assert_same_fit(results[n], alone(ImageSignal(image=images[n]), spec, n))


def test_what_cannot_be_batched_is_refused_in_one_line():
    spec = small_spec()
    assert batch_key(spec) == batch_key(attrs.evolve(spec, path="other.png", train=attrs.evolve(spec.train, seed=7)))
    assert batch_key(attrs.evolve(spec, train=attrs.evolve(spec.train, steps=7))) != batch_key(spec)
    assert batch_key(attrs.evolve(spec, train=attrs.evolve(spec.train, compile=True))) is not None  # from the last cut
    bf16 = attrs.evolve(spec, train=attrs.evolve(spec.train, precision="bf16"))
    assert batch_key(bf16) is None
    assert batch_key(attrs.evolve(spec, schedule=attrs.evolve(spec.schedule, kind="aire-cubic"))) is not None
    lsq = attrs.evolve(spec, schedule=attrs.evolve(spec.schedule, kind="aire-cubic-lsq"))
    assert batch_key(lsq) is None
    # a quality target sizes each fit's cuts from its own PSNR: not one count per layer for a batch
    targeted = attrs.evolve(spec, schedule=attrs.evolve(spec.schedule, target_params=None, target_psnr=30.0))
    assert batch_key(targeted) is None
    with pytest.raises(InputError, match="cannot be batched"):
        fit_batched([ImageSignal(image=synthetic_image(8))], bf16)
    with pytest.raises(InputError, match="one size"):
        fit_batched([ImageSignal(image=synthetic_image(8)), ImageSignal(image=synthetic_image(10))], spec)


def test_a_member_whose_cut_has_another_size_leaves_frozen_at_zero():
    from aire.train.batched_trainer import BatchedTrainer

    spec = small_spec()
    signals = [ImageSignal(image=synthetic_image(8, seed=i)) for i in range(3)]
    trainer = BatchedTrainer(signals, [_build_network(s, spec, n) for n, s in enumerate(signals)], [0, 1, 2],
                             spec.train, spec.schedule, **_components(spec))
    assert trainer._agree([4, 4, 5], "cut of layer 1") == 4
    assert trainer.left == {2: "cut of layer 1: 5 neurons where the batch has 4"}
    assert all(float(w[2].abs().sum()) == 0.0 for w in trainer.network.weights)
    assert trainer.optimizer.member_lr.tolist() == [1.0, 1.0, 0.0]
    assert all(float(w[0].abs().sum()) > 0 for w in trainer.network.weights)
