"""Every op of API.md's Tensors and Autograd sections, run in gradcore and in PyTorch on the same
inputs: values and gradients must match to 1e-5 (float32) / 1e-9 (float64). Skips without torch."""
import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

from op_cases import CASES  # noqa: E402


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
