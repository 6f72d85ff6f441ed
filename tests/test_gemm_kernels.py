"""Every GEMM kernel path (AVX-512, AVX2, portable baseline), each in its own process since the
kernel is chosen once per process (GRADCORE_GEMM_ISA), against NumPy in float64: odd shapes that
cross every blocking edge (MR/NR tiles, the KC slice, the MC/NC blocks), transposed, sliced and
output-transposed operands, batches, alpha/beta, float32 and float64, at 1 and 2 threads (which
must agree bitwise). On a CPU without AVX-512 or AVX2 the request falls back to the best kernel
the CPU has, so these still run (and test that kernel again)."""
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import numpy as np, gradcore
_C = gradcore._C
rng = np.random.default_rng(7)

def check(got, a, b, c=None, alpha=1.0, beta=0.0):
    # Error bound of a K-term dot product: a few units in the last place times K, relative to
    # sum_k |a_ik b_kj| (plus the beta term).
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if c is not None and beta != 0:
        ref = ref + beta * c.astype(np.float64)
        scale = scale + np.abs(beta * c.astype(np.float64))
    eps = np.finfo(got.dtype).eps
    k = a.shape[-1]
    err = np.abs(got.astype(np.float64) - ref)
    bound = 4 * eps * (k + 2) * (scale + 1e-30)
    assert np.all(err <= bound), (got.shape, k, float((err / (bound + 1e-300)).max()))

def operand(rows, cols, layout, dtype):
    # A [rows, cols] operand as gradcore and NumPy views with the given layout.
    if layout == "n":
        x = rng.standard_normal((rows, cols)).astype(dtype)
        return gradcore.tensor(x), x
    if layout == "t":  # a transposed view of a row-major matrix
        x = rng.standard_normal((cols, rows)).astype(dtype)
        return gradcore.tensor(x).t(), x.T
    # "s": sliced in both dims (no unit stride)
    x = rng.standard_normal((2 * rows, 3 * cols)).astype(dtype)
    g = gradcore.tensor(x)._slice(0, 0, 2 * rows, 2)._slice(1, 1, 3 * cols, 3)
    return g, x[::2, 1::3]

SHAPES = [(2, 2, 2), (7, 1, 7), (6, 16, 8), (12, 32, 32), (13, 257, 31), (13, 385, 33), (25, 769, 65),
          (129, 1000, 17), (1000, 17, 129), (145, 3, 1030), (64, 784, 256), (256, 64, 10), (10, 256, 100),
          (150, 300, 530), (1, 300, 129), (129, 300, 1), (3, 7, 1), (1, 1, 1)]
results = {}
for threads in (1, 2):
    gradcore.set_num_threads(threads)
    for dtype in (np.float32, np.float64):
        for m, k, n in SHAPES:
            for la, lb in (("n", "n"), ("t", "n"), ("n", "t"), ("t", "t"), ("s", "n"), ("n", "s")):
                ga, a = operand(m, k, la, dtype)
                gb, b = operand(k, n, lb, dtype)
                got = (ga @ gb).numpy()
                check(got, a, b)
        # Bitwise agreement between thread counts, on fixed operands.
        for m, k, n in ((150, 300, 530), (64, 784, 256), (256, 64, 10), (1000, 17, 129)):
            a = np.random.default_rng(m).standard_normal((m, k)).astype(dtype)
            b = np.random.default_rng(n).standard_normal((n, k)).astype(dtype)
            got = (gradcore.tensor(a) @ gradcore.tensor(b).t()).numpy()
            key = (np.dtype(dtype).name, m, k, n)
            if key in results:
                np.testing.assert_array_equal(results[key], got)
            results[key] = got
        # alpha/beta with K spanning several KC slices (only the first slice may scale C), into
        # row-major and transposed outputs; beta == 0 never reads C (NaN there must not leak).
        for m, k, n in ((37, 900, 45), (5, 3, 70), (70, 513, 6)):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = rng.standard_normal((m, n)).astype(dtype)
            out = gradcore.tensor(c)
            _C._gemm_into(out, gradcore.tensor(a), gradcore.tensor(b), 0.5, -1.5)
            check(out.numpy(), a, b, c, 0.5, -1.5)
            big = gradcore.tensor(np.ascontiguousarray(c.T))
            _C._gemm_into(big.t(), gradcore.tensor(a), gradcore.tensor(b), 2.0, 1.0)
            check(big.numpy().T, a, b, c, 2.0, 1.0)
            nan = gradcore.full((m, n), float("nan"), dtype=gradcore.float32 if dtype == np.float32 else gradcore.float64)
            _C._gemm_into(nan, gradcore.tensor(a), gradcore.tensor(b), 1.0, 0.0)
            check(nan.numpy(), a, b)
        # Batched (with a broadcast batch of 1 and a transposed batch operand).
        x = rng.standard_normal((5, 33, 70)).astype(dtype)
        y = rng.standard_normal((1, 40, 70)).astype(dtype)
        got = (gradcore.tensor(x) @ gradcore.tensor(y).transpose(1, 2)).numpy()
        for i in range(5):
            check(got[i], x[i], y[0].T)
        x2 = gradcore.tensor(x)._slice(0, 0, 2, 1)
        got = (x2 @ x2.transpose(1, 2)).numpy()
        for i in range(2):
            check(got[i], x[i], x[i].T)
print("ok")
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_kernel_path(isa):
    env = dict(os.environ, GRADCORE_GEMM_ISA=isa)
    env.pop("GRADCORE_GEMM_BASELINE", None)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]


def test_old_baseline_switch_still_works():
    # GRADCORE_GEMM_BASELINE=1 is the older spelling of GRADCORE_GEMM_ISA=baseline.
    env = dict(os.environ, GRADCORE_GEMM_BASELINE="1")
    env.pop("GRADCORE_GEMM_ISA", None)
    script = ("import numpy as np, gradcore\n"
              "a = np.random.default_rng(0).standard_normal((70, 300)).astype(np.float32)\n"
              "got = (gradcore.tensor(a) @ gradcore.tensor(a).t()).numpy()\n"
              "np.testing.assert_allclose(got, a.astype(np.float64) @ a.T, rtol=1e-4, atol=1e-3)\n"
              "print('ok')\n")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
