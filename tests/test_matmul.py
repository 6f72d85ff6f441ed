"""matmul, mm, bmm, linear and the blocked GEMM behind them: values vs NumPy and a naive triple
loop (the slow twin), every rank combination, strided operands, the threaded path, gradients by
finite differences, errors, and parity with PyTorch."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn

_C = gradcore._C


def randn(*shape, dtype=np.float64):
    return np.asarray(np.random.randn(*shape)).astype(dtype)


def take(t, *idx):
    """t[idx] for ints and slices, through select/_slice so these tests do not depend on
    __getitem__; NumPy arrays are indexed directly."""
    if isinstance(t, np.ndarray):
        return t[idx]
    dim = 0
    for s in idx:
        if isinstance(s, int):
            t = t.select(dim, s)
        else:
            start, stop, step = s.indices(t.shape[dim])
            t = t._slice(dim, start, stop, step)
            dim += 1
    return t


def naive_matmul(a, b):
    """C[i, j] = sum_k A[i, k] * B[k, j], one multiply-add at a time, in float64."""
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            s = 0.0
            for p in range(k):
                s += float(a[i, p]) * float(b[p, j])
            c[i, j] = s
    return c


# Every rank combination torch.matmul accepts, with batch broadcasting.
RANK_PAIRS = [
    ((5,), (5,)),             # dot -> 0-dim
    ((5,), (5, 3)),           # row vector @ matrix -> [3]
    ((4, 5), (5,)),           # matrix @ vector -> [4]
    ((4, 5), (5, 3)),         # mm
    ((5,), (2, 5, 3)),        # vector @ batch -> [2, 3]
    ((2, 4, 5), (5,)),        # batch @ vector -> [2, 4]
    ((2, 4, 5), (5, 3)),      # batch @ matrix (folds into one GEMM)
    ((4, 5), (2, 5, 3)),      # matrix @ batch
    ((2, 4, 5), (2, 5, 3)),   # bmm
    ((2, 1, 4, 5), (3, 5, 3)),  # broadcast batch dims -> [2, 3, 4, 3]
    ((1, 4, 5), (6, 5, 3)),   # batch of 1 broadcasts
    ((3, 2, 4, 5), (5,)),     # 4-D @ vector
    ((5,), (3, 2, 5, 1)),
]


@pytest.mark.parametrize("sa,sb", RANK_PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ranks_match_numpy(sa, sb, dtype):
    a, b = randn(*sa, dtype=dtype), randn(*sb, dtype=dtype)
    expected = np.matmul(a, b)
    for got in (gradcore.tensor(a) @ gradcore.tensor(b), gradcore.matmul(gradcore.tensor(a), gradcore.tensor(b)),
                gradcore.tensor(a).matmul(gradcore.tensor(b))):
        assert tuple(got.shape) == expected.shape
        assert got.dtype == gradcore.tensor(a).dtype
        assert_close(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 7, 1), (7, 1, 7), (129, 1000, 17), (1000, 17, 129), (6, 16, 8),
                                   (13, 257, 31), (145, 3, 1030), (1, 300, 129), (129, 300, 1), (2, 2, 2)])
def test_odd_shapes_match_numpy(m, k, n):
    a, b = randn(m, k, dtype=np.float32), randn(k, n, dtype=np.float32)
    got = gradcore.tensor(a) @ gradcore.tensor(b)
    assert_close(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    assert_close(gradcore.tensor(a.astype(np.float64)) @ gradcore.tensor(b.astype(np.float64)),
                 a.astype(np.float64) @ b, rtol=1e-12, atol=1e-12)


# Shapes that cross every blocking edge of the packed kernel: MR = 6 rows, NR = 4..16 columns,
# KC = 256 depth, MC = 144 rows, NC = 256 (float64) columns; plus 1-wide vector shapes.
@pytest.mark.parametrize("m,k,n", [(7, 300, 19), (150, 5, 3), (2, 3, 520), (13, 1, 9), (1, 33, 5), (5, 33, 1),
                                   (6, 256, 8), (12, 257, 17)])
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
def test_blocked_kernel_vs_naive_triple_loop(m, k, n, layout):
    a = randn(k, m).T if layout[0] == "t" else randn(m, k)
    b = randn(n, k).T if layout[1] == "t" else randn(k, n)
    ta = gradcore.tensor(a.T).t() if layout[0] == "t" else gradcore.tensor(a)
    tb = gradcore.tensor(b.T).t() if layout[1] == "t" else gradcore.tensor(b)
    assert ta.is_contiguous() == (layout[0] == "n" or m == 1 or k == 1)
    assert_close(ta @ tb, naive_matmul(a, b), rtol=1e-12, atol=1e-12)


def test_baseline_kernel_without_avx2():
    # The portable (SSE2) kernel is what machines without AVX2 run; force it in a child process.
    script = """
