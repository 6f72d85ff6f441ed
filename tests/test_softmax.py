"""softmax and log_softmax: forward against NumPy references written here (which
test_class_loss.py shares), gradients against float64 finite differences, parity with PyTorch when
it is importable, numerical stability, and PyTorch's errors for softmax and the class losses."""
import numpy as np
import pytest

import gradcore
from gradcore import _C
from helpers import assert_close, assert_isa_levels_agree, gradcheck_fn, to_np

RNG = np.random.default_rng(1234)


# ----------------------------------------------------------------------------- references

def np_log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_softmax(x, axis):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def np_cross_entropy(x, t, w=None, reduction="mean", ignore_index=-100, eps=0.0, log_probs=False):
    """PyTorch's cross_entropy (or nll_loss with log_probs=True) written with NumPy: class dim 1
    (0 for 1-D input), index targets or probability targets of the input's shape."""
    x = np.asarray(x, dtype=np.float64)
    cd = 0 if x.ndim == 1 else 1
    lp = x if log_probs else np_log_softmax(x, cd)
    lp = np.moveaxis(lp, cd, -1)  # [..., C]
    C = lp.shape[-1]
    wv = np.ones(C) if w is None else np.asarray(w, dtype=np.float64)
    t = np.asarray(t)
    if t.shape == x.shape:
        tt = np.moveaxis(t.astype(np.float64), cd, -1) * (1 - eps) + eps / C
        rows = -(lp * tt * wv).sum(-1)
        divisor = rows.size if x.size else 0
    else:
        valid = t != ignore_index
        tc = np.where(valid, t, 0)
        picked = np.take_along_axis(lp, tc[..., None], -1)[..., 0]
        nll = np.where(valid, -picked * wv[tc], 0.0)
        smooth = np.where(valid, -(lp * wv).sum(-1), 0.0)
        rows = (1 - eps) * nll + eps / C * smooth
        divisor = np.where(valid, wv[tc], 0.0).sum()
    if reduction == "none":
        return rows
    if reduction == "sum":
        return np.asarray(rows.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(rows.sum() / divisor)


def ce(x, t, w=None, reduction="mean", ignore_index=-100, eps=0.0):
    return _C._cross_entropy(x, t, w, reduction, ignore_index, eps)


def nll(x, t, w=None, reduction="mean", ignore_index=-100):
    return _C._nll_loss(x, t, w, reduction, ignore_index)


# ------------------------------------------------------------------------------- softmax

SHAPES = [(7,), (3, 129), (2, 3, 4), (2, 1, 5, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [gradcore.float32, gradcore.float64])
def test_softmax_forward_every_dim(shape, dtype):
    x = RNG.standard_normal(shape) * 3
    t = gradcore.tensor(x, dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == gradcore.float32 else dict(rtol=1e-12, atol=1e-13)
    for d in list(range(len(shape))) + [-1]:
        y = gradcore.softmax(t, d)
        assert y.dtype == dtype and y.shape == t.shape
        assert_close(y, np_softmax(x, d), **tol)
        assert_close(gradcore.log_softmax(t, d), np_log_softmax(x, d), **tol)
        assert_close(t.softmax(d), np_softmax(x, d), **tol)
        assert_close(t.log_softmax(dim=d), np_log_softmax(x, d), **tol)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_softmax_gradcheck_every_dim(shape):
    x = RNG.standard_normal(shape)
    for d in range(len(shape)):
        gradcheck_fn(lambda a: gradcore.softmax(a, d), x)
        gradcheck_fn(lambda a: gradcore.log_softmax(a, d), x)


def test_softmax_non_contiguous_inputs():
    base = RNG.standard_normal((5, 6, 4))
    t = gradcore.tensor(base)
    cases = [
        (t.transpose(0, 2), base.transpose(2, 1, 0)),
        (t.permute(1, 2, 0), base.transpose(1, 2, 0)),
        (t.narrow(1, 1, 3), base[:, 1:4]),
        (t._slice(2, 0, 4, 2), base[:, :, 0:4:2]),
        (gradcore.tensor(base[0, 0]).expand(3, 4), np.broadcast_to(base[0, 0], (3, 4))),
    ]
    for view, ref in cases:
        assert not view.is_contiguous()
        for d in range(view.dim()):
            assert_close(gradcore.softmax(view, d), np_softmax(ref, d), rtol=1e-12, atol=1e-13)
            assert_close(gradcore.log_softmax(view, d), np_log_softmax(ref, d), rtol=1e-12, atol=1e-13)
    # gradients flow back through the view
    for d in range(3):
        gradcheck_fn(lambda a: gradcore.softmax(a.transpose(0, 2), d), base[:3, :2, :4])
        gradcheck_fn(lambda a: gradcore.log_softmax(a.permute(2, 0, 1), d), base[:3, :2, :4])


def test_softmax_zero_dim_empty_and_size_one():
    s = gradcore.tensor(2.5, requires_grad=True)
    y = gradcore.softmax(s, 0)
    assert y.shape == () and y.item() == 1.0
    assert gradcore.log_softmax(s, -1).item() == 0.0
    y.backward()
    assert s.grad.item() == 0.0
    for shape, d in [((0, 5), 1), ((2, 0), 1), ((2, 0), 0), ((0,), 0)]:
        e = gradcore.zeros(shape)
        assert gradcore.softmax(e, d).shape == shape
        assert gradcore.log_softmax(e, d).shape == shape
    one = gradcore.tensor(RNG.standard_normal((4, 1)))
    assert_close(gradcore.softmax(one, 1), np.ones((4, 1)))


def test_softmax_dtype_argument_and_grad_fn():
    x = gradcore.tensor([[1, 2, 3]])
    y = gradcore.softmax(x, 1, dtype=gradcore.float64)
    assert y.dtype == gradcore.float64
    assert_close(y, np_softmax(np.array([[1.0, 2, 3]]), 1), rtol=1e-12)
    f = gradcore.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    z = f.log_softmax(-1, dtype=gradcore.float64)
    assert z.dtype == gradcore.float64
    z.sum().backward()
    assert f.grad.dtype == gradcore.float32
    assert gradcore.softmax(f, 1).grad_fn.name() == "SoftmaxBackward0"
    assert gradcore.log_softmax(f, 1).grad_fn.name() == "LogSoftmaxBackward0"
    with gradcore.no_grad():
        assert gradcore.softmax(f, 1).grad_fn is None


def test_softmax_backward_with_broadcast_gradient():
    # sum() hands back a stride-0 gradient; the kernel must read it correctly.
    x = RNG.standard_normal((3, 4))
    t = gradcore.tensor(x, requires_grad=True)
    gradcore.log_softmax(t, 0).sum().backward()
    ref = np.ones_like(x) - np_softmax(x, 0) * x.shape[0]
    assert_close(t.grad, ref, rtol=1e-10, atol=1e-12)


def test_softmax_large_rows_parallel_path():
    # Above the parallel grain, for a last dim and a middle dim (strided rows).
    x = RNG.standard_normal((4096, 37))
    assert_close(gradcore.softmax(gradcore.tensor(x), 1), np_softmax(x, 1), rtol=1e-12, atol=1e-14)
    y = RNG.standard_normal((8, 10, 40, 41))
    t = gradcore.tensor(y, requires_grad=True)
    out = gradcore.log_softmax(t, 1)
    assert_close(out, np_log_softmax(y, 1), rtol=1e-12, atol=1e-12)
    w = RNG.standard_normal(y.shape)
    out.backward(gradcore.tensor(w))
    ref = w - np_softmax(y, 1) * w.sum(1, keepdims=True)
    assert_close(t.grad, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [gradcore.float32, gradcore.float64])
def test_softmax_stability_large_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0, 9999.0], [-1e4, -1e4 + 1, -1e4, -1e4]])
    t = gradcore.tensor(x, dtype=dtype, requires_grad=True)
    y = gradcore.softmax(t, 1)
    ly = gradcore.log_softmax(t, 1)
    assert np.isfinite(to_np(y)).all() and np.isfinite(to_np(ly)).all()
    assert_close(y, np_softmax(x, 1).astype(to_np(y).dtype), rtol=1e-5, atol=1e-7)
    assert_close(ly, np_log_softmax(x, 1).astype(to_np(ly).dtype), rtol=1e-5, atol=1e-4)
    (y * gradcore.tensor(RNG.standard_normal(x.shape), dtype=dtype)).sum().backward()
    assert np.isfinite(to_np(t.grad)).all()


