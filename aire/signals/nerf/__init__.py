"""NeRF signal: radiance fields from NeRF-synthetic (Blender-format) scenes, the field being an
adaptive sinusoidal network (see signal.py)."""

from aire.signals.nerf.signal import NerfSignal, aire_add_signals

__all__ = ["NerfSignal", "aire_add_signals"]