import numpy as np, gradcore
rng = np.random.default_rng(1)
for dt, tol in ((np.float32, 1e-4), (np.float64, 1e-12)):
    for m, k, n in ((7, 300, 19), (150, 5, 3), (2, 3, 1030), (13, 1, 9), (145, 257, 33)):
        a = rng.standard_normal((m, k)).astype(dt)
        b = rng.standard_normal((n, k)).astype(dt)
        got = (gradcore.tensor(a) @ gradcore.tensor(b).t()).numpy()
        np.testing.assert_allclose(got, a.astype(np.float64) @ b.T, rtol=tol, atol=tol * 30)
print("ok")
"""
    env = dict(os.environ, GRADCORE_CPU_ISA="baseline")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_non_contiguous_operands():
    a = randn(20, 30)
    b = randn(30, 40)
    ta, tb = gradcore.tensor(a), gradcore.tensor(b)
    S = slice
    cases = [
        (lambda x, y: take(x, S(None, None, 2), S(1, None, 3)) @ take(y, S(None, 10), S(None, None, 4))),
        (lambda x, y: y.T @ x.T),
        (lambda x, y: take(x, 3) @ take(y, S(None), S(None, None, 3))),  # strided vector @ strided matrix
        (lambda x, y: take(y, S(None), 5) @ take(x.T, S(None), S(None, None, 2))),
        (lambda x, y: take(x, S(None, None, 2), 4) @ take(y, S(None, None, 3), 7)),  # dot of strided vectors
    ]
    for f in cases:
        got = f(ta, tb)
        assert not got.grad_fn
        assert_close(got, f(a, b), rtol=1e-12, atol=1e-12)


def test_batched_strided_and_expanded_operands():
    a = randn(4, 6, 5, 7)
    b = randn(7, 3)
    ta, tb = gradcore.tensor(a), gradcore.tensor(b)
    # A permuted batch cannot fold into rows; a sliced batch cannot flatten into one batch dim.
    assert_close(ta.permute(1, 0, 2, 3) @ tb, a.transpose(1, 0, 2, 3) @ b, rtol=1e-12, atol=1e-12)
    every2 = slice(None, None, 2)
    assert_close(take(ta, slice(None), every2) @ tb, a[:, ::2] @ b, rtol=1e-12, atol=1e-12)
    bb = randn(6, 7, 3)
    assert_close(take(ta, slice(None), every2) @ take(gradcore.tensor(bb), every2), a[:, ::2] @ bb[::2],
                 rtol=1e-12, atol=1e-12)
    # Expanded batches (stride 0) are read in place, and broadcast against each other.
    e = gradcore.tensor(randn(1, 5, 7)).expand(6, 5, 7)
    assert_close(e @ gradcore.tensor(bb), e.numpy() @ bb, rtol=1e-12, atol=1e-12)
    e2 = gradcore.tensor(randn(2, 1, 5, 7)).expand(2, 3, 5, 7)
    f2 = gradcore.tensor(randn(3, 1, 7, 4)).expand(3, 2, 7, 4).permute(1, 0, 2, 3)
    assert_close(e2 @ f2, e2.numpy() @ f2.numpy(), rtol=1e-12, atol=1e-12)
    # A transposed batch of matrices.
    assert_close(ta.transpose(-1, -2) @ ta, a.transpose(0, 1, 3, 2) @ a, rtol=1e-12, atol=1e-12)


def test_int64_is_exact_and_stays_int64():
    a = np.random.randint(-50, 50, size=(7, 9))
    b = np.random.randint(-50, 50, size=(9, 5))
    got = gradcore.tensor(a) @ gradcore.tensor(b)
    assert got.dtype == gradcore.int64
    np.testing.assert_array_equal(got.numpy(), a @ b)
    np.testing.assert_array_equal(gradcore.mm(gradcore.tensor(a), gradcore.tensor(b)).numpy(), a @ b)
    x = np.random.randint(-9, 9, size=(3, 4, 9))
    np.testing.assert_array_equal((gradcore.tensor(x) @ gradcore.tensor(b)).numpy(), x @ b)
    np.testing.assert_array_equal((gradcore.tensor(a[0]) @ gradcore.tensor(a[1])).numpy(), a[0] @ a[1])
    np.testing.assert_array_equal((gradcore.tensor(a).t() @ take(gradcore.tensor(a), slice(None), 1)).numpy(), a.T @ a[:, 1])
    assert (gradcore.tensor([[1, 2], [3, 4]]) @ gradcore.tensor([[5, 6], [7, 8]])).tolist() == [[19, 22], [43, 50]]


def test_empty_products():
    assert tuple((gradcore.zeros(0, 3) @ gradcore.zeros(3, 4)).shape) == (0, 4)
    z = gradcore.ones(3, 0) @ gradcore.ones(0, 4)  # K == 0: a sum over nothing is 0
    assert tuple(z.shape) == (3, 4) and z.numpy().tolist() == [[0.0] * 4] * 3
    assert (gradcore.ones(0) @ gradcore.ones(0)).item() == 0.0
    assert tuple((gradcore.ones(2, 0, 3, 4) @ gradcore.ones(4, 5)).shape) == (2, 0, 3, 5)
    assert tuple((gradcore.ones(0, 3, 4) @ gradcore.ones(1, 4, 5)).shape) == (0, 3, 5)
    assert (gradcore.ones(3, 0, dtype=gradcore.int64) @ gradcore.ones(0, 2, dtype=gradcore.int64)).tolist() == [[0, 0]] * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_path_matches_single_thread_bitwise(dtype):
    # Each element accumulates its K slices in the same order however C is tiled, so the result
    # does not depend on the thread count.
    a, b = randn(300, 400, dtype=dtype), randn(400, 500, dtype=dtype)
    x, y = randn(8, 70, 90, dtype=dtype), randn(8, 90, 60, dtype=dtype)
    v = randn(4000, dtype=dtype)
    m = randn(4000, 300, dtype=dtype)
    cases = [(a, b), (x, y), (v, m), (m.T, v)]
    old = gradcore.get_num_threads()
    try:
        gradcore.set_num_threads(1)
        single = [(gradcore.tensor(p) @ gradcore.tensor(q)).numpy() for p, q in cases]
        gradcore.set_num_threads(4)
        multi = [(gradcore.tensor(p) @ gradcore.tensor(q)).numpy() for p, q in cases]
    finally:
        gradcore.set_num_threads(old)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for (p, q), s, t in zip(cases, single, multi):
        np.testing.assert_array_equal(s, t)
        np.testing.assert_allclose(s, p.astype(np.float64) @ q, rtol=tol, atol=tol * 30)


def test_int64_threaded():
    a = np.random.randint(-1000, 1000, size=(200, 300))
    b = np.random.randint(-1000, 1000, size=(300, 250))
    old = gradcore.get_num_threads()
    try:
        gradcore.set_num_threads(3)
        np.testing.assert_array_equal((gradcore.tensor(a) @ gradcore.tensor(b)).numpy(), a @ b)
    finally:
        gradcore.set_num_threads(old)


def test_gemm_into_alpha_beta_and_strided_out():
    a, b, c = randn(9, 11), randn(11, 13), randn(9, 13)
    out = gradcore.tensor(c)
    _C._gemm_into(out, gradcore.tensor(a), gradcore.tensor(b), 0.5, 2.0)
    assert_close(out, 0.5 * a @ b + 2.0 * c, rtol=1e-12, atol=1e-12)
    # beta == 0 never reads out: NaN there must not leak into the result.
    nan_out = gradcore.full((9, 13), float("nan"), dtype=gradcore.float64)
    _C._gemm_into(nan_out, gradcore.tensor(a), gradcore.tensor(b), 1.0, 0.0)
    assert_close(nan_out, a @ b, rtol=1e-12, atol=1e-12)
    # A transposed output view.
    big = gradcore.zeros(13, 9, dtype=gradcore.float64)
    _C._gemm_into(big.t(), gradcore.tensor(a), gradcore.tensor(b), 1.0, 0.0)
    assert_close(big, (a @ b).T, rtol=1e-12, atol=1e-12)
    # Batched, with a batch of 1 broadcasting.
    x, y = randn(3, 4, 5), randn(1, 5, 6)
    o = gradcore.zeros(3, 4, 6, dtype=gradcore.float64)
    _C._gemm_into(o, gradcore.tensor(x), gradcore.tensor(y), 1.0, 1.0)
    assert_close(o, x @ y, rtol=1e-12, atol=1e-12)
    # K == 0 with beta: out = beta * out.
    e = gradcore.ones(2, 3, dtype=gradcore.float64)
    _C._gemm_into(e, gradcore.ones(2, 0, dtype=gradcore.float64), gradcore.ones(0, 3, dtype=gradcore.float64), 1.0, 3.0)
    assert e.numpy().tolist() == [[3.0] * 3] * 2


def test_gemm_into_rejects_bad_outputs():
    i = gradcore.ones(2, 2, dtype=gradcore.int64)
    with pytest.raises(RuntimeError, match="alpha and beta must be integers"):
        _C._gemm_into(gradcore.zeros(2, 2, dtype=gradcore.int64), i, i, 0.5, 0.0)
    a = gradcore.ones(2, 3)
    with pytest.raises(RuntimeError, match="shares memory"):
        _C._gemm_into(take(a, slice(None), slice(None, 2)), a, gradcore.ones(3, 2))
    with pytest.raises(RuntimeError, match="stride 0"):
        _C._gemm_into(gradcore.zeros(1, 2).expand(2, 2), a, gradcore.ones(3, 2))
    with pytest.raises(RuntimeError, match="do not fit"):
        _C._gemm_into(gradcore.zeros(2, 5), a, gradcore.ones(3, 2))
    with pytest.raises(RuntimeError, match="all 2-D or all 3-D"):
        _C._gemm_into(gradcore.zeros(2), a, gradcore.ones(3, 2))


def test_mm_and_bmm():
    a, b = randn(4, 5), randn(5, 6)
    assert_close(gradcore.mm(gradcore.tensor(a), gradcore.tensor(b)), a @ b, rtol=1e-12, atol=1e-12)
    assert_close(gradcore.tensor(a).mm(gradcore.tensor(b)), a @ b, rtol=1e-12, atol=1e-12)
    x, y = randn(3, 4, 5), randn(3, 5, 2)
    assert_close(gradcore.bmm(gradcore.tensor(x), gradcore.tensor(y)), x @ y, rtol=1e-12, atol=1e-12)
    assert_close(gradcore.tensor(x).bmm(gradcore.tensor(y)), x @ y, rtol=1e-12, atol=1e-12)
    assert gradcore.mm(gradcore.tensor(a), mat2=gradcore.tensor(b)).shape == (4, 6)
    assert gradcore.matmul(input=gradcore.tensor(a), other=gradcore.tensor(b)).shape == (4, 6)


# ---- gradients ----

GRAD_PAIRS = RANK_PAIRS + [((3, 4), (2, 4, 3)), ((2, 3, 1, 4), (1, 4, 2))]


@pytest.mark.parametrize("sa,sb", GRAD_PAIRS)
def test_matmul_gradients(sa, sb):
    gradcheck_fn(lambda a, b: a @ b, randn(*sa), randn(*sb))


def test_gradients_through_strided_views_and_mm_bmm():
    gradcheck_fn(lambda a, b: a.t() @ take(b, slice(None), slice(None, None, 2)), randn(5, 4), randn(5, 6))
    gradcheck_fn(lambda a, b: a.transpose(-1, -2) @ b.expand(3, 4, 2), randn(3, 4, 4), randn(1, 4, 2))
    gradcheck_fn(lambda a, b: gradcore.mm(a, b), randn(3, 4), randn(4, 2))
    gradcheck_fn(lambda a, b: gradcore.bmm(a, b), randn(2, 3, 4), randn(2, 4, 5))
    gradcheck_fn(lambda a: a @ a, randn(4, 4))  # the same tensor on both sides


def test_gradient_dtypes_shapes_and_node_names():
    a = gradcore.randn(2, 3, 4, requires_grad=True)
    w = gradcore.randn(4, 5, requires_grad=True)
    out = a @ w
    assert out.grad_fn.name() == "BmmBackward0"
    out.sum().backward()
    assert a.grad.dtype == gradcore.float32 and tuple(a.grad.shape) == (2, 3, 4)
    assert tuple(w.grad.shape) == (4, 5)
    assert_close(w.grad, a.detach().numpy().reshape(-1, 4).T @ np.ones((6, 5)), rtol=1e-5, atol=1e-5)
    v = gradcore.randn(3, requires_grad=True)
    assert (v @ v).grad_fn.name() == "DotBackward0"
    assert (gradcore.randn(2, 3) @ v).grad_fn.name() == "MvBackward0"
    assert (gradcore.randn(2, 3, requires_grad=True) @ gradcore.randn(3, 2)).grad_fn.name() == "MmBackward0"
    # Only the input that requires grad gets one; int64 products record nothing.
    b = gradcore.randn(3, 2)
    (gradcore.randn(2, 3, requires_grad=True) @ b).sum().backward()
    assert b.grad is None
    assert (gradcore.ones(2, 2, dtype=gradcore.int64) @ gradcore.ones(2, 2, dtype=gradcore.int64)).grad_fn is None
    with gradcore.no_grad():
        assert (a @ w).grad_fn is None


def test_gradients_of_empty_products():
    a = gradcore.zeros(3, 0, requires_grad=True)
    b = gradcore.zeros(0, 4, requires_grad=True)
    (a @ b).sum().backward()
    assert tuple(a.grad.shape) == (3, 0) and tuple(b.grad.shape) == (0, 4)
    x = gradcore.zeros(2, 5, 0, requires_grad=True)
    w = gradcore.zeros(0, 3, requires_grad=True)
    (x @ w).sum().backward()
    assert tuple(x.grad.shape) == (2, 5, 0) and tuple(w.grad.shape) == (0, 3)
    x = gradcore.randn(4, 3, requires_grad=True)
    w = gradcore.randn(0, 3, requires_grad=True)
    b = gradcore.randn(0, requires_grad=True)
    y = _C._linear(x, w, b)
    assert tuple(y.shape) == (4, 0)
    y.sum().backward()
    assert x.grad.numpy().tolist() == [[0.0] * 3] * 4
    assert tuple(w.grad.shape) == (0, 3) and tuple(b.grad.shape) == (0,)


def test_inplace_change_of_a_saved_input_is_caught():
    a = gradcore.randn(3, 3, requires_grad=True)
    b = gradcore.randn(3, 3)
    out = a @ b
    with gradcore.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---- linear ----

def np_linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


@pytest.mark.parametrize("xs", [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_values_and_gradients(xs, bias):
    x, w, b = randn(*xs), randn(5, 4), randn(5)
    args = (x, w, b) if bias else (x, w)
    got = _C._linear(*(gradcore.tensor(t) for t in args))
    assert_close(got, np_linear(*args), rtol=1e-12, atol=1e-12)
    if bias:
        gradcheck_fn(lambda x, w, b: _C._linear(x, w, b), *args)
    else:
        gradcheck_fn(lambda x, w: _C._linear(x, w), *args)


def test_linear_one_fused_node_and_layouts():
    x = gradcore.randn(6, 4, requires_grad=True)
    w = gradcore.randn(3, 4, requires_grad=True)
    b = gradcore.randn(3, requires_grad=True)
    y = _C._linear(x, w, b)
    assert y.grad_fn.name() == "LinearBackward0"
    assert len(y.grad_fn.next_functions) == 3
    # Non-contiguous input and weight, a bias that broadcasts from 2-D or 0-dim.
    xn, wn = randn(4, 6), randn(4, 3)
    assert_close(_C._linear(gradcore.tensor(xn).t(), gradcore.tensor(wn).t()), xn.T @ wn, rtol=1e-12, atol=1e-12)
    gradcheck_fn(lambda x, w, b: _C._linear(x.t(), w, b), randn(4, 6), randn(3, 4), randn(6, 3))
    gradcheck_fn(lambda x, w, b: _C._linear(take(x, slice(None), slice(None, None, 2)), w, b), randn(5, 8), randn(3, 4),
                 randn())
    gradcheck_fn(lambda x, w, b: _C._linear(x.permute(1, 0, 2), w, b), randn(3, 2, 4), randn(3, 4), randn(3))
    # A vector weight: x @ w (+ b), as PyTorch allows.
    assert_close(_C._linear(gradcore.tensor(xn), gradcore.tensor(xn[0])), xn @ xn[0], rtol=1e-12, atol=1e-12)
    # Empty batch and zero in_features.
    assert tuple(_C._linear(gradcore.zeros(0, 4), gradcore.ones(3, 4)).shape) == (0, 3)
    assert _C._linear(gradcore.zeros(2, 0), gradcore.ones(3, 0), gradcore.ones(3)).numpy().tolist() == [[1.0] * 3] * 2


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 5x3\)"):
        _C._linear(gradcore.ones(2, 3, 4), gradcore.ones(3, 5))
    with pytest.raises(RuntimeError, match=r"bias of shape \[5\] cannot be broadcast.*\[2, 3\]"):
        _C._linear(gradcore.ones(2, 4), gradcore.ones(3, 4), gradcore.ones(5))
    with pytest.raises(RuntimeError, match="same dtype.*float32 != float64"):
        _C._linear(gradcore.ones(2, 4), gradcore.ones(3, 4), gradcore.ones(3, dtype=gradcore.float64))
    with pytest.raises(RuntimeError, match="m1 and m2 to have the same dtype"):
        _C._linear(gradcore.ones(2, 4), gradcore.ones(3, 4, dtype=gradcore.float64))
    with pytest.raises(RuntimeError, match="2-D weight"):
        _C._linear(gradcore.ones(2, 4), gradcore.ones(1, 3, 4))
    with pytest.raises(TypeError, match="weight"):
        _C._linear(gradcore.ones(2, 4), [[1.0] * 4])


# ---- errors ----

def test_shape_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\).*Hint"):
        gradcore.ones(2, 3) @ gradcore.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul: mat1 and mat2 shapes cannot be multiplied \(3 and 4\)"):
        gradcore.ones(3) @ gradcore.ones(4)
    with pytest.raises(RuntimeError, match=r"\(2x3 and 4\)"):
        gradcore.ones(2, 3) @ gradcore.ones(4)
    with pytest.raises(RuntimeError, match=r"\(2x2x3 and 2x4x5\)"):
        gradcore.ones(2, 2, 3) @ gradcore.ones(2, 4, 5)
    with pytest.raises(RuntimeError, match=r"batch dims of shapes 2x2x3 and 3x3x5 cannot be broadcast"):
        gradcore.ones(2, 2, 3) @ gradcore.ones(3, 3, 5)
    with pytest.raises(RuntimeError, match="at least 1D, but they are 0D and 2D"):
        gradcore.matmul(gradcore.ones(()), gradcore.ones(2, 2))
    with pytest.raises(RuntimeError, match=r"mm: expected two 2-D matrices.*1-D and 2-D"):
        gradcore.mm(gradcore.ones(3), gradcore.ones(3, 2))
    with pytest.raises(RuntimeError, match=r"bmm: expected two 3-D tensors"):
        gradcore.bmm(gradcore.ones(2, 3), gradcore.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"bmm: batch sizes differ: 2 and 3"):
        gradcore.bmm(gradcore.ones(2, 2, 3), gradcore.ones(3, 3, 4))
    with pytest.raises(RuntimeError, match=r"bmm.*\(2x2x3 and 2x4x5\)"):
        gradcore.bmm(gradcore.ones(2, 2, 3), gradcore.ones(2, 4, 5))


def test_dtype_and_type_errors():
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float32 != float64"):
        gradcore.ones(2, 3) @ gradcore.ones(3, 2, dtype=gradcore.float64)
    with pytest.raises(RuntimeError, match="same dtype, but got: int64 != float32"):
        gradcore.mm(gradcore.ones(2, 3, dtype=gradcore.int64), gradcore.ones(3, 2))
    with pytest.raises(NotImplementedError, match="not implemented for dtype bool"):
        gradcore.ones(2, 3, dtype=gradcore.bool) @ gradcore.ones(3, 2, dtype=gradcore.bool)
    with pytest.raises(TypeError):
        gradcore.ones(2, 3) @ 2
    with pytest.raises(TypeError):
        [[1.0, 2.0]] @ gradcore.ones(2, 2)
    with pytest.raises(TypeError, match="argument 'mat2' must be a Tensor"):
        gradcore.mm(gradcore.ones(2, 2), [[1.0, 0.0], [0.0, 1.0]])


# ---- PyTorch parity ----

@pytest.mark.parametrize("sa,sb", GRAD_PAIRS)
def test_torch_parity_values_and_grads(sa, sb):
    torch = pytest.importorskip("torch")
    a, b = randn(*sa), randn(*sb)
    ga, gb = gradcore.tensor(a, requires_grad=True), gradcore.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, ref = ga @ gb, ta @ tb
    assert tuple(out.shape) == tuple(ref.shape)
    assert_close(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = randn(*ref.shape)
    out.backward(gradcore.tensor(w))
    ref.backward(torch.tensor(w))
    assert_close(ga.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(gb.grad, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs", [(4,), (7, 4), (2, 3, 4)])
def test_torch_parity_linear(xs):
    torch = pytest.importorskip("torch")
    x, w, b = randn(*xs), randn(5, 4), randn(5)
    gs = [gradcore.tensor(t, requires_grad=True) for t in (x, w, b)]
    ts = [torch.tensor(t, requires_grad=True) for t in (x, w, b)]
    out, ref = _C._linear(*gs), torch.nn.functional.linear(*ts)
    assert_close(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = randn(*ref.shape)
    out.backward(gradcore.tensor(g))
    ref.backward(torch.tensor(g))
    for mine, theirs in zip(gs, ts):
        assert_close(mine.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_torch_parity_int64_and_float32():
    torch = pytest.importorskip("torch")
    a = np.random.randint(-100, 100, size=(3, 4, 5))
    b = np.random.randint(-100, 100, size=(5, 2))
    np.testing.assert_array_equal((gradcore.tensor(a) @ gradcore.tensor(b)).numpy(),
                                  (torch.tensor(a) @ torch.tensor(b)).numpy())
    x, y = randn(64, 200, dtype=np.float32), randn(200, 33, dtype=np.float32)
    assert_close(gradcore.tensor(x) @ gradcore.tensor(y), (torch.tensor(x) @ torch.tensor(y)).numpy(), rtol=1e-4, atol=1e-4)
