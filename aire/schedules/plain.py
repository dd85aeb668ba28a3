"""The ``none`` schedule: plain training, the architecture never changes (the from-scratch baseline)."""

from __future__ import annotations

from typing import Any

from aire.config import ScheduleConfig
from aire.hookspecs import hookimpl
from aire.interfaces import Schedule


class PlainSchedule(Schedule):
    """No surgery; the learning rate decays exponentially from lr to lr_final over the run."""

    changes_architecture = False  # a parameter budget is refused (aire.targets.check_schedule)

    def __init__(self, config: ScheduleConfig | None = None) -> None:
        self.config = config or ScheduleConfig(kind="none")


def plain(config: ScheduleConfig, criterion: Any = None, policy: Any = None) -> PlainSchedule:
    """Factory of the ``none`` schedule (criterion and policy are not used)."""
    return PlainSchedule(config)


@hookimpl
def aire_add_schedules() -> dict:
    return {"none": plain}
