"""Example third-party aire plugins, one per entry point (see pyproject.toml):

* ``column-lp`` (criterion.py): a pruning criterion with a setting, ``p``;
* ``curve`` (curve.py): a 1-D signal, values sampled on a uniform grid over [-1, 1];
* ``step-timer`` (timer.py): an event-only plugin whose hook wrapper times every training step.
"""
