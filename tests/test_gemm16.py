"""The CPU GEMM on 16-bit floats (bfloat16, float16): A and B read as they are, float32
accumulation, one rounding as C is stored. Each kernel runs in its own process (the choice is made
once per process): the bf16 dot kernel (vdpbf16ps, on avx512_bf16 CPUs) and the widening kernel
(the float kernel over blocks widened as they are packed) on every ISA, each against a float64
product of the same 16-bit values: within one 16-bit rounding of it, plus float32 accumulation
error. The dot kernel's results are also checked against the widening kernel's (its slow twin).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore
from gradcore import _C

SCRIPT = r"""
import sys
import numpy as np
import gradcore
from gradcore import _C

want = sys.argv[1]
assert _C._gemm_16_kernel("bfloat16") == want, (_C._gemm_16_kernel("bfloat16"), want)
assert _C._gemm_16_kernel("float16") == "widen"
rng = np.random.default_rng(0)
BITS = {gradcore.bfloat16: 8, gradcore.float16: 11}  # significand bits


def check(got, a, b, dt, alpha=1.0, beta=0.0, c0=None, bias=None, relu=False):
    # got: the 16-bit result; a, b, c0, bias: float64 arrays holding the 16-bit inputs' values.
    ref = alpha * (a @ b)
    mag = np.abs(alpha) * (np.abs(a) @ np.abs(b))
    if c0 is not None and beta != 0:
        ref = ref + beta * c0
        mag = mag + np.abs(beta * c0)
    if bias is not None:
        ref = ref + bias
        mag = mag + np.abs(bias)
    if relu:
        ref = np.maximum(ref, 0)
    got = got.float().numpy().astype(np.float64)
    # one rounding to the 16-bit format (half an ulp, relative), float32 sums (K terms), and a
    # little room for the rounding of the float32 result itself
    k = a.shape[-1]
    tol = 2.0 ** -BITS[dt] * np.abs(ref) + (k + 2) * 2.0 ** -23 * mag + 1e-30
    bad = np.abs(got - ref) > tol
    assert not bad.any(), (dt, a.shape, b.shape, np.argwhere(bad)[:5], got[bad][:5], ref[bad][:5])


def rand(shape, dt):
    t = gradcore.tensor(rng.standard_normal(shape).astype(np.float32)).to(dt)
    return t, t.float().numpy().astype(np.float64)


for dt in (gradcore.bfloat16, gradcore.float16):
    # layouts: row-major, transposed (column-major) and sliced operands, odd sizes around the
    # 12 x 32 tile, K odd (a last pair with one value), K past one 768-deep slice
    for M, N, K in [(2, 2, 1), (5, 7, 3), (12, 32, 2), (13, 33, 65), (64, 100, 784), (37, 29, 1537), (130, 70, 9)]:
        a, an = rand((M, K), dt)
        b, bn = rand((K, N), dt)
        check(a @ b, an, bn, dt)
        at, atn = rand((K, M), dt)
        bt, btn = rand((N, K), dt)
        check(at.t() @ b, atn.T, bn, dt)
        check(a @ bt.t(), an, btn.T, dt)
        check(at.t() @ bt.t(), atn.T, btn.T, dt)
        # every other column and row: strides that are neither 1 nor the row length
        aw, awn = rand((M, 2 * K), dt)
        bw, bwn = rand((2 * K, N), dt)
        check(aw[:, ::2] @ bw[::2, :], awn[:, ::2], bwn[::2, :], dt)
        # an odd offset: data not 4-byte aligned
        ao, aon = rand((M * K + 1,), dt)
        check(ao[1:].reshape(M, K) @ b, aon[1:].reshape(M, K), bn, dt)
    # vector shapes and K == 0
    for M, N, K in [(1, 40, 30), (40, 1, 30), (1, 1, 7), (4, 5, 0)]:
        a, an = rand((M, K), dt)
        b, bn = rand((K, N), dt)
        check(a @ b, an, bn, dt)
    # batched, with a broadcast batch of 1
    a, an = rand((3, 20, 17), dt)
    b, bn = rand((1, 17, 40), dt)
    check(gradcore.matmul(a, b), an, np.broadcast_to(bn, (3, 17, 40)), dt)
    check(gradcore.bmm(a, b.expand(3, 17, 40)), an, np.broadcast_to(bn, (3, 17, 40)), dt)
    # the epilogue: alpha and beta (C read and scaled), bias, ReLU
    a, an = rand((30, 50), dt)
    b, bn = rand((50, 70), dt)
    c, cn = rand((30, 70), dt)
    _C._gemm_into(c, a, b, 0.5, 2.0)
    check(c, an, bn, dt, alpha=0.5, beta=2.0, c0=cn)
    w, wn = rand((70, 50), dt)
    bias, biasn = rand((70,), dt)
    check(gradcore.nn.functional.linear(a, w, bias), an, wn.T, dt, bias=biasn)
    check(_C._linear_relu(a, w, bias), an, wn.T, dt, bias=biasn, relu=True)
    # NaN and inf reach C as in a float product
    a, an = rand((20, 40), dt)
    b, bn = rand((40, 36), dt)
    a[3, 5] = float("nan")
    b[7, 2] = float("inf")
    got = (a @ b).float().numpy()
    assert np.isnan(got[3]).all()
    col = got[:, 2]
    assert (np.isinf(col) | np.isnan(col)).all()
