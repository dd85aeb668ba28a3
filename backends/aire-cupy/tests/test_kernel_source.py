"""The CUDA kernel's source compiled as C++ for the CPU (g++), so its arithmetic is checked without a GPU."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

HARNESS = r"""
#include <cmath>
#include <cstdio>
#include <vector>
using namespace std;
struct Index { long long x; };
static Index blockIdx{0}, blockDim{1}, threadIdx{0};
#define __global__
%s
int main() {
    long long size; scanf("%%lld", &size);
    vector<long long> n(size); vector<double> x(size), out(size);
    for (long long i = 0; i < size; ++i) scanf("%%lld %%lf", &n[i], &x[i]);
    for (long long i = 0; i < size; ++i) { threadIdx.x = i; bessel_jn(n.data(), x.data(), out.data(), size); }
    for (long long i = 0; i < size; ++i) printf("%%.17g\n", out[i]);
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_bessel_kernel_source_matches_scipy(tmp_path):
    import scipy.special

    from aire_cupy import _BESSEL_SOURCE

    src = tmp_path / "kernel.cpp"
    src.write_text(HARNESS % _BESSEL_SOURCE)
    exe = tmp_path / "kernel"
    subprocess.run(["g++", "-O2", "-o", str(exe), str(src)], check=True, capture_output=True)
    rng = np.random.default_rng(1)
    n = np.concatenate([rng.integers(-50, 51, 3000), [0, 3, -3, 7]])
    x = np.concatenate([rng.uniform(-100, 100, 3000), [0.0, 0.0, 2.0, 1e-10]])
    stdin = f"{n.size}\n" + "\n".join(f"{int(a)} {float(b):.17g}" for a, b in zip(n, x))
    done = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True)
    got = np.array([float(v) for v in done.stdout.split()])
    ref = scipy.special.jv(n, x)
    assert np.abs(got - ref).max() <= 1e-12
    big = np.abs(ref) > 1e-6
    assert (np.abs(got - ref)[big] / np.abs(ref[big])).max() <= 1e-10
