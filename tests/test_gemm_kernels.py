"""Every GEMM kernel path (AVX-512, AVX2, portable baseline), each in its own process since the
kernel is chosen once per process (GRADCORE_CPU_ISA), against NumPy in float64: odd shapes that
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


def _run_isa(script, isa, *args, **env_vars):
    """Runs script in a fresh process with the CPU kernels of isa (and env_vars); its exit must be 0."""
    env = dict(os.environ, GRADCORE_CPU_ISA=isa, **env_vars)
    run = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_kernel_path(isa):
    run = _run_isa(SCRIPT, isa)
    assert run.stdout.strip() == "ok", run.stderr[-3000:]


def _best_isa():
    run = subprocess.run([sys.executable, "-c", "import gradcore; print(gradcore._C._cpu_isa())"],
                         env={k: v for k, v in os.environ.items() if k != "GRADCORE_CPU_ISA"},
                         capture_output=True, text=True, timeout=120, check=True)
    return run.stdout.strip()


@pytest.mark.parametrize("isa", ["avx512_bf16", "avx512", "avx2", "baseline"])
def test_forced_isa_is_the_one_that_runs(isa):
    # GRADCORE_CPU_ISA caps the choice at what the CPU has; every kernel table reads the same choice.
    order = ["baseline", "avx2", "avx512", "avx512_bf16"]
    best = _best_isa()
    want = order[min(order.index(isa), order.index(best))]
    run = _run_isa("import gradcore; print(gradcore._C._cpu_isa())", isa)
    assert run.stdout.strip() == want



# The sparse-A path (A with many exact zeros, as a ReLU-masked gradient in dW = g^T @ x): each
# script runs once with the path forced (GRADCORE_GEMM_SPARSE=1, any density) and once with it
# off (=0), on every ISA. Skipping a zero term leaves each FMA chain as it was, so within one
# K slice of the packed path (K <= 256) both must agree bit for bit; deeper products are checked
# against NumPy, as are the epilogue (alpha, bias, ReLU via _linear_relu), inf/NaN in B (which
# must reach C as in a dense product) and NaN in A.
SPARSE_SCRIPT = r"""
import sys, numpy as np, gradcore
_C = gradcore._C
out = {}

def relu_masked(rows, cols, dtype, density=0.5):
    a = rng.standard_normal((rows, cols)).astype(dtype)
    a[rng.random((rows, cols)) > density] = 0
    return a

for threads in (1, 2):
    gradcore.set_num_threads(threads)
    rng = np.random.default_rng(11)  # the same operands for both thread counts
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        # (M, K, N): tails of every width (N % 16, N % 96, N < one vector chunk), K across 64-bit
        # mask words, rows fewer than threads' share.
        for m, k, n in ((256, 64, 784), (37, 65, 33), (9, 200, 130), (64, 8, 1000), (130, 129, 257),
                        (8, 256, 40), (300, 64, 97)):
            g = relu_masked(k, m, dtype)          # g [K, M] row-major: A = g^T is column-major
            x = rng.standard_normal((k, n)).astype(dtype)
            c1 = (gradcore.tensor(g).t() @ gradcore.tensor(x)).numpy()
            a2 = relu_masked(m, k, dtype, 0.3)    # row-major A
            c2 = (gradcore.tensor(a2) @ gradcore.tensor(x)).numpy()
            out[f"{name}-{threads}-{m}-{k}-{n}-t"] = c1
            out[f"{name}-{threads}-{m}-{k}-{n}-n"] = c2
        # alpha through _gemm_into (beta = 0 writes C without reading it: NaN there must vanish)
        a = relu_masked(70, 64, dtype)
        b = rng.standard_normal((64, 90)).astype(dtype)
        c = gradcore.full((70, 90), float("nan"), dtype=gradcore.float32 if dtype == np.float32 else gradcore.float64)
        _C._gemm_into(c, gradcore.tensor(a), gradcore.tensor(b), -0.5, 0.0)
        out[f"{name}-{threads}-alpha"] = c.numpy()
        # bias + ReLU epilogue: linear with a sparse input and a weight whose transpose is
        # row-major (w = wt.t()), so B = w^T is contiguous and the path applies.
        h = relu_masked(64, 128, dtype)
        wt = rng.standard_normal((128, 200)).astype(dtype)
        bias = rng.standard_normal(200).astype(dtype)
        y = _C._linear_relu(gradcore.tensor(h), gradcore.tensor(wt).t(), gradcore.tensor(bias)).numpy()
        out[f"{name}-{threads}-linear_relu"] = y
        # inf and NaN in B: 0 * inf is NaN in a dense product, so they must reach C.
        bb = rng.standard_normal((64, 50)).astype(dtype)
        bb[3, 7] = np.inf
        bb[10, 20] = np.nan
        a = relu_masked(40, 64, dtype)
        a[:, 3] = 0
        out[f"{name}-{threads}-infb"] = (gradcore.tensor(a) @ gradcore.tensor(bb)).numpy()
        # NaN in A is a nonzero: its row of C is NaN.
        a = relu_masked(40, 64, dtype)
        a[5, 9] = np.nan
        out[f"{name}-{threads}-nana"] = (gradcore.tensor(a) @ gradcore.tensor(rng.standard_normal((64, 50)).astype(dtype))).numpy()