@pytest.mark.parametrize("shape,dim", [((3, 1500), 1), ((2, 300, 70), 1), ((300, 5), 0), ((4, 9, 33), 2)])
def test_softmax_float32_vector_paths(shape, dim):
    # Long rows (several float blocks plus a tail), tiles of rows for a middle dim (a full tile, a
    # partial one, more classes than one float flush), against a float64 reference.
    x = RNG.standard_normal(shape) * 10
    t = gradcore.tensor(x, dtype=gradcore.float32, requires_grad=True)
    x32 = to_np(t).astype(np.float64)
    y = gradcore.softmax(t, dim)
    assert_close(y, np_softmax(x32, dim).astype(np.float32), rtol=2e-5, atol=1e-7)
    ly = gradcore.log_softmax(t, dim)
    assert_close(ly, np_log_softmax(x32, dim).astype(np.float32), rtol=1e-5, atol=2e-5)
    w = RNG.standard_normal(shape)
    ly.backward(gradcore.tensor(w, dtype=gradcore.float32))
    ref = w - np_softmax(x32, dim) * w.sum(dim, keepdims=True)
    assert_close(t.grad, ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    t.grad = None
    y = gradcore.softmax(t, dim)
    y.backward(gradcore.tensor(w, dtype=gradcore.float32))
    p = np_softmax(x32, dim)
    ref = p * (w - (w * p).sum(dim, keepdims=True))
    assert_close(t.grad, ref.astype(np.float32), rtol=1e-4, atol=1e-6)


def test_softmax_masked_and_nan_rows():
    inf = float("inf")
    x = gradcore.tensor([[0.0, -inf, 1.0], [-inf, -inf, -inf], [1.0, float("nan"), 2.0]])
    y = to_np(gradcore.softmax(x, 1))
    assert_close(y[0], np_softmax(np.array([0.0, -np.inf, 1.0]), 0))
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()
    assert to_np(gradcore.log_softmax(x, 1))[0, 1] == -inf
    # the same along a middle dim (tiles of rows), float32 and float64
    for dtype in [gradcore.float32, gradcore.float64]:
        z = np.zeros((2, 3, 10))
        z[:, 1, :] = -np.inf
        z[1, 0, 4] = np.nan
        y = to_np(gradcore.softmax(gradcore.tensor(z, dtype=dtype), 1))
        assert (y[0, 1, :] == 0).all() and (np.delete(y[1, 1], 4) == 0).all()
        assert np.isnan(y[1, :, 4]).all()
        assert_close(np.delete(y[1], 4, axis=1), np.tile([[0.5], [0.0], [0.5]], (1, 9)))


# -------------------------------------------------------------------------------- errors

def test_errors():
    x = gradcore.tensor(RNG.standard_normal((3, 5)))
    with pytest.raises(IndexError, match=r"cross_entropy: Target 7 is out of bounds.*\[0, 5\).*5 classes"):
        ce(x, gradcore.tensor([1, 0, 7]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        ce(x, gradcore.tensor([1, 0, -1]))
    with pytest.raises(IndexError, match="nll_loss: Target 5 is out of bounds"):
        nll(x, gradcore.tensor([5, 0, 1]))
    with pytest.raises(ValueError, match=r"batch_size \(3\) to match target batch_size \(2\).*\[3, 5\].*\[2\]"):
        ce(x, gradcore.tensor([1, 0]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        ce(gradcore.zeros((2, 3, 4)), gradcore.zeros((2, 3), dtype=gradcore.int64))
    with pytest.raises(RuntimeError, match=r"int64.*float32.*\[3\]"):
        ce(x, gradcore.tensor([1.0, 0.0, 2.0]))
    with pytest.raises(RuntimeError, match="int64"):
        ce(x, gradcore.zeros((3, 4)))  # float target with the wrong shape
    with pytest.raises(RuntimeError, match="multi-target"):
        ce(x, gradcore.zeros((3, 4), dtype=gradcore.int64))
    with pytest.raises(RuntimeError, match="floating point type for target with class probabilities"):
        ce(x, gradcore.zeros((3, 5), dtype=gradcore.int64))
    with pytest.raises(NotImplementedError, match="cross_entropy.*int64"):
        ce(gradcore.zeros((3, 5), dtype=gradcore.int64), gradcore.tensor([1, 0, 2]))
    with pytest.raises(NotImplementedError, match="nll_loss.*int64"):
        nll(gradcore.zeros((3, 5), dtype=gradcore.int64), gradcore.tensor([1, 0, 2]))
    with pytest.raises(NotImplementedError, match="softmax.*int64"):
        gradcore.softmax(gradcore.tensor([1, 2]), 0)
    with pytest.raises(NotImplementedError, match="log_softmax.*bool"):
        gradcore.log_softmax(gradcore.tensor([True, False]), 0)
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 5 classes.*\[4\]"):
        ce(x, gradcore.tensor([1, 0, 2]), gradcore.ones(4))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        ce(x, gradcore.tensor([1, 0, 2]), reduction="foo")
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        ce(x, gradcore.tensor([1, 0, 2]), eps=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        ce(x, gradcore.zeros((3, 5)), ignore_index=1)
    with pytest.raises(ValueError, match=r"Expected 1 or more dimensions \(got 0\)"):
        ce(gradcore.tensor(1.0), gradcore.tensor([1]))
    with pytest.raises(ValueError, match="1D target must have size 1"):
        ce(gradcore.zeros(5), gradcore.tensor([1, 2, 3]))
    with pytest.raises(IndexError, match="dimension out of range"):
        gradcore.softmax(x, 2)
    with pytest.raises(TypeError, match="dim"):
        gradcore.softmax(x, None)
    with pytest.raises(TypeError, match="target"):
        ce(x, [1, 0, 2])
    w = gradcore.ones(5, requires_grad=True)
    with pytest.raises(RuntimeError, match="weight"):
        ce(x, gradcore.tensor([1, 0, 2]), w)
    with gradcore.no_grad():
        assert np.isfinite(ce(x, gradcore.tensor([1, 0, 2]), w).item())
    # a negative smoothing is no smoothing, as in PyTorch
    assert_close(ce(x, gradcore.tensor([1, 0, 2]), eps=-0.5), to_np(ce(x, gradcore.tensor([1, 0, 2]))))


# ------------------------------------------------------------------------- torch parity

@pytest.mark.parametrize("shape", [(7,), (3, 129), (2, 3, 4), (64, 600)])
def test_softmax_torch_parity(shape):
    torch = pytest.importorskip("torch")
    x = (RNG.standard_normal(shape) * 4).astype(np.float32)
    for d in range(len(shape)):
        for name in ["softmax", "log_softmax"]:
            g_in = gradcore.tensor(x, requires_grad=True)
            t_in = torch.tensor(x, requires_grad=True)
            out = getattr(gradcore, name)(g_in, d)
            ref = getattr(torch, name)(t_in, d)
            np.testing.assert_allclose(to_np(out), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
            grad = RNG.standard_normal(shape).astype(np.float32)
            out.backward(gradcore.tensor(grad))
            ref.backward(torch.tensor(grad))
            np.testing.assert_allclose(to_np(g_in.grad), t_in.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_stability_torch_parity():
    torch = pytest.importorskip("torch")
    x = np.array([[1e4, -1e4, 0.0, 9999.5], [-1e4, 1e4, 1e4 - 3, 2.0]], dtype=np.float32)
    t = np.array([1, 2])
    g_in = gradcore.tensor(x, requires_grad=True)
    t_in = torch.tensor(x, requires_grad=True)
    out = ce(g_in, gradcore.tensor(t), eps=0.05)
    ref = torch.nn.functional.cross_entropy(t_in, torch.tensor(t), label_smoothing=0.05)
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(to_np(g_in.grad), t_in.grad.numpy(), rtol=1e-5, atol=1e-6)
    for name in ["softmax", "log_softmax"]:
        np.testing.assert_allclose(to_np(getattr(gradcore, name)(gradcore.tensor(x), 1)),
                                   getattr(torch, name)(torch.tensor(x), 1).numpy(), rtol=1e-5, atol=1e-6)


ISA_SCRIPT = r"""
import sys
import numpy as np
import gradcore as g
rng = np.random.default_rng(6)
outs = []
for shape, dim in [((37, 1000), 1), ((1024, 65), 1), ((3, 70, 131), 1)]:
    t = g.tensor(rng.standard_normal(shape).astype(np.float32) * 8, requires_grad=True)
    w = g.tensor(rng.standard_normal(shape).astype(np.float32))
    ys = [g.softmax(t, dim), g.log_softmax(t, dim)]
    (ys[0] * w).sum().backward()
    outs += [y.detach().numpy() for y in ys] + [t.grad.numpy()]
    t.grad = None
    (ys[1] * w).sum().backward()
    outs.append(t.grad.numpy())
    t.grad = None
    n, c = shape[0], shape[1]
    tgt = g.tensor(rng.integers(0, c, (n,) + shape[2:]))
    wc = g.tensor(rng.random(c).astype(np.float32))
    loss = g.nn.functional.cross_entropy(t, tgt, weight=wc, label_smoothing=0.1)
    loss.backward()
    outs += [loss.detach().numpy(), t.grad.numpy()]
np.savez(sys.argv[1], *outs)
"""


def test_every_isa_level_rounds_alike(tmp_path):
    # softmax, log_softmax and cross_entropy, forward and backward, on unit-stride rows (with
    # tails) and on tiles (class dim not last): the same bits at every forced ISA level.
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path)
