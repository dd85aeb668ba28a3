"""cupy backend against scipy and the torch backend; skipped with the reason where no GPU is present."""

from __future__ import annotations

import numpy as np
import pytest

cupy = pytest.importorskip("cupy", reason="cupy is not installed (pip install aire-cupy[cuda12])")
try:
    GPUS = cupy.cuda.runtime.getDeviceCount()
except Exception:  # a driver without devices
    GPUS = 0
pytestmark = pytest.mark.skipif(GPUS == 0, reason="no CUDA GPU on this machine")


def test_bessel_parity_with_torch_and_scipy():
    import scipy.special

    from aire.backends.torch_backend import bessel_j
    from aire_cupy import CupyBackend

    rng = np.random.default_rng(0)
    n = rng.integers(-50, 51, 20000)
    x = rng.uniform(-100, 100, 20000)
    got = CupyBackend().bessel_j(n, x).get()
    ref = scipy.special.jv(n, x)
    assert np.abs(got - ref).max() <= 1e-12
    big = np.abs(ref) > 1e-6
    assert (np.abs(got - ref)[big] / np.abs(ref[big])).max() <= 1e-10
    np.testing.assert_allclose(got, bessel_j(n, x).numpy(), rtol=0, atol=1e-13)


def test_contract():
    from aire.testing import check_backend
    from aire_cupy import CupyBackend

    check_backend(CupyBackend())