out["sparse_calls"] = np.array(_C._gemm_sparse_calls())
np.savez(sys.argv[1], **out)
"""


def _cpu_has(flag):
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return True


def _path_run(tmp_path, script, isa, switch, mode):
    """The arrays script saved, run under GEMM kernel isa with the path switch (an environment
    variable) set to mode."""
    path = tmp_path / f"{switch}-{isa}-{mode}.npz"
    _run_isa(script, isa, str(path), **{switch: mode})
    import numpy as np
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _forced_and_off(tmp_path, script, isa, switch, counter, taken):
    """script's arrays with the path forced and with it off. The path's call counter (saved as
    `counter`, removed from both) must read `taken` when forced, 0 when off, and 0 on the baseline
    ISA or a CPU without AVX2, which have no such kernel."""
    forced = _path_run(tmp_path, script, isa, switch, "1")
    off = _path_run(tmp_path, script, isa, switch, "0")
    assert forced.keys() == off.keys()
    assert int(off.pop(counter)) == 0
    calls = int(forced.pop(counter))
    assert calls == (0 if isa == "baseline" or not _cpu_has("avx2") else taken), calls
    return forced, off


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_sparse_a_path_matches_dense(tmp_path, isa):
    import numpy as np
    # Every product of the script but the two with inf/NaN in B (which go dense) takes the path
    # when forced.
    products = 2 * 2 * (2 * 7 + 4)
    forced, dense = _forced_and_off(tmp_path, SPARSE_SCRIPT, isa, "GRADCORE_GEMM_SPARSE", "sparse_calls",
                                    products - 2 * 2)
    for key, got in forced.items():
        ref = dense[key]
        k = int(key.split("-")[3]) if key.count("-") == 5 else 64
        if k <= 256:
            np.testing.assert_array_equal(got, ref, err_msg=key)
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-4 if got.dtype == np.float32 else 1e-12,
                                       atol=1e-4 if got.dtype == np.float32 else 1e-12, err_msg=key)
        # and both against NumPy where it matters: the NaN cases
        if key.endswith("infb"):
            assert np.isnan(got[:, 7]).all() and np.isnan(got[:, 20]).all(), key
        if key.endswith("nana"):
            assert np.isnan(got[5]).all() and not np.isnan(np.delete(got, 5, axis=0)).any(), key
    # 1 and 2 threads agree bit for bit
    for key, got in forced.items():
        if "-1-" in key:
            np.testing.assert_array_equal(got, forced[key.replace("-1-", "-2-", 1)], err_msg=key)


def test_sparse_a_path_against_numpy():
    # The default (auto) choice on ReLU-like operands, against float64 NumPy.
    import numpy as np
    import gradcore
    rng = np.random.default_rng(3)
    calls = gradcore._C._gemm_sparse_calls()
    for m, k, n in ((256, 64, 784), (33, 64, 100), (100, 300, 70)):
        g = rng.standard_normal((k, m)).astype(np.float32)
        g[rng.random((k, m)) > 0.3] = 0
        x = rng.standard_normal((k, n)).astype(np.float32)
        got = (gradcore.tensor(g).t() @ gradcore.tensor(x)).numpy()
        ref = g.T.astype(np.float64) @ x.astype(np.float64)
        scale = np.abs(g.T.astype(np.float64)) @ np.abs(x.astype(np.float64))
        assert np.all(np.abs(got - ref) <= 4 * np.finfo(np.float32).eps * (k + 2) * (scale + 1e-30))
    if (os.environ.get("GRADCORE_GEMM_SPARSE") != "0" and os.environ.get("GRADCORE_CPU_ISA") != "baseline"
            and _cpu_has("avx2")):
        assert gradcore._C._gemm_sparse_calls() > calls  # at least the batch-64 dW shape took it


# The direct path (x @ W^T at small batch: W, a row-major weight, read in place and only x^T
# packed): each script runs with the path forced (GRADCORE_GEMM_DIRECT=1) and off (=0), on every
# ISA. It sums K in the packed path's slices, in the same order, so the two agree bit for bit at
# every shape; both are also checked against float64 NumPy.
DIRECT_SCRIPT = r"""
import sys, numpy as np, gradcore
_C = gradcore._C
out = {}

