"""Every op of API.md's Tensors and Autograd sections, run in gradcore and in PyTorch on the same
inputs: values and gradients must match to 1e-5 (float32) / 1e-9 (float64). Skips without torch."""
import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

rng = np.random.default_rng(1234)


def pos(*s):
    return rng.uniform(0.5, 2.0, size=s)


def sym(*s):
    return rng.standard_normal(size=s)


# name -> (fn(m, *tensors), input arrays, differentiable)
CASES = {
    "add_broadcast": (lambda m, a, b: a + b, [sym(3, 4), sym(4)], True),
    "sub_scalar": (lambda m, a: 2.5 - a, [sym(3, 4)], True),
    "mul": (lambda m, a, b: a * b, [sym(2, 1, 4), sym(3, 1)], True),
    "div": (lambda m, a, b: a / b, [sym(3, 4), pos(3, 4)], True),
    "rdiv": (lambda m, a: 1.0 / a, [pos(5)], True),
    "pow_scalar": (lambda m, a: a ** 3, [sym(4)], True),
    "pow_tensor": (lambda m, a, e: a.unsqueeze(-1).pow(e), [pos(4), np.array([1.0, 2.0, 3.0])], True),
    "rpow": (lambda m, a: 2 ** a, [sym(4)], True),
    "neg": (lambda m, a: -a, [sym(3)], True),
    "abs": (lambda m, a: a.abs(), [sym(6)], True),
    "exp": (lambda m, a: m.exp(a), [sym(3, 2)], True),
    "log": (lambda m, a: a.log(), [pos(3, 2)], True),
    "sqrt": (lambda m, a: m.sqrt(a), [pos(5)], True),
    "sin": (lambda m, a: a.sin(), [sym(5)], True),
    "cos": (lambda m, a: m.cos(a), [sym(5)], True),
    "tanh": (lambda m, a: a.tanh(), [sym(5)], True),
    "sigmoid": (lambda m, a: m.sigmoid(a), [sym(5)], True),
    "relu": (lambda m, a: m.relu(a), [sym(7)], True),
    "clamp": (lambda m, a: a.clamp(-0.5, 0.5), [sym(8)], True),
    "clamp_min": (lambda m, a: m.clamp(a, min=0.1), [sym(8)], True),
    "maximum": (lambda m, a, b: m.maximum(a, b), [sym(3, 4), sym(4)], True),
    "minimum": (lambda m, a, b: m.minimum(a, b), [sym(3, 4), sym(3, 1)], True),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [sym(3, 4), sym(4)], True),
    "matmul_2d": (lambda m, a, b: a @ b, [sym(3, 4), sym(4, 5)], True),
    "matmul_1d": (lambda m, a, b: m.matmul(a, b), [sym(4), sym(4)], True),
    "matmul_batched": (lambda m, a, b: a @ b, [sym(2, 1, 3, 4), sym(5, 4, 2)], True),
    "mm": (lambda m, a, b: m.mm(a, b.t()), [sym(3, 4), sym(5, 4)], True),
    "bmm": (lambda m, a, b: m.bmm(a, b), [sym(2, 3, 4), sym(2, 4, 5)], True),
    "sum_all": (lambda m, a: a.sum(), [sym(3, 4)], True),
    "sum_dim": (lambda m, a: m.sum(a, dim=1), [sym(3, 4, 2)], True),
    "sum_tuple_keep": (lambda m, a: a.sum((0, 2), keepdim=True), [sym(3, 4, 2)], True),
    "mean": (lambda m, a: a.mean(-1), [sym(3, 4)], True),
    "var": (lambda m, a: a.var(1), [sym(3, 5)], True),
    "std_keep": (lambda m, a: a.std(0, keepdim=True), [sym(4, 3)], True),
    "max_all": (lambda m, a: a.max(), [sym(3, 4)], True),
    "max_dim": (lambda m, a: a.max(1).values, [sym(3, 4)], True),
    "min_dim": (lambda m, a: m.min(a, dim=0)[0], [sym(3, 4)], True),
    "argmax": (lambda m, a: a.argmax(1), [sym(3, 4)], False),
    "argmin": (lambda m, a: m.argmin(a), [sym(3, 4)], False),
    "softmax": (lambda m, a: m.softmax(a, dim=1), [sym(3, 5)], True),
    "log_softmax": (lambda m, a: a.log_softmax(0), [sym(3, 5)], True),
    "compare": (lambda m, a, b: (a > b).float() + (a <= b).float() * 2, [sym(5), sym(5)], False),
    "view_reshape": (lambda m, a: a.view(4, 3).t().reshape(2, 6), [sym(3, 4)], True),
    "flatten": (lambda m, a: a.flatten(1), [sym(2, 3, 4)], True),
    "unsqueeze_squeeze": (lambda m, a: a.unsqueeze(0).unsqueeze(-1).squeeze(), [sym(3, 4)], True),
    "transpose_permute": (lambda m, a: a.transpose(0, 1).permute(2, 0, 1), [sym(2, 3, 4)], True),
    "expand": (lambda m, a: a.expand(3, 4) * 1.0, [sym(1, 4)], True),
    "T": (lambda m, a: a.T @ a, [sym(3, 4)], True),
    "cat": (lambda m, a, b: m.cat([a, b, a], dim=1), [sym(2, 3), sym(2, 1)], True),
    "stack": (lambda m, a, b: m.stack([a, b], dim=1), [sym(2, 3), sym(2, 3)], True),
    "index_int_slice": (lambda m, a: a[1, ::2], [sym(3, 5)], True),
    "index_none_ellipsis": (lambda m, a: a[None, ..., 1], [sym(3, 5)], True),
    "index_tensor_rows": (lambda m, a: a[m.tensor([0, 2, 2])], [sym(3, 4)], True),
    "index_arange_labels": (lambda m, a: a[m.arange(3), m.tensor([1, 0, 3])], [sym(3, 4)], True),
    "index_bool_mask": (lambda m, a: a[a > 0], [sym(4, 3)], True),
    "composite": (lambda m, a, b: ((a @ b).tanh() - (a.sum(1, keepdim=True) / 3).exp()).pow(2).mean(), [sym(4, 3), sym(3, 2)], True),
}


