"""The Python API's etiquette: building and fitting leave torch's global RNG alone, and one seed gives
one model whatever that global state is."""

from __future__ import annotations

import warnings

import torch

import aire
from aire.signals.image import ImageSignal, synthetic_image

SCHEDULE = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=2, twd_length=0.1, cycle_gap=0.1, target_params=0.6, densify_k=2,
                               compensate=True)


def _fit(signal, seed):
    net = aire.build_network(signal, [10, 10, 10], seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short TWD phases cut targets above epsilon
        return aire.fit(signal, net, steps=60, eval_every=20, batch_size=50, seed=seed, progress=False,
                        schedule=SCHEDULE)


def test_build_network_and_fit_leave_the_global_rng_alone():
    signal = ImageSignal(image=synthetic_image(12))
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    aire.build_network(signal, [8, 8], seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    _fit(signal, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_nerf_fit_leaves_the_global_rng_alone(tiny_scene):
    from aire.signals.nerf.signal import NerfSignal

    signal = NerfSignal(tiny_scene, samples=8, importance_samples=4, eval_views=1, eval_size=8, turntable_frames=0)
    before = torch.random.get_rng_state()
    net = aire.build_network(signal, [8, 8], seed=2)
    aire.fit(signal, net, steps=4, batch_size=32, eval_every=4, progress=False,
             schedule=aire.ScheduleConfig(kind="none"))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_one_seed_gives_one_model_whatever_the_global_rng():
    models = []
    for global_seed in (0, 99):
        torch.manual_seed(global_seed)
        models.append(_fit(ImageSignal(image=synthetic_image(12)), seed=3))
    a, b = models
    assert a.metrics["architecture_final"] == b.metrics["architecture_final"]
    assert all(torch.equal(x, y) for x, y in zip(a.network.parameters(), b.network.parameters()))
    other = _fit(ImageSignal(image=synthetic_image(12)), seed=4)
    assert not torch.equal(next(other.network.parameters()), next(a.network.parameters()))
