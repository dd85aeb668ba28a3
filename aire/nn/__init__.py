"""Networks: sinusoidal MLPs with real structural surgery."""

from aire.nn.sine_mlp import SineMLP

__all__ = ["SineMLP"]
