"""Cut bookkeeping the pruning schedules share: which layers are pruned, how many neurons each loses
to reach a parameter target, the surgery with its events, and the rewound learning-rate decay.

Used by the ``aire`` schedule family (aire.schedules.adaptive and its variants) and the baselines
(aire.schedules.magnitude, aire.schedules.depgraph), so every method counts, cuts and reports alike.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from aire.config import ConfigError, TrainConfig
from aire.interfaces import PruningCriterion, TrainerView
from aire.train import schedule as sched


def prunable_layers(network: Any, layers: Sequence[int] | None) -> list[int]:
    """The sine layers a schedule prunes: `layers`, or the hidden ones 1..L (layer 0 when it is the
    only one). Raises ConfigError naming the layers that do not exist."""
    n = network.num_sine_layers
    chosen = (list(range(1, n)) or [0]) if layers is None else [int(i) for i in layers]
    bad = [i for i in chosen if i >= n]
    if bad:
        detail = f"prune_layers {bad} do not exist: the network has sine layers 0..{n - 1}"
        raise ConfigError(detail, key_path=("schedule", "prune_layers"), detail=detail)
    return chosen


def neurons_per_layer(trainer: TrainerView, layers: Sequence[int], target: float) -> dict[int, int]:
    """Neurons each of `layers` loses so the network has at most `target` parameters (one common
    shrink factor, aire.train.schedule.budget_widths); never a whole layer."""
    network = trainer.network
    widths = network.widths()[:-1]
    new = sched.budget_widths(network.weights[0].shape[1], widths, trainer.signal.out_features, layers, target)
    return {i: min(widths[i] - new[i], widths[i] - 1) for i in layers}


def cut(trainer: TrainerView, layer: int, neurons: torch.Tensor, prepare: Callable[[], None] | None = None,
        **record: Any) -> None:
    """Remove `neurons` of sine layer `layer` (Adam's moments follow), with the ``aire_before_prune``
    and ``aire_after_prune`` hooks around it and a "prune" event carrying `record`; `prepare` runs
    between the first hook and the surgery (a compensation of the next layer)."""
    trainer.registry.emit("aire_before_prune", trainer=trainer, layer=layer, neurons=neurons)
    if prepare is not None:
        prepare()
    trainer.network.remove_neurons(layer, neurons, trainer.optimizer)
    trainer.log_event("prune", layer=layer, removed=int(neurons.numel()), **record)
    trainer.registry.emit("aire_after_prune", trainer=trainer, layer=layer, removed=int(neurons.numel()))


def rewound_lr(step: int, train: TrainConfig, origin: int) -> float:
    """Exponential decay lr -> lr_final from step `origin` (the last cut with lr_rewind, else 0) to the end."""
    return train.lr * (train.lr_final / train.lr) ** ((step - origin) / max(1, train.steps - origin))


def show_inputs(criterion: PruningCriterion, trainer: TrainerView, generator: torch.Generator, n: int = 4096) -> None:
    """Give a data-aware criterion (one with an ``observe(inputs)`` method) `n` training inputs of the
    signal to score on; others are left alone. The draws come from the schedule's own `generator`,
    so the batches of the fit stay those of a data-blind criterion."""
    observe = getattr(criterion, "observe", None)
    if observe is not None:
        observe(trainer.signal.network_inputs(n, generator).to(trainer.network.weights[0].device))


def affordable_frequencies(in_features: int, widths: Sequence[int], out_features: int, layers: Sequence[int],
                           target: float, wanted: int) -> int:
    """How many of `wanted` new input frequencies a cycle may add when the network must then fit in
    `target` parameters by shrinking the sine layers `layers` (aire.train.schedule.budget_widths).

    The frequencies are counted against the target: adding k grows the input layer (widths[0]) by the
    factor g = (w0 + k) / w0 and makes the pruned layers shrink further, by the factor r of their total
    width at the target with the k frequencies to that without. A trade is allowed while r >= 1 / g: the
    pruned layers lose at most the share of their width that the input layer gains (one-for-one in
    proportion), so densification never buys input frequencies with a disproportionate loss of hidden
    neurons. The default image schedules trade at r*g = 1.1-1.2; a small network under a tight budget
    (e.g. [50, 12, 12] at half its parameters) would trade at 0.6-0.9 and end with two hidden neurons.
    Returns the largest such k <= wanted (0 when even one frequency costs more); `wanted` itself when the
    input layer is pruned too or no layer is.
    """
    w0 = int(widths[0])
    if wanted <= 0 or 0 in layers or not layers or w0 <= 0:
        return max(0, int(wanted))
    base = sum(w for i, w in enumerate(sched.budget_widths(in_features, widths, out_features, layers, target))
               if i in layers)
    for k in range(int(wanted), 0, -1):
        grown = [w0 + k, *widths[1:]]
        shrunk = sum(w for i, w in enumerate(sched.budget_widths(in_features, grown, out_features, layers, target))
                     if i in layers)
        if shrunk * (w0 + k) >= base * w0:
            return k
    return 0