def _run(lib, fn, arrays, dtype, diff):
    ts = [lib.tensor(a.astype(dtype), requires_grad=diff) for a in arrays]
    out = fn(lib, *ts)
    grads = None
    if diff:
        w = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(dtype)
        out.backward(lib.tensor(w))
        grads = [t.grad for t in ts]
    return out, grads


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-9)])
@pytest.mark.parametrize("name", list(CASES))
def test_parity(name, dtype, tol):
    fn, arrays, diff = CASES[name]
    g_out, g_grads = _run(gradcore, fn, arrays, dtype, diff)
    t_out, t_grads = _run(torch, fn, arrays, dtype, diff)
    assert tuple(g_out.shape) == tuple(t_out.shape)
    assert str(g_out.dtype).split(".")[1] == str(t_out.dtype).split(".")[1]
    np.testing.assert_allclose(_np(g_out), _np(t_out), rtol=tol, atol=tol)
    if diff:
        for i, (gg, tg) in enumerate(zip(g_grads, t_grads)):
            assert (gg is None) == (tg is None), f"input {i}"
            if gg is not None:
                np.testing.assert_allclose(_np(gg), _np(tg), rtol=tol, atol=tol, err_msg=f"grad of input {i}")


ERROR_CASES = [
    ("broadcast", lambda m: m.ones(3) + m.ones(4), RuntimeError),
    ("matmul_shapes", lambda m: m.ones(2, 3) @ m.ones(4, 5), RuntimeError),
    ("view_incompatible", lambda m: m.ones(3, 4).t().view(12), RuntimeError),
    ("index_out_of_range", lambda m: m.ones(3)[3], IndexError),
    ("dim_out_of_range", lambda m: m.ones(3).sum(1), IndexError),
    ("ragged", lambda m: m.tensor([[1, 2], [3]]), ValueError),
    ("grad_type", lambda m: setattr(m.ones(2, requires_grad=True), "grad", 3), TypeError),
    ("backward_nonscalar", lambda m: (m.ones(2, requires_grad=True) * 2).backward(), RuntimeError),
    ("leaf_inplace", lambda m: m.ones(2, requires_grad=True).add_(1), RuntimeError),
    ("int_requires_grad", lambda m: m.tensor([1, 2], requires_grad=True), RuntimeError),
    ("cat_shapes", lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)]), RuntimeError),
    ("numpy_requires_grad", lambda m: m.ones(2, requires_grad=True).numpy(), RuntimeError),
    ("item_many", lambda m: m.ones(2).item(), RuntimeError),
]


@pytest.mark.parametrize("name,fn,exc", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_types_match_torch(name, fn, exc):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc):
        fn(gradcore)


def test_backward_twice_error_matches():
    for m in (torch, gradcore):
        x = m.ones(2, requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()
