"""CUDA kernels for aire's Backend interface (cupy RawKernel); cupy is imported only when used."""

from __future__ import annotations

from typing import Any

import aire
from aire.interfaces import Backend

_BESSEL_SOURCE = r"""
extern "C" __global__
void bessel_jn(const long long* orders, const double* xs, double* out, const long long size) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    long long n = orders[i];
    double x = xs[i];
    long long an = n < 0 ? -n : n;
    double ax = fabs(x);
    double sign = (((n < 0) != (x < 0)) && (an % 2 == 1)) ? -1.0 : 1.0;
    if (ax < 1e-8) {  // two terms of the power series
        double half = ax / 2.0;
        double lead = (an == 0) ? 1.0 : ((ax == 0.0) ? 0.0 : exp(an * log(half) - lgamma((double)an + 1.0)));
        out[i] = sign * lead * (1.0 - half * half / ((double)an + 1.0));
        return;
    }
    long long base = an > (long long)ceil(ax) ? an : (long long)ceil(ax);
    long long start = base + 20 + (long long)sqrt(60.0 * (double)(base + 1));
    start += start % 2;
    double j_next = 0.0, j_cur = 1.0, norm = 0.0, result = 0.0;
    const double two_over_x = 2.0 / ax;
    for (long long k = start; k > 0; --k) {
        if (k == an) result = j_cur;
        if (k % 2 == 0) norm += 2.0 * j_cur;
        double j_prev = (double)k * two_over_x * j_cur - j_next;
        j_next = j_cur;
        j_cur = j_prev;
        if (fabs(j_cur) > 1e150) {
            j_cur *= 1e-150; j_next *= 1e-150; norm *= 1e-150; result *= 1e-150;
        }
    }
    if (an == 0) result = j_cur;
    norm += j_cur;
    out[i] = sign * result / norm;
}
"""


def _cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError("the cupy backend needs cupy: pip install aire-cupy[cuda12]") from exc
    return cupy


class CupyBackend(Backend):
    """Bessel functions, harmonic amplitudes and spectra on a CUDA GPU."""

    name = "cupy"

    def __init__(self) -> None:
        if not self.available():
            raise RuntimeError(f"the cupy backend cannot run here: {self.unavailable_reason()}; use --backend torch")
        cp = _cupy()
        self.cp = cp
        self._bessel = cp.RawKernel(_BESSEL_SOURCE, "bessel_jn")

    @classmethod
    def available(cls) -> bool:
        return not cls.unavailable_reason()

    @classmethod
    def unavailable_reason(cls) -> str:
        """One line on why this backend cannot run here ("" when it can): no cupy, or no CUDA GPU."""
        try:
            import cupy
        except ImportError:
            return "cupy is not installed (pip install 'aire-cupy[cuda12]' or '[cuda13]')"
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            return f"cupy finds no CUDA device ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        return "" if count > 0 else "cupy finds no CUDA device"

    def bessel_j(self, orders: Any, x: Any) -> Any:
        cp = self.cp
        n = cp.asarray(orders)
        if n.dtype.kind == "f" and not bool(cp.all(n == cp.round(n))):
            raise ValueError("bessel_j supports integer orders only")
        n_b, x_b = cp.broadcast_arrays(n.astype(cp.int64), cp.asarray(x, dtype=cp.float64))
        n_c = cp.ascontiguousarray(n_b).ravel()
        x_c = cp.ascontiguousarray(x_b).ravel()
        out = cp.empty(x_c.size, dtype=cp.float64)
        threads = 256
        blocks = (x_c.size + threads - 1) // threads
        if x_c.size:
            self._bessel((blocks,), (threads,), (n_c, x_c, out, cp.int64(x_c.size)))
        return out.reshape(n_b.shape)

    def harmonic_amplitudes(self, k: Any, a: Any) -> Any:
        cp = self.cp
        k = cp.asarray(k, dtype=cp.int64)
        a = cp.asarray(a, dtype=cp.float64)
        return self.bessel_j(k, a[None, :]).prod(axis=-1)

    def power_spectrum(self, values: Any) -> Any:
        cp = self.cp
        v = cp.asarray(values.detach() if hasattr(values, "detach") else values)
        axes = tuple(range(v.ndim - 1))
        return (cp.abs(cp.fft.fftn(v, axes=axes)) ** 2).sum(axis=-1)


@aire.hookimpl
def aire_add_backends() -> dict:
    return {"cupy": CupyBackend}
