"""The host's call-free float32 exp/log/tanh/erf (kernels/fast_math.h), through the ops that use
them: accuracy in ulps against float64 NumPy/SciPy over wide ranges and the special values; the
vectorised contiguous loops equal the scalar strided loops bit for bit, on every ISA level."""
import math

import numpy as np
import pytest

import gradcore as g
from helpers import assert_isa_levels_agree

SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, 88.72, 88.73, -103.9, -104.1,
                    0.625, -0.625, 1.0, -1.0, 4.0, -4.0, 1e-30, 3e38, -3e38], dtype=np.float32)


@np.errstate(over="ignore", invalid="ignore")
def _ulps(got, want):
    want32 = want.astype(np.float32)
    spacing = np.spacing(np.abs(want32)).astype(np.float64)
    spacing[spacing == 0] = np.float64(np.spacing(np.float32(0)))
    err = np.abs(got.astype(np.float64) - want) / spacing
    same_special = (np.isnan(got) & np.isnan(want)) | ((got == want32) & ~np.isfinite(want32))
    return np.where(same_special, 0.0, err)


def _erf64(x):
    return np.vectorize(math.erf)(x)


CASES = {  # name: (gradcore op, float64 reference, domain, max ulp)
    "exp": (g.exp, np.exp, (-104.5, 89.0), 1.5),
    "log": (g.log, np.log, (0.0, 3e38), 1.5),
    "tanh": (g.tanh, np.tanh, (-12.0, 12.0), 1.5),
    "erf": (g.erf, _erf64, (-5.0, 5.0), 3.0),
    "sigmoid": (g.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), (-110.0, 110.0), 3.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_accuracy(name):
    op, ref, (lo, hi), tol = CASES[name]
    rng = np.random.default_rng(0)
    if name == "log":
        x = np.exp(rng.uniform(-100, 88, 400000)).astype(np.float32)
        x = np.concatenate([x, rng.uniform(0.5, 2.0, 100000).astype(np.float32)])
    else:
        x = rng.uniform(lo, hi, 400000).astype(np.float32)
        x = np.concatenate([x, rng.uniform(-1.5, 1.5, 100000).astype(np.float32)])
    x = np.concatenate([x, SPECIAL])
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    got = op(g.tensor(x)).numpy()
    err = _ulps(got, want)
    worst = int(np.argmax(err))
    assert err[worst] <= tol, f"{name}({x[worst]!r}) = {got[worst]!r}, want {want[worst]!r}: {err[worst]:.2f} ulp"


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "erf", "sigmoid", "gelu", "gelu_tanh", "silu"])
def test_vector_loop_equals_strided_loop(name):
    x = np.random.default_rng(1).standard_normal((257, 6)).astype(np.float32) * 4
    if name == "log":
        x = np.abs(x)
    ops = {"gelu": g.nn.functional.gelu, "gelu_tanh": lambda t: g.nn.functional.gelu(t, approximate="tanh"),
           "silu": g.nn.functional.silu}
    op = ops.get(name) or getattr(g, name)
    contiguous = g.tensor(x.T.copy()).requires_grad_()
    strided = g.tensor(x).t().requires_grad_()   # same values, a transposed view: the scalar loop
    a, b = op(contiguous), op(strided)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=True)
    w = np.random.default_rng(2).standard_normal(a.shape).astype(np.float32)
    (a * g.tensor(w)).sum().backward()
    (b * g.tensor(w)).sum().backward()
    assert np.array_equal(contiguous.grad.numpy(), strided.grad.numpy().T.T, equal_nan=True)


ISA_SCRIPT = r"""
import sys
import numpy as np
import gradcore as g
x = np.random.default_rng(3).standard_normal(10007).astype(np.float32) * 6
t = g.tensor(x).requires_grad_()
outs = [g.exp(t), g.log(t.abs()), g.tanh(t), g.erf(t), g.sigmoid(t), g.nn.functional.gelu(t)]
sum(o.sum() for o in outs).backward()
np.savez(sys.argv[1], *[o.detach().numpy() for o in outs], t.grad.numpy())
"""


def test_every_isa_level_rounds_alike(tmp_path):
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path)


def test_gelu_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal(100000).astype(np.float32) * 5
    for approx in ("none", "tanh"):
        gx, tx = g.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        gy, ty = g.nn.functional.gelu(gx, approximate=approx), torch.nn.functional.gelu(tx, approximate=approx)
        np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=2e-6, atol=2e-6)  # torch erf: 1.5e-7 absolute
        gy.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=2e-6, atol=2e-6)


def test_erf_sweep_every_float_band():
    # Every 499th float of [0, 6] and its negation (both branches, the joins at 1 and 4, the tiny
    # values): within 2.7 ulp of float64 erf (2.61 at most over every 7th float), and within
    # PyTorch's own error of torch.erf.
    bits = np.arange(0, np.float32(6.0).view(np.int32), 499, dtype=np.int32)
    x = bits.view(np.float32)
    x = np.concatenate([x, -x, np.float32([1.0, -1.0, 4.0, -4.0, np.nextafter(np.float32(1), 0)])])
    got = g.erf(g.tensor(x)).numpy()
    err = _ulps(got, _erf64(x.astype(np.float64)))
    worst = int(np.argmax(err))
    assert err[worst] <= 2.7, f"erf({x[worst]!r}) = {got[worst]!r}: {err[worst]:.2f} ulp"
    assert np.all(np.abs(got) <= 1.0)
    big = np.abs(x) >= np.float32(3.919206)  # the first float whose erf rounds to 1
    assert np.array_equal(got[big], np.sign(x[big]))  # exactly: gelu(-large) must be -0
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(got, torch.erf(torch.tensor(x)).numpy(), rtol=0, atol=3e-7)
