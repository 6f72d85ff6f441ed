"""The CUDA backend, checked against the CPU backend (itself checked against NumPy and PyTorch).

Tests marked ``cuda`` run every op of the shared op table, larger and odd-shaped cases that reach
the multi-block paths of the GPU kernels, the losses, indexing, random fills, the optimizers, whole
training loops and the Trainer on ``device='cuda'``, and compare values and gradients with the same
computation on the CPU (bfloat16 and float16 products: with the CPU's float32 product of the same
16-bit values). They skip where no GPU is present (``pytest -m cuda`` selects them). The
tests at the end run everywhere: what a build or machine without CUDA answers.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F

from op_cases import CASES
from test_unary import ACTIVATIONS, UNARY, DIFFERENTIABLE, data

cuda = pytest.mark.cuda
rng = np.random.default_rng(4321)
TOL = {np.float32: 2e-5, np.float64: 1e-10}


def sym(*s):
    return rng.standard_normal(size=s)


def pos(*s):
    return rng.uniform(0.5, 2.0, size=s)


def _run(fn, arrays, dtype, diff, device):
    ts = [gradcore.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device,
                          requires_grad=diff and a.dtype.kind == "f") for a in arrays]
    out = fn(gradcore, *ts)
    grads = None
    if diff:
        w = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(dtype)
        out.backward(gradcore.tensor(w, device=device))
        grads = [t.grad for t in ts]
    return out, grads


def _np(t):
    return t.detach().cpu().numpy()


def _same(a, b):
    return np.array_equal(_np(a), _np(b))


def check_against_cpu(fn, arrays, dtype, diff, tol=None):
    tol = TOL[dtype] if tol is None else tol
    c_out, c_grads = _run(fn, arrays, dtype, diff, "cpu")
    g_out, g_grads = _run(fn, arrays, dtype, diff, "cuda")
    assert g_out.device.type == "cuda"
    assert tuple(g_out.shape) == tuple(c_out.shape) and g_out.dtype == c_out.dtype
    np.testing.assert_allclose(_np(g_out), _np(c_out), rtol=tol, atol=tol)
    if diff:
        for i, (gg, cg) in enumerate(zip(g_grads, c_grads)):
            assert (gg is None) == (cg is None), f"input {i}"
            if gg is not None:
                assert gg.device.type == "cuda"
                np.testing.assert_allclose(_np(gg), _np(cg), rtol=tol, atol=tol, err_msg=f"grad of input {i}")


# Beyond the shared table: sizes past one block or one tile, odd shapes, strided operands, the
# integer paths, and every loss and indexing op.
GPU_CASES = {
    "big_broadcast": (lambda m, a, b: (a + b) * a.exp(), [sym(300, 1, 70), sym(200, 1)], True),
    "strided_operands": (lambda m, a, b: a.t()[::2] * b[:, 1::2], [sym(9, 40), sym(20, 18)], True),
    "unary_chain": (lambda m, a: (a.sigmoid() + a.tanh() + a.abs().sqrt() + a.sin() * a.cos()).log1p(), [sym(1000)], True),
    "activations": (lambda m, a: F.gelu(a) + F.gelu(a, approximate="tanh") + F.leaky_relu(a, 0.1) + F.softplus(a),
                    [sym(513)], True),
    "clamp_tensor": (lambda m, a: a.clamp(min=-0.3, max=0.4) * 2, [sym(64, 33)], True),
    "sum_large": (lambda m, a: a.sum(), [sym(123457)], True),
    "sum_dim0_tall": (lambda m, a: a.sum(0), [sym(1000, 37)], True),
    "mean_middle": (lambda m, a: a.mean(1, keepdim=True), [sym(7, 300, 5)], True),
    "var_std": (lambda m, a: a.var(0) + a.std(1).sum() + a.var(), [sym(500, 9)], True),
    "prod_with_zero": (lambda m, a: (a * (a.abs() > 0.3).float()).prod(1), [sym(6, 5)], True),
    "amax_amin": (lambda m, a: a.amax(1) - a.amin(0).sum(), [sym(40, 3000)], True),
    "max_dim_values": (lambda m, a: a.max(0).values + a.min(1, keepdim=True).values.sum(), [sym(65, 129)], True),
    "argmax_big": (lambda m, a: a.argmax(1).float() + a.argmin(0).float().sum(), [sym(33, 2049)], False),
    "norms": (lambda m, a: a.norm() + a.norm(1) + a.norm(3.0) + a.norm(float("inf")) + a.norm(0), [sym(77, 13)], True),
    "matmul_odd": (lambda m, a, b: a @ b, [sym(129, 257), sym(257, 65)], True),
    "matmul_transposed": (lambda m, a, b: a.t() @ b.t(), [sym(70, 33), sym(18, 70)], True),
    "matmul_batched_broadcast": (lambda m, a, b: a @ b, [sym(3, 1, 33, 17), sym(5, 17, 9)], True),
    "matmul_vec": (lambda m, a, b: (a @ b) + (b @ a.t()).sum(), [sym(31, 20), sym(20)], True),
    "linear": (lambda m, x, w, b: F.linear(x, w, b), [sym(64, 100), sym(30, 100), sym(30)], True),
    "linear_relu_chain": (lambda m, x, w1, b1, w2: F.linear(F.relu(F.linear(x, w1, b1)), w2),
                          [sym(50, 20), sym(40, 20), sym(40), sym(7, 40)], True),
    "softmax_wide_rows": (lambda m, a: m.softmax(a, dim=-1) * a, [sym(64, 1000)], True),
    "softmax_inner": (lambda m, a: m.log_softmax(a, dim=1) + m.softmax(a, dim=0), [sym(4, 10, 7)], True),
    "cross_entropy": (lambda m, x: F.cross_entropy(x, m.tensor([1, 0, 9, 3, 3, 7, 2, 8])), [sym(8, 10)], True),
    "cross_entropy_weighted_ignore": (
        lambda m, x: F.cross_entropy(x, m.tensor([1, -100, 4, 3, 0, 4]), weight=m.tensor([0.5, 1.0, 2.0, 1.5, 0.7],
                                     dtype=x.dtype, device=x.device), ignore_index=-100),
        [sym(6, 5)], True),
    "cross_entropy_smoothing_sum": (lambda m, x: F.cross_entropy(x, m.tensor([2, 0, 1]), label_smoothing=0.1,
                                                                 reduction="sum"), [sym(3, 1200)], True),
    "cross_entropy_none_3d": (lambda m, x: F.cross_entropy(x, m.tensor([[0, 2, 1], [3, 3, 0]]), reduction="none"),
                              [sym(2, 4, 3)], True),
    "cross_entropy_probs": (lambda m, x, t: F.cross_entropy(x, t.softmax(1), label_smoothing=0.05), [sym(5, 7), sym(5, 7)], True),
    "nll_loss": (lambda m, x: F.nll_loss(x.log_softmax(1), m.tensor([0, 3, 2, 2])), [sym(4, 6)], True),
    "mse_loss": (lambda m, a, b: F.mse_loss(a, b) + F.mse_loss(a, b, reduction="sum") * 0.1
                 + F.mse_loss(a, b, reduction="none").mean(), [sym(300, 7), sym(300, 7)], True),
    "other_losses": (lambda m, a, b: F.l1_loss(a, b) + F.binary_cross_entropy_with_logits(a, b.sigmoid())
                     + F.binary_cross_entropy(a.sigmoid(), b.sigmoid(), reduction="sum"), [sym(40, 3), sym(40, 3)], True),
    "gather_scatter": (lambda m, a, s: a.gather(1, m.tensor([[0, 2], [1, 1], [3, 0]])).sum()
                       + m.zeros(3, 5, dtype=a.dtype, device=a.device).scatter_add(1, m.tensor([[0, 4], [4, 4], [1, 0]]), s).pow(2).sum(),
                       [sym(3, 4), sym(3, 2)], True),
    "index_select": (lambda m, a: a.index_select(0, m.tensor([2, 0, 2, 1])), [sym(3, 6)], True),
    "index_put_accumulate": (lambda m, a, v: a.clone().index_put_((m.tensor([0, 2, 0, 0]),), v, accumulate=True),
                             [sym(4, 3), sym(4, 3)], True),
    "setitem_mask": (lambda m, a: _setitem_mask(a), [sym(6, 5)], True),
    "masked_fill": (lambda m, a: a.masked_fill(a > 0.5, -1.0) * a, [sym(130, 7)], True),
    "bool_mask_large": (lambda m, a: a[a > 0.1] * 3, [sym(5000)], True),
    "nonzero": (lambda m, a: m.nonzero(a > 0).float(), [sym(7, 9, 3)], False),
    "where_scalar": (lambda m, a: m.where(a > 0, a, 0.5 * a), [sym(257)], True),
    "cat_stack_big": (lambda m, a, b: m.cat([a, b.t()], 0).sum(1) + m.stack([a, a], 2).mean((1, 2)).sum(),
                      [sym(300, 40), sym(40, 100)], True),
    "int_arith": (lambda m, a, b: ((a // b) * 3 + a % b - (a * b) ** 2).float(),
                  [rng.integers(-50, 50, (5, 6)), rng.integers(1, 7, (6,))], False),
    "int_reduce": (lambda m, a: (a.sum(0) + a.prod(1).sum() + a.max()).float(), [rng.integers(-3, 4, (4, 5))], False),
    "bool_ops": (lambda m, a, b: ((a > 0) & (b < 0) | (a > b) ^ (b > 1)).float().sum(0) + (a > 0).any(0).float()
                 + (b > -3).all(1).float().sum(), [sym(30, 20), sym(30, 20)], False),
    "casts": (lambda m, a: a.double().float() + a.long().float() + (a > 0).float(), [sym(99) * 10], False),
    # im2col/col2im kernels and the grouped, batched GEMMs around them (ops/conv.cpp, cuda/conv.cu)
    "conv2d": (lambda m, x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2)), [sym(3, 4, 11, 9), sym(5, 4, 3, 2), sym(5)], True),
    "conv2d_groups_same": (lambda m, x, w: F.conv2d(x, w, None, padding="same", groups=3), [sym(2, 6, 8, 7), sym(9, 2, 4, 3)], True),
    "max_pool2d": (lambda m, x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True) * 2, [sym(3, 5, 17, 13)], True),
    "max_pool2d_overlap": (lambda m, x: F.max_pool2d(x, (3, 2), stride=1, dilation=(1, 2)), [sym(2, 3, 9, 8)], True),
    "conv2d_depthwise": (lambda m, x, w, b: F.conv2d(x, w, b, padding=1, groups=8), [sym(4, 8, 30, 30), sym(8, 1, 3, 3), sym(8)], True),
    "conv_transpose2d": (lambda m, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
                         [sym(2, 4, 7, 6), sym(4, 3, 3, 3), sym(6)], True),
    "unfold_fold": (lambda m, x: F.fold(F.unfold(x, (2, 3), padding=1, stride=(1, 2)) * 1.5, (9, 8), (2, 3), padding=1,
                                        stride=(1, 2)), [sym(2, 3, 9, 8)], True),
    "batch_norm_train": (lambda m, x, w, b: F.batch_norm(x, None, None, w, b, training=True) * x,
                         [sym(4, 3, 5, 6), sym(3), sym(3)], True),
    "batch_norm_eval_1d": (lambda m, x, rm, w: F.batch_norm(x, rm, rm.abs() + 0.5, w, None, training=False),
                           [sym(9, 5), sym(5), sym(5)], True),
    "avg_pool2d": (lambda m, x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
                   + F.avg_pool2d(x, (2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True), [sym(3, 5, 17, 13)], True),
    "avg_pool2d_divisor": (lambda m, x: F.avg_pool2d(x, 2, stride=1, divisor_override=3), [sym(2, 3, 9, 8)], True),
    "adaptive_pools": (lambda m, x: F.adaptive_avg_pool2d(x, (5, 3)) * F.adaptive_max_pool2d(x, (5, 3))
                       + F.adaptive_avg_pool2d(x, 1).mean() + F.adaptive_max_pool2d(x, (13, 11)).sum(), [sym(2, 4, 11, 9)], True),
}


def _setitem_mask(a):
    b = a * 1.0
    b[b < 0] = 0.25
    b[1, :3] = b[2, 2:]
    return b * a


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_op_table_matches_cpu(name, dtype):
    fn, arrays, diff = CASES[name]
    check_against_cpu(fn, arrays, dtype, diff)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(GPU_CASES))
def test_gpu_cases_match_cpu(name, dtype):
    fn, arrays, diff = GPU_CASES[name]
    # float32 reductions over thousands of terms are summed in another order on the GPU
    check_against_cpu(fn, arrays, dtype, diff, tol=1e-4 if dtype == np.float32 else None)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_table_matches_cpu(name, dtype):
    """Every row of the unary op table (tests/test_unary.py), forward and backward, at a size past one block."""
    a = data(UNARY[name][1], (3, 700))
    check_against_cpu(lambda m, t: getattr(t, name)(), [a], dtype, name in DIFFERENTIABLE)
    check_against_cpu(lambda m, t: getattr(t, name)(), [np.arange(-5, 6, dtype=np.int64)], dtype, False, tol=1e-6)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_table_matches_cpu(name, dtype):
    """Every nn.functional activation of tests/test_unary.py, forward and backward."""
    fn = ACTIVATIONS[name][0]
    check_against_cpu(lambda m, t: fn(F, t), [data("any", (3, 700))], dtype, True)


# bfloat16 and float16 products on the GPU (cuBLAS, or gradcore's tensor-core kernel for the
# layouts cuBLAS does not take, and everywhere in a build without cuBLAS), against the same product
# on the CPU in float32 over the same 16-bit values: they differ by the one final rounding to 16
# bits (half a unit in the last place: 2^-9 relative for bfloat16, 2^-12 for float16) and the order
# of the float32 sums, so the tolerance is a fraction of the largest |C|. Odd sizes cross every
# tile edge; 1280 x 2048 has 160 tiles of 128 x 128 (the large block tile on GPUs of up to 160
# SMs), the others run on the 64 x 64 one; transposed and sliced operands reach every staging
# orientation and the strided loads.
HALF_TOL = {"bfloat16": 1e-2, "float16": 2e-3}
HALF_GEMM_CASES = {
    "mm_1x1": (lambda m, a, b: a @ b, [sym(1, 1), sym(1, 1)], True),
    "mm_2x3x5": (lambda m, a, b: m.mm(a, b), [sym(2, 5), sym(5, 3)], True),
    "mm_17x33x65": (lambda m, a, b: a @ b, [sym(17, 65), sym(65, 33)], True),
    "mm_128x256x64": (lambda m, a, b: a @ b, [sym(128, 64), sym(64, 256)], True),
    "mm_k0": (lambda m, a, b: a @ b, [sym(3, 0), sym(0, 4)], False),
    "mm_transposed": (lambda m, a, b: a.t() @ b.t(), [sym(65, 17), sym(33, 65)], True),
    "mm_transposed_a": (lambda m, a, b: a.t() @ b, [sym(72, 40), sym(72, 56)], True),
    "mm_sliced": (lambda m, a, b: a[::2, 1:] @ b[:, 3:], [sym(40, 70), sym(69, 50)], True),
    "mm_sliced_both_dims": (lambda m, a, b: a[1::2, ::3] @ b.t()[::2], [sym(41, 99), sym(37, 66)], True),
    "mv_vm": (lambda m, a, v: m.cat([a @ v, v @ a.t()]), [sym(31, 20), sym(20)], True),
    "bmm": (lambda m, a, b: m.bmm(a, b), [sym(4, 40, 72), sym(4, 72, 24)], True),
    "bmm_transposed": (lambda m, a, b: m.bmm(a.transpose(1, 2), b.transpose(1, 2)), [sym(3, 50, 33), sym(3, 21, 50)], True),
    "matmul_batched_broadcast": (lambda m, a, b: a @ b, [sym(3, 1, 33, 17), sym(5, 17, 9)], True),
    "matmul_3d_2d": (lambda m, a, b: a @ b, [sym(6, 37, 50), sym(50, 70)], True),
    "linear_bias": (lambda m, x, w, b: F.linear(x, w, b), [sym(64, 100), sym(30, 100), sym(30)], True),
    "linear_3d": (lambda m, x, w, b: F.linear(x, w, b), [sym(4, 9, 100), sym(33, 100), sym(33)], True),
    "linear_relu": (lambda m, x, w, b: F.relu(F.linear(x, w, b)), [sym(70, 48), sym(90, 48), sym(90)], False),
    "linear_relu_fused": (lambda m, x, w, b: m._C._linear_relu(x, w, b), [sym(70, 48), sym(90, 48), sym(90)], False),
    "large_tiles": (lambda m, a, b: a @ b, [sym(1280, 264), sym(264, 2048)], False),
    "large_tiles_transposed": (lambda m, a, b: a.t() @ b.t(), [sym(72, 1300), sym(1500, 72)], False),
}


def _half_leaves(arrays, dtype, device, diff):
    """The arrays rounded once to `dtype`, as leaves on `device` in that dtype and on the CPU in float32."""
    dt = getattr(gradcore, dtype)
    vals = [gradcore.tensor(a.astype(np.float32)).to(dt).float().numpy() for a in arrays]
    half = [gradcore.tensor(v, dtype=dt, device=device, requires_grad=diff) for v in vals]
    wide = [gradcore.tensor(v, requires_grad=diff) for v in vals]
    return half, wide


def _close_to_max(got, want, tol, what):
    got = got.detach().float().cpu().numpy()
    want = want.detach().numpy()
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * float(np.abs(want).max(initial=0.0)), err_msg=what)


def check_half_against_float32(fn, arrays, dtype, diff, device="cuda"):
    tol = HALF_TOL[dtype]
    half, wide = _half_leaves(arrays, dtype, device, diff)
    out, ref = fn(gradcore, *half), fn(gradcore, *wide)
    assert out.device.type == device and out.dtype == getattr(gradcore, dtype)
    _close_to_max(out, ref, tol, "value")
    if diff:
        g = gradcore.tensor(np.random.default_rng(7).standard_normal(tuple(ref.shape)).astype(np.float32))
        g = g.to(out.dtype).float()  # the same output gradient on both sides
        out.backward(g.to(out.dtype).to(device))
        ref.backward(g)
        for i, (h, w) in enumerate(zip(half, wide)):
            # a gradient of a broadcast operand or a bias also sums 16-bit products: a second rounding
            _close_to_max(h.grad, w.grad, 3 * tol, f"grad of input {i}")


@cuda
@pytest.mark.parametrize("dtype", list(HALF_TOL))
@pytest.mark.parametrize("name", list(HALF_GEMM_CASES))
def test_half_gemm_matches_float32(name, dtype):
    fn, arrays, diff = HALF_GEMM_CASES[name]
    check_half_against_float32(fn, arrays, dtype, diff)


def check_half_gemm_into(dtype, device="cuda"):
    """The raw GEMM entry: out = alpha * a @ b + beta * out with out column-major (the kernel then
    works on out^T) or batched with a broadcast a; beta == 0 must not read out (NaN there)."""
    dt, tol = getattr(gradcore, dtype), HALF_TOL[dtype]
    for (m_, k_, n_), batch, alpha, beta in (((33, 47, 65), 0, 0.5, 2.0), ((130, 40, 70), 0, -1.0, 0.0),
                                               ((17, 65, 33), 3, 1.5, 0.25), ((64, 64, 64), 2, 1.0, 0.0)):
        a, b, c = sym(m_, k_), sym(k_, n_), sym(m_, n_)
        if batch:
            a, b, c = a[None], np.stack([sym(k_, n_) for _ in range(batch)]), np.stack([c] * batch)
        (ha, hb, hc), (wa, wb, wc) = _half_leaves([a, b, c], dtype, device, False)
        if beta == 0:
            hc.fill_(float("nan"))
        if batch:
            out = hc
        else:
            out = gradcore.empty(n_, m_, dtype=dt, device=device).t()  # column-major
            out.copy_(hc)
        gradcore._C._gemm_into(out, ha, hb, alpha, beta)
        gradcore._C._gemm_into(wc, wa, wb, alpha, beta)
        assert not np.isnan(out.float().cpu().numpy()).any()
        _close_to_max(out, wc, tol, f"{m_}x{k_}x{n_} batch {batch}")


@cuda
@pytest.mark.parametrize("dtype", list(HALF_TOL))
def test_half_gemm_into_alpha_beta_and_column_major_out(dtype):
    check_half_gemm_into(dtype)


@cuda
def test_own_gemm_kernels_without_cublas():
    """GRADCORE_CUBLAS=0 keeps matmul off cuBLAS (where the build has it): the 16-bit products above
    once more, all through gradcore's tensor-core kernel, and the float32/float64 products of the
    GPU cases through its tiled kernel."""
    env = dict(os.environ, GRADCORE_CUBLAS="0")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", os.path.abspath(__file__),
                        "-k", "half_gemm or (gpu_cases and (matmul or linear))"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_fills_repeat_the_cpu_streams(dtype):
    dt = gradcore.float32 if dtype == np.float32 else gradcore.float64
    for fill in (lambda d: gradcore.rand(1000, 3, dtype=dt, device=d),
                 lambda d: gradcore.randn(4097, dtype=dt, device=d),
                 lambda d: gradcore.randint(-5, 9, (333,), device=d).to(dt),
                 lambda d: nn.init.kaiming_uniform_(gradcore.empty(64, 31, dtype=dt, device=d))):
        gradcore.manual_seed(11)
        c = fill("cpu")
        gradcore.manual_seed(11)
        g = fill("cuda")
        np.testing.assert_allclose(_np(g), _np(c), rtol=1e-6, atol=1e-6)
    gradcore.cuda.manual_seed(3)
    a = gradcore.rand(10, device="cuda")
    gradcore.cuda.manual_seed(3)
    assert _same(a, gradcore.rand(10, device="cuda"))


@cuda
def test_creation_on_device():
    for t in (gradcore.zeros(3, 4, device="cuda"), gradcore.ones(5, device="cuda:0"), gradcore.full((2, 2), 7.0, device="cuda"),
              gradcore.arange(0, 10, 3, device="cuda"), gradcore.linspace(0, 1, 7, device="cuda"),
              gradcore.eye(3, 4, device="cuda"), gradcore.empty(0, 3, device="cuda")):
        assert t.device == gradcore.device("cuda:0") and t.is_cuda
    assert gradcore.arange(0, 10, 3, device="cuda").tolist() == [0, 3, 6, 9]
    np.testing.assert_allclose(_np(gradcore.linspace(0, 1, 7, device="cuda")), np.linspace(0, 1, 7), rtol=1e-6)
    assert gradcore.eye(3, device="cuda").sum().item() == 3.0
    x = gradcore.tensor([[1.5, 2.5]], device="cuda")
    assert x.tolist() == [[1.5, 2.5]] and x[0, 1].item() == 2.5 and float(x.sum()) == 4.0
    assert "device='cuda:0'" in repr(x)


@cuda
def test_moves_copies_and_their_gradients():
    a = gradcore.randn(4, 5, dtype=gradcore.float64, requires_grad=True)
    b = a.to("cuda")
    assert b.device.type == "cuda" and b.grad_fn is not None
    (b * b).sum().backward()
    assert a.grad.device.type == "cpu"
    np.testing.assert_allclose(a.grad.numpy(), 2 * a.detach().numpy())
    # non-contiguous sources and destinations, dtype changes on the way
    src = gradcore.randn(6, 8)
    dst = gradcore.zeros(8, 6, dtype=gradcore.float64, device="cuda")
    dst.t().copy_(src)
    np.testing.assert_allclose(_np(dst).T, src.numpy(), rtol=1e-7)
    back = gradcore.zeros(6, 8)
    back[:, ::2].copy_(dst.t()[:, ::2])
    np.testing.assert_allclose(back.numpy()[:, ::2], src.numpy()[:, ::2])
    assert (back.numpy()[:, 1::2] == 0).all()
    assert a.cuda().cpu().device.type == "cpu" and _same(a.cuda().cpu(), a)
    # a 0-dim CPU tensor meets a CUDA tensor, as in PyTorch
    s = gradcore.tensor(2.0)
    assert (gradcore.ones(3, device="cuda") * s).device.type == "cuda"


@cuda
def test_pinned_host_memory():
    t = gradcore.randn(5, 3)
    p = t.t().pin_memory()
    assert p.is_pinned() and not t.is_pinned() and _same(p, t.t())
    assert _same(p.cuda().cpu(), t.t())
    with pytest.raises(RuntimeError, match="only CPU tensors"):
        p.cuda().pin_memory()


@cuda
def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        gradcore.ones(3, device="cuda") + gradcore.ones(3)
    with pytest.raises(RuntimeError, match="device"):
        gradcore.ones(2, 3, device="cuda") @ gradcore.ones(3, 2)
    with pytest.raises(TypeError, match="cpu"):
        gradcore.ones(2, device="cuda").numpy()
    with pytest.raises(RuntimeError, match="cuda:99"):
        gradcore.zeros(2, device="cuda:99")


@cuda
def test_index_errors_are_python_errors_on_the_gpu():
    x = gradcore.randn(5, device="cuda")
    with pytest.raises(IndexError, match="out of bounds"):
        x[gradcore.tensor([0, 7], device="cuda")]
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(gradcore.randn(2, 3, device="cuda"), gradcore.tensor([0, 3], device="cuda"))
    assert np.isfinite(x.sum().item())  # the device is still usable


def _mlp(seed):
    gradcore.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 5))


OPTIMIZERS = {
    "sgd": lambda p: gradcore.optim.SGD(p, lr=0.1),
    "sgd_momentum_nesterov_wd": lambda p: gradcore.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: gradcore.optim.Adam(p, lr=1e-2),
    "adam_amsgrad": lambda p: gradcore.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda p: gradcore.optim.AdamW(p, lr=1e-2),
    "rmsprop_centered_momentum": lambda p: gradcore.optim.RMSprop(p, lr=1e-3, centered=True, momentum=0.5),
    "adagrad": lambda p: gradcore.optim.Adagrad(p, lr=0.1, lr_decay=1e-3),
}


def _train(device, make_opt, dtype, steps=8):
    model = _mlp(0).to(dtype).to(device)
    opt = make_opt(model.parameters())
    sched = gradcore.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    data = np.random.default_rng(5)
    losses = []
    for _ in range(steps):
        x = gradcore.tensor(data.standard_normal((32, 20)), dtype=dtype, device=device)
        y = gradcore.tensor(data.integers(0, 5, 32), device=device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


@cuda
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_loop_matches_cpu(name):
    c_losses, c_params = _train("cpu", OPTIMIZERS[name], gradcore.float64)
    g_losses, g_params = _train("cuda", OPTIMIZERS[name], gradcore.float64)
    np.testing.assert_allclose(g_losses, c_losses, rtol=1e-9)
    for g, c in zip(g_params, c_params):
        np.testing.assert_allclose(g, c, rtol=1e-8, atol=1e-10)
    c_losses, _ = _train("cpu", OPTIMIZERS[name], gradcore.float32)
    g_losses, _ = _train("cuda", OPTIMIZERS[name], gradcore.float32)
    np.testing.assert_allclose(g_losses, c_losses, rtol=1e-4)


@cuda
def test_trainer_runs_on_the_gpu(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _mlp(1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            assert x.is_cuda and y.is_cuda
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            return {"loss": F.cross_entropy(self.net(x), y)}

        def configure_optimizers(self):
            return gradcore.optim.Adam(self.parameters(), lr=1e-2)

    data = gradcore.utils.data.TensorDataset(gradcore.randn(128, 20), gradcore.randint(0, 5, (128,)))
    loader = gradcore.utils.data.DataLoader(data, batch_size=32, pin_memory=True)
    model = Net()
    trainer = gradcore.Trainer(max_epochs=3, enable_progress_bar=False, accelerator="gpu", default_root_dir=tmp_path)
    trainer.fit(model, loader, loader)
    assert all(p.is_cuda for p in model.parameters())
    assert trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]


@cuda
def test_checkpoint_round_trip_from_the_gpu(tmp_path):
    model = _mlp(2).cuda()
    path = tmp_path / "m.pt"
    gradcore.save(model.state_dict(), path)
    on_cpu = gradcore.load(path, map_location="cpu")
    on_gpu = gradcore.load(path)
    for k, v in model.state_dict().items():
        assert on_gpu[k].is_cuda and not on_cpu[k].is_cuda
        np.testing.assert_array_equal(on_cpu[k].numpy(), _np(v))


@cuda
def test_allocator_reuses_blocks_and_frees_everything():
    gradcore.cuda.synchronize()
    base = gradcore.cuda.memory_allocated()
    for _ in range(3):
        x = gradcore.randn(1024, 1024, device="cuda")
        y = (x @ x).relu().sum()
        del x, y
    assert gradcore.cuda.memory_allocated() == base
    assert gradcore.cuda.max_memory_allocated() >= base + 4 * 1024 * 1024
    stats = gradcore._C._cuda_memory_stats(0)
    assert stats["cache_hits"] > 0
    gradcore.cuda.empty_cache()
    assert gradcore.cuda.memory_reserved() >= gradcore.cuda.memory_allocated()


@cuda
def test_out_of_memory_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        gradcore.empty(1 << 45, device="cuda")
    assert gradcore.ones(4, device="cuda").sum().item() == 4.0


# ---- everywhere: what a machine without a GPU (or a build without CUDA) answers ----

def test_device_queries_answer_without_a_gpu():
    assert isinstance(gradcore.cuda.is_built(), bool)
    assert gradcore.cuda.is_available() == (gradcore.cuda.device_count() > 0)
    assert gradcore.accelerator.is_available() == gradcore.cuda.is_available()
    gradcore.cuda.manual_seed(0)  # harmless everywhere, as in PyTorch
    gradcore.cuda.manual_seed_all(0)
    gradcore.cuda.empty_cache()


@pytest.mark.skipif(gradcore.cuda.is_available(), reason="checks the answers of a machine without a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    # As PyTorch: a build without CUDA raises AssertionError ("not compiled with CUDA"); a CUDA build
    # on a machine without a GPU or driver raises RuntimeError.
    exc = RuntimeError if gradcore._C._cuda_built else AssertionError
    with pytest.raises(exc, match="cuda.*not available.*is_available"):
        gradcore.zeros(2, device="cuda")
    with pytest.raises(exc, match="is_available"):
        gradcore.ones(2).cuda()
    with pytest.raises(exc, match="is_available"):
        gradcore.ones(2).to("cuda:0")
    with pytest.raises(exc, match="is_available"):
        gradcore.tensor([1.0], device="cuda")
    with pytest.raises(exc, match="is_available"):
        nn.Linear(2, 2).cuda()
    with pytest.raises(exc, match="gradcore.cuda.synchronize"):
        gradcore.cuda.synchronize()
    with pytest.raises(RuntimeError, match="accelerator='auto'"):
        gradcore.Trainer(accelerator="gpu")
    assert gradcore.Trainer(accelerator="auto").device == gradcore.device("cpu")
    assert gradcore.accelerator.current_accelerator() is None


def test_kernel_arguments_are_evaluated_once():
    # A random fill reserves its counters in the call that dispatches the kernel: the generator
    # must advance by exactly the draws made (n for rand, 2n for randn), in every build.
    gen = gradcore.default_generator
    gradcore.manual_seed(0)
    offset = lambda: int.from_bytes(bytes(gen.get_state()[8:].tolist()), "little")  # noqa: E731
    gradcore.rand(7)
    assert offset() == 7
    gradcore.randn(5)
    assert offset() == 7 + 10
    gradcore.manual_seed(0)
    first = gradcore.randn(3).tolist()
    gradcore.manual_seed(0)
    assert gradcore.randn(3).tolist() == first


def test_trainer_rejects_an_unknown_accelerator():
    with pytest.raises(ValueError, match="accelerator"):
        gradcore.Trainer(accelerator="tpu")
