"""Built-in network plugins: SIREN (sine activation) and FINER (variable-periodic sine)."""

from __future__ import annotations

from aire.config import NetworkConfig
from aire.hookspecs import hookimpl
from aire.interfaces import Encoding
from aire.nn.sine_mlp import SineMLP


def siren(config: NetworkConfig, encoding: Encoding, seed: int = 0) -> SineMLP:
    """SIREN: sin(omega_0 (W x + b)) with SIREN's initialisation."""
    return SineMLP(config, encoding, activation="sine", seed=seed)


def finer(config: NetworkConfig, encoding: Encoding, seed: int = 0) -> SineMLP:
    """FINER: sin(omega_0 (|z| + 1) z) with SIREN's weight initialisation."""
    return SineMLP(config, encoding, activation="finer", seed=seed)


@hookimpl
def aire_add_networks() -> dict:
    return {"siren": siren, "finer": finer}
