"""A third-party schedule: one magnitude cut of a hidden layer, no targeted weight decay (``halve-once``).

Settings (``--schedule-set KEY=VALUE``): ``at`` (fraction of the steps at which to cut, default 0.3),
``layer`` (sine layer, default 1), ``keep`` (fraction of its neurons kept, default 0.5).
"""

from __future__ import annotations

from typing import Any

import torch

import aire
from aire.config import ConfigError
from aire.interfaces import Schedule


class HalveOnce(Schedule):
    """At step round(at * steps), removes the neurons of `layer` whose outgoing columns have the
    smallest L1 norm, keeping round(keep * width) of them; then plain training."""

    def __init__(self, config: Any, *, at: float = 0.3, layer: int = 1, keep: float = 0.5) -> None:
        if not 0.0 <= at < 1.0 or not 0.0 < keep < 1.0:
            raise ConfigError(f"halve-once: at must be in [0, 1) and keep in (0, 1), got at={at}, keep={keep}")
        self.config, self.at, self.layer, self.keep, self.done = config, at, layer, keep, False

    def before_step(self, trainer: Any, step: int) -> None:
        if self.done or step != round(self.at * trainer.train_config.steps):
            return
        network = trainer.network
        if not 0 <= self.layer < network.num_sine_layers:
            raise ConfigError(f"halve-once: layer {self.layer} does not exist (sine layers 0..{network.num_sine_layers - 1})")
        scores = network.outgoing(self.layer).detach().abs().sum(dim=0)
        width = scores.numel()
        weak = torch.argsort(scores, stable=True)[: width - max(1, round(self.keep * width))]
        trainer.registry.emit("aire_before_prune", trainer=trainer, layer=self.layer, neurons=weak)
        network.remove_neurons(self.layer, weak, trainer.optimizer)
        trainer.log_event("prune", layer=self.layer, removed=int(weak.numel()))
        trainer.registry.emit("aire_after_prune", trainer=trainer, layer=self.layer, removed=int(weak.numel()))
        self.done = True

    def state_dict(self) -> dict[str, Any]:
        return {"done": self.done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done = bool(state["done"])


def halve_once(config: Any, criterion: Any = None, policy: Any = None, *, at: float = 0.3, layer: int = 1,
               keep: float = 0.5) -> HalveOnce:
    """Factory of the ``halve-once`` schedule (the criterion and policy are not used)."""
    return HalveOnce(config, at=at, layer=layer, keep=keep)


@aire.hookimpl
def aire_add_schedules() -> dict:
    return {"halve-once": halve_once}