print("ok")
"""

# The widening kernel twice more: with the bf16 dot kernel turned off, and on the narrower ISAs.
CONFIGS = [("dot", {}), ("widen", {"GRADCORE_GEMM_16": "widen"}),
           ("widen", {"GRADCORE_CPU_ISA": "avx512"}), ("widen", {"GRADCORE_CPU_ISA": "avx2"}),
           ("widen", {"GRADCORE_CPU_ISA": "baseline"})]


def _has_bf16_dot():
    return _C._cpu_isa() == "avx512_bf16" and "GRADCORE_CPU_ISA" not in os.environ


@pytest.mark.parametrize("kernel,env", CONFIGS, ids=[f"{k}-{'-'.join(e.values()) or 'best'}" for k, e in CONFIGS])
def test_gemm16_kernel(kernel, env):
    if kernel == "dot" and not _has_bf16_dot():
        pytest.skip("the CPU has no avx512_bf16")
    full = {k: v for k, v in os.environ.items() if k not in ("GRADCORE_CPU_ISA", "GRADCORE_GEMM_16")}
    full.update(env)
    run = subprocess.run([sys.executable, "-c", SCRIPT, kernel], env=full, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"


TWIN = r"""
import sys
import numpy as np
import gradcore
rng = np.random.default_rng(1)
out = []
for M, N, K in [(64, 1024, 784), (33, 47, 1539), (96, 200, 64)]:
    a = gradcore.tensor(rng.standard_normal((M, K)).astype(np.float32)).bfloat16()
    b = gradcore.tensor(rng.standard_normal((N, K)).astype(np.float32)).bfloat16()
    out.append((a @ b.t()).float().numpy())
np.savez(sys.argv[1], *out)
"""


def test_bf16_dot_matches_widening_twin(tmp_path):
    # The two kernels differ only in float32 rounding of the sums: after the one rounding to
    # bfloat16, nearly every element is the same, and none is more than one bf16 ulp apart.
    if not _has_bf16_dot():
        pytest.skip("the CPU has no avx512_bf16")
    res = {}
    for mode in ("dot", "widen"):
        env = {k: v for k, v in os.environ.items() if k not in ("GRADCORE_CPU_ISA", "GRADCORE_GEMM_16")}
        if mode == "widen":
            env["GRADCORE_GEMM_16"] = "widen"
        path = tmp_path / f"{mode}.npz"
        run = subprocess.run([sys.executable, "-c", TWIN, str(path)], env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        res[mode] = np.load(path)
    for key in res["dot"].files:
        d, w = res["dot"][key], res["widen"][key]
        ulp = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(w), 1e-30))) - 7)
        assert (np.abs(d - w) <= ulp * 1.0001).all()
        assert np.mean(d == w) > 0.9


def test_gemm16_gradients_match_float32():
    # Linear's backward runs its two products in bf16 too; against float32 on the same values.
    rng = np.random.default_rng(2)
    x32 = rng.standard_normal((16, 40)).astype(np.float32)
    w32 = rng.standard_normal((24, 40)).astype(np.float32)
    outs = {}
    for dt in (gradcore.bfloat16, gradcore.float32):
        x = gradcore.tensor(x32).bfloat16().to(dt).requires_grad_()
        w = gradcore.tensor(w32).bfloat16().to(dt).requires_grad_()
        y = gradcore.nn.functional.linear(x, w)
        y.float().square().sum().backward()
        assert x.grad.dtype == dt and w.grad.dtype == dt
        outs[dt] = (y.detach().float().numpy(), x.grad.float().numpy(), w.grad.float().numpy())
    for got, ref in zip(outs[gradcore.bfloat16], outs[gradcore.float32]):
        # bf16 rounding of y feeds the gradient: a few bf16 ulps
        np.testing.assert_allclose(got, ref, rtol=3e-2, atol=3e-2 * np.abs(ref).max())


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_linear_relu_backward_16_bit_masks_like_float32(name):
    # Linear + ReLU's fused backward (relu_mask_column_sum) selects the gradient where y > 0 on
    # 16-bit bits: the mask and the bias gradient must be float32's on the same values, including
    # y of -0, +0, inf and NaN (produced here through the bias).
    dt = getattr(gradcore, name)
    rng = np.random.default_rng(4)
    x32 = rng.standard_normal((8, 5)).astype(np.float32)
    w32 = rng.standard_normal((6, 5)).astype(np.float32)
    b32 = np.array([0.0, -0.0, np.inf, np.nan, 1e-3, -1e-3], dtype=np.float32)
    g32 = rng.standard_normal((8, 6)).astype(np.float32)
    res = {}
    for d in (dt, gradcore.float32):
        x = gradcore.tensor(x32).to(dt).to(d)
        w = gradcore.tensor(w32).to(dt).to(d).requires_grad_()
        b = gradcore.tensor(b32).to(dt).to(d).requires_grad_()
        y = gradcore.relu(gradcore.nn.functional.linear(x, w, b))
        y16 = y.detach().to(dt)  # the 16-bit forward's values, to rebuild float32's mask from
        y.backward(gradcore.tensor(g32).to(dt).to(d))
        res[d] = (y16.float().numpy(), b.grad.float().numpy(), w.grad.float().numpy())
    y16, y32 = res[dt][0], res[gradcore.float32][0]
    mask16 = y16 > 0
    np.testing.assert_array_equal(mask16, y32 > 0)
    np.testing.assert_array_equal(np.isnan(res[dt][1]), np.isnan(res[gradcore.float32][1]))
    eps = 2.0 ** -7 if name == "bfloat16" else 2.0 ** -10
    ok = ~np.isnan(res[gradcore.float32][1])
    np.testing.assert_allclose(res[dt][1][ok], res[gradcore.float32][1][ok], rtol=4 * eps, atol=4 * eps)
