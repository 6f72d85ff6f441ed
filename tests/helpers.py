"""Test helpers: NumPy comparison, float64 finite-difference gradient checks, and the same script
run on every CPU ISA level."""
import os
import subprocess
import sys

import numpy as np

import gradcore


def to_np(t):
    return t.detach().numpy() if isinstance(t, gradcore.Tensor) else np.asarray(t)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    a, e = to_np(actual), to_np(expected)
    assert a.shape == e.shape, f"shape {a.shape} != expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def numeric_grad(fn, arrays, i, eps=1e-6):
    """Central differences of sum(fn(*arrays) * w) w.r.t. arrays[i], with a fixed random weight w
    so every output element matters."""
    base = [a.copy() for a in arrays]
    out = to_np(fn(*[gradcore.tensor(a) for a in base]))
    w = np.random.default_rng(0).standard_normal(out.shape)
    g = np.zeros_like(base[i])
    flat = base[i].reshape(-1)
    gflat = g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        fp = (to_np(fn(*[gradcore.tensor(a) for a in base])) * w).sum()
        flat[k] = old - eps
        fm = (to_np(fn(*[gradcore.tensor(a) for a in base])) * w).sum()
        flat[k] = old
        gflat[k] = (fp - fm) / (2 * eps)
    return g, w


def gradcheck_fn(fn, *arrays, eps=1e-6, rtol=1e-4, atol=1e-6):
    """Checks the analytic gradient of fn (a function of gradcore tensors) against central
    differences, in float64, for every input."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    ts = [gradcore.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    for i in range(len(arrays)):
        g_num, w = numeric_grad(fn, arrays, i, eps)
        for t in ts:
            t.grad = None
        out = fn(*ts)
        out.backward(gradcore.tensor(w, dtype=out.dtype))
        g = ts[i].grad
        assert g is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(to_np(g), g_num, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def assert_isa_levels_agree(script, tmp_path, equal_nan=True):
    """Runs `script` (python -c, argv[1] = an .npz path it writes) once per forced ISA level
    (GRADCORE_CPU_ISA) in a child process, and asserts that every array it saved has the same bits
    as the baseline's."""
    res = {}
    for isa in ("baseline", "avx2", "avx512"):
        env = {k: v for k, v in os.environ.items() if k != "GRADCORE_CPU_ISA"}
        env["GRADCORE_CPU_ISA"] = isa
        path = tmp_path / f"{isa}.npz"
        run = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        res[isa] = np.load(path)
    for key in res["baseline"].files:
        for isa in ("avx2", "avx512"):
            assert np.array_equal(res[isa][key], res["baseline"][key], equal_nan=equal_nan), (isa, key)
