"""Build a network plugin from a NetworkConfig: the one place that pairs an encoding with a network."""

from __future__ import annotations

from typing import Any

from aire.config import NetworkConfig
from aire.nn.sine_mlp import SineMLP


def network_from_config(config: NetworkConfig, seed: int = 0, **encoding_settings: Any) -> SineMLP:
    """The `config.network` plugin with a `config.encoding` plugin built from `encoding_settings`.

    A network factory initialises its tensors from ``torch.Generator().manual_seed(seed)``, never
    from torch's global RNG, so building a network neither depends on nor changes global state."""
    from aire.plugins import create

    encoding = create("encoding", config.encoding, **encoding_settings)
    return create("network", config.network, config, encoding, seed=seed)
