"""Theory made executable: Theorem 1 (harmonic expansion) and Theorem 2 (stability) on canonical networks.

Rigorous bounds: stability_bound / pruning_bound (Theorem 2's norm product), vector_* (its
elementwise form), certify_change / certify_removal (branch and bound with Taylor models, tight on
fitted networks), AmplitudeExpansion.sup_bound. Estimates: AmplitudeExpansion.mse_estimate.
"""

from aire.theory.boundprop import Certificate, certify_change, certify_removal
from aire.theory.bounds import (activation_lipschitz, inf_norm, pruning_bound, stability_bound, vector_pruning_bound,
                                vector_stability_bound)
from aire.theory.expansion import AmplitudeExpansion, amplitude_expansion

__all__ = ["AmplitudeExpansion", "Certificate", "activation_lipschitz", "amplitude_expansion", "certify_change",
           "certify_removal", "inf_norm", "pruning_bound", "stability_bound", "vector_pruning_bound",
           "vector_stability_bound"]
