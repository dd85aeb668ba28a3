"""Theory made executable: Theorem 2 (pruning stability) bounds on canonical networks."""

from aire.theory.bounds import activation_lipschitz, inf_norm, pruning_bound, stability_bound

__all__ = ["activation_lipschitz", "inf_norm", "pruning_bound", "stability_bound"]
