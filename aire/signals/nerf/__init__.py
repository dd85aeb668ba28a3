"""NeRF signal: radiance fields from Blender/NeRF-synthetic scenes or the single transforms.json of
instant-ngp, nerfstudio and colmap2nerf (scene_format.py), the field being an adaptive sinusoidal
network (see signal.py)."""

from aire.signals.nerf.signal import NerfSignal, aire_add_signals

__all__ = ["NerfSignal", "aire_add_signals"]
