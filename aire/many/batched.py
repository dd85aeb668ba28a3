"""Fit many images of one size as one batched network (aire.train.batched_trainer), each member
ending as its single fit would: the same FitResult fields, its own run folder.

    from aire.many import fit_batched
    results = fit_batched([aire.create("signal", "image", p) for p in paths], spec, seeds=[0, 1, 2])

Which specs can share a batch (`batch_key`): image signals whose specs agree in everything but
the input and the seed, fitted in fp32 (compile on: compiled from the last cut on where it pays,
aire.train.batched_compile) without least-squares compensation or
checkpoints, with the ``aire``, ``aire-cubic`` or ``none`` schedule (no quality target: its cuts are
sized per fit) and a siren/finer network; members must also have
one image size. Members that leave the batch (a diverging loss, a cut of another size) are fitted
alone here, by aire.fit, so the caller still gets every result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

import attrs

if TYPE_CHECKING:  # `aire --help` must not import torch
    from aire.interfaces import Signal
    from aire.spec import FitSpec
    from aire.train.trainer import FitResult


def batch_key(spec: FitSpec) -> str | None:
    """A string equal for specs that can share a batch, or None when `spec` cannot be batched."""
    from aire.train.batched_trainer import BATCHED_SCHEDULES

    train, schedule = spec.train, spec.schedule
    if (spec.signal != "image" or train.precision != "fp32" or train.checkpoint_every
            or schedule.compensate or schedule.kind not in BATCHED_SCHEDULES
            or schedule.target_psnr is not None or schedule.target_chamfer is not None
            or spec.network.network not in ("siren", "finer")):
        return None
    data = spec.to_dict()
    data.pop("path")
    data["train"] = {k: v for k, v in data["train"].items() if k not in ("seed", "progress")}
    return json.dumps(data, sort_keys=True, default=str)


def _build_network(signal: Signal, spec: FitSpec, seed: int) -> Any:
    import aire

    net = spec.network
    return aire.build_network(signal, net.widths, omega0=net.omega0, omega0_hidden=net.omega0_hidden,
                              network=net.network, encoding=net.encoding, seed=seed, **net.encoding_settings)


def _components(spec: FitSpec) -> dict[str, Any]:
    import aire
    from aire.plugins import create

    comps = spec.components
    return {"criterion": create("criterion", spec.schedule.criterion, **comps.criterion_settings),
            "policy": create("policy", spec.schedule.policy, **comps.policy_settings),
            "backend": aire.get_backend(comps.backend, **comps.backend_settings)}


def fit_batched(signals: Sequence[Signal], spec: FitSpec, seeds: Sequence[int] | None = None) -> list[FitResult]:
    """Fit `signals[n]` (images of one size) with `spec`'s network, training and schedule settings and
    seed `seeds[n]` (default: spec.train.seed for all), as one batched network; returns one FitResult
    per signal, in order. Raises InputError when `spec` cannot be batched or the sizes differ.

    Sets glibc malloc to keep freed memory for the rest of the process (aire.train.allocator): a batched
    step allocates tensors of members x pixels x width floats, which the defaults return to the system
    and fault back in every step (measured: twice the step time of 64 members on this project's VMs)."""
    import torch

    import aire
    from aire.errors import InputError
    from aire.train.allocator import retain_freed_memory
    from aire.train.batched_trainer import BatchedTrainer

    if batch_key(spec) is None:
        raise InputError("this fit cannot be batched: batched fitting needs the image signal, fp32, "
                         "no compensate, no checkpoints, the aire, aire-cubic or none schedule without a quality target "
                         "and a siren/finer network")
    seeds = [spec.train.seed] * len(signals) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != len(signals):
        raise InputError(f"fit_batched got {len(signals)} signals but {len(seeds)} seeds")
    shapes = {(s.height, s.width, s.out_features) for s in signals}
    if len(shapes) != 1:
        raise InputError(f"batched images must have one size, got {sorted(shapes)}")
    device = torch.device(spec.train.device)
    networks = []
    for signal, seed in zip(signals, seeds):
        signal.to(device)
        networks.append(_build_network(signal, spec, seed).to(device))
    parts = _components(spec)
    retain_freed_memory()
    trainer = BatchedTrainer(signals, networks, seeds, spec.train, spec.schedule, **parts)
    results = trainer.fit()
    for n, result in enumerate(results):
        if result is None:  # left the batch: its single fit, exactly as `aire fit` runs it
            train = attrs.evolve(spec.train, seed=seeds[n])
            result = aire.fit(signals[n], _build_network(signals[n], spec, seeds[n]), train=train,
                              schedule=spec.schedule, **_components(spec))
            result.metrics["batched"] = {"members": len(signals), "member": n, "left": trainer.left[n]}
            results[n] = result
    return results
