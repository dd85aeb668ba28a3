"""The torch backend: Bessel J_n against scipy, the Backend contract."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aire
from aire.backends.torch_backend import TorchBackend, bessel_j
from aire.testing import check_backend


@given(n=hnp.arrays(np.int64, st.integers(1, 40), elements=st.integers(-50, 50)),
       x=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-100, 100)))
def test_bessel_matches_scipy(n, x):
    got = bessel_j(n[:, None], x[None, :]).numpy()
    ref = scipy.special.jv(n[:, None], x[None, :])
    err = np.abs(got - ref)
    assert err.max() <= 1e-12
    big = np.abs(ref) > 1e-6
    assert (err[big] / np.abs(ref[big])).max(initial=0) <= 1e-10


def test_bessel_special_values():
    assert bessel_j(0, 0.0).item() == 1.0
    assert bessel_j(3, 0.0).item() == 0.0
    assert bessel_j(-3, 2.0).item() == pytest.approx(-scipy.special.jv(3, 2.0), rel=1e-13)
    with pytest.raises(ValueError, match="integer"):
        bessel_j(0.5, 1.0)


def test_torch_backend_contract():
    check_backend(TorchBackend())
    assert aire.get_backend("torch").name == "torch"


def test_builtin_criterion_and_policy_contracts():
    from aire.testing import check_densification_policy, check_pruning_criterion

    check_pruning_criterion(aire.create("criterion", "column-l1"))
    check_densification_policy(aire.create("policy", "topk-doubling"))