def check(got, x, w, alpha=1.0, bias=None, relu=False):
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = alpha * (x64 @ w64.T)
    scale = abs(alpha) * (np.abs(x64) @ np.abs(w64.T))
    if bias is not None:
        ref = ref + bias
        scale = scale + np.abs(bias)
    if relu:
        ref = np.maximum(ref, 0)
    bound = 4 * np.finfo(got.dtype).eps * (x.shape[1] + 2) * (scale + 1e-30)
    assert np.all(np.abs(got - ref) <= bound), (x.shape, w.shape)

for threads in (1, 2):
    gradcore.set_num_threads(threads)
    rng = np.random.default_rng(5)  # the same operands for both thread counts
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        gdt = gradcore.float32 if dtype == np.float32 else gradcore.float64
        # (batch M, out features N, K): batches across every panel width (vectors of 8/16, panels
        # of 16/32/64), W's rows across the 6-row tiles, K across the 256/384-deep slices.
        for m, n, k in ((2, 5, 3), (7, 6, 64), (16, 13, 2), (33, 64, 385), (64, 256, 784), (65, 7, 100),
                        (100, 130, 257), (130, 19, 900), (64, 10, 256)):
            x = rng.standard_normal((m, k)).astype(dtype)
            w = rng.standard_normal((n, k)).astype(dtype)
            got = (gradcore.tensor(x) @ gradcore.tensor(w).t()).numpy()
            check(got, x, w)
            out[f"{name}-{threads}-{m}-{n}-{k}"] = got
        # Linear with bias, and with the fused ReLU; W a column slice of a wider matrix (its rows
        # lda > K apart).
        x = rng.standard_normal((40, 70)).astype(dtype)
        wide = rng.standard_normal((90, 100)).astype(dtype)
        bias = rng.standard_normal(90).astype(dtype)
        gw = gradcore.tensor(wide)._slice(1, 0, 70, 1)
        got = gradcore.nn.functional.linear(gradcore.tensor(x), gw, gradcore.tensor(bias)).numpy()
        check(got, x, wide[:, :70], bias=bias)
        out[f"{name}-{threads}-linear"] = got
        got = _C._linear_relu(gradcore.tensor(x), gw, gradcore.tensor(bias)).numpy()
        check(got, x, wide[:, :70], bias=bias, relu=True)
        out[f"{name}-{threads}-linear_relu"] = got
        # alpha through _gemm_into; beta == 0 never reads C (its NaN must vanish).
        w = rng.standard_normal((50, 300)).astype(dtype)
        c = gradcore.full((20, 50), float("nan"), dtype=gdt)
        x = rng.standard_normal((20, 300)).astype(dtype)
        _C._gemm_into(c, gradcore.tensor(x), gradcore.tensor(w).t(), -0.5, 0.0)
        check(c.numpy(), x, w, alpha=-0.5)
        out[f"{name}-{threads}-alpha"] = c.numpy()
out["direct_calls"] = np.array(_C._gemm_direct_calls())
np.savez(sys.argv[1], **out)
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_direct_path_matches_packed(tmp_path, isa):
    import numpy as np
    # All 12 products per dtype and thread count take the path when forced.
    forced, packed = _forced_and_off(tmp_path, DIRECT_SCRIPT, isa, "GRADCORE_GEMM_DIRECT", "direct_calls",
                                     2 * 2 * 12)
    for key, got in forced.items():
        np.testing.assert_array_equal(got, packed[key], err_msg=key)
        if "-1-" in key:  # 1 and 2 threads agree bit for bit
            np.testing.assert_array_equal(got, forced[key.replace("-1-", "-2-", 1)], err_msg=key)


def test_direct_path_auto_choice():
    # The default choice: a batch-64 Linear(784, 256) forward reads W in place (on AVX2 and up),
    # against float64 NumPy; a batch of 100 (112 columns computed for 100) stays packed.
    import numpy as np
    import gradcore
    rng = np.random.default_rng(4)
    w = rng.standard_normal((256, 784)).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    for m, expect in ((64, 1), (100, 0)):
        x = rng.standard_normal((m, 784)).astype(np.float32)
        calls = gradcore._C._gemm_direct_calls()
        got = gradcore.nn.functional.linear(gradcore.tensor(x), gradcore.tensor(w), gradcore.tensor(b)).numpy()
        taken = gradcore._C._gemm_direct_calls() - calls
        ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
        scale = np.abs(x.astype(np.float64)) @ np.abs(w.T.astype(np.float64)) + np.abs(b)
        assert np.all(np.abs(got - ref) <= 4 * np.finfo(np.float32).eps * 786 * scale)
        if (os.environ.get("GRADCORE_GEMM_DIRECT") is None and os.environ.get("GRADCORE_CPU_ISA") != "baseline"
                and _cpu_has("avx2")):
            assert taken == expect, (m, taken)
