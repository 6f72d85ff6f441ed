"""The scatter family against PyTorch: scatter(_) (src, value, reduce=), scatter_add(_),
scatter_reduce(_) (sum/prod/mean/amax/amin, include_self), index_add/copy/fill(_),
masked_scatter(_) and take; values, gradients (float64, against torch autograd), errors,
non-contiguous inputs and negative dims. Also indexing with a Python range."""
import warnings

import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(17)


def pair(arr, requires_grad=False):
    """The same data as a gradcore and a torch tensor."""
    g = gradcore.tensor(arr)
    t = torch.tensor(arr)
    if requires_grad:
        g.requires_grad_(True)
        t.requires_grad_(True)
    return g, t


def check(g, t, atol=1e-6):
    assert tuple(g.shape) == tuple(t.shape)
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-6)


def rand_index(shape, size):
    return RNG.integers(0, size, shape).astype(np.int64)


def grads_match(gfn, tfn, *arrays, wrt=None):
    """gfn / tfn map tensors to one output; the float64 gradients of a weighted sum agree."""
    wrt = range(len(arrays)) if wrt is None else wrt
    gs, ts = [], []
    for k, a in enumerate(arrays):
        g, t = pair(a, requires_grad=k in wrt)
        gs.append(g)
        ts.append(t)
    go, to = gfn(*gs), tfn(*ts)
    check(go, to)
    w = RNG.standard_normal(tuple(to.shape))
    (go * gradcore.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for k in wrt:
        np.testing.assert_allclose(gs[k].grad.numpy(), ts[k].grad.numpy(), atol=1e-9, rtol=1e-7)


# ---- scatter / scatter_ ----

@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_scatter_src_value_and_inplace(dim):
    x = RNG.standard_normal((4, 5))
    idx = rand_index((3, 4), x.shape[dim])
    src = RNG.standard_normal((4, 6))
    (gx, tx), (gi, ti), (gs, ts) = pair(x), pair(idx), pair(src)
    check(gx.scatter(dim, gi, gs), tx.scatter(dim, ti, ts))
    check(gradcore.scatter(gx, dim, gi, gs), torch.scatter(tx, dim, ti, ts))
    check(gx.scatter(dim, gi, 2.5), tx.scatter(dim, ti, 2.5))
    check(gx.scatter(dim, gi, value=-1.0), tx.scatter(dim, ti, value=-1.0))
    gx.scatter_(dim, gi, gs)
    tx.scatter_(dim, ti, ts)
    check(gx, tx)


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduce_argument(reduce):
    x = RNG.standard_normal((3, 4))
    idx = np.array([[0, 1, 0, 2], [2, 2, 0, 1]])
    src = RNG.standard_normal((2, 4))
    (gx, tx), (gi, ti), (gs, ts) = pair(x), pair(idx), pair(src)
    with pytest.warns(UserWarning, match="deprecated"):
        gx.scatter_(0, gi, gs, reduce=reduce)
    with warnings.catch_warnings():  # PyTorch warns once per process
        warnings.simplefilter("ignore")
        tx.scatter_(0, ti, ts, reduce=reduce)
    check(gx, tx)
    check(gx.scatter(1, gi, 3.0, reduce=reduce), tx.scatter(1, ti, 3.0, reduce=reduce))


def test_scatter_grad_and_noncontiguous():
    x = RNG.standard_normal((5, 4))
    idx = np.array([[0, 1, 2], [3, 4, 0]])  # no duplicates along dim 0 within a column
    src = RNG.standard_normal((2, 3))  # PyTorch's backward needs src of index's shape
    grads_match(lambda a, s: a.t().scatter(1, gradcore.tensor(idx), s), lambda a, s: a.t().scatter(1, torch.tensor(idx), s),
                x, src)
    grads_match(lambda a, s: a.scatter(-2, gradcore.tensor(idx), s), lambda a, s: a.scatter(-2, torch.tensor(idx), s),
                x, src)


@pytest.mark.filterwarnings("ignore:The reduce argument")
def test_scatter_errors():
    gx = gradcore.zeros(3, 4)
    with pytest.raises(RuntimeError, match="out of bounds"):
        gx.scatter(0, gradcore.tensor([[0, 5]]), 1.0)
    with pytest.raises(RuntimeError, match="dtype"):
        gx.scatter(0, gradcore.tensor([[0, 1]]), gradcore.ones(1, 2, dtype=gradcore.float64))
    with pytest.raises(RuntimeError, match="add or multiply"):
        gx.scatter_(0, gradcore.tensor([[0, 1]]), gradcore.ones(1, 2), reduce="max")
    with pytest.raises(RuntimeError, match="int64"):
        gx.scatter(0, gradcore.tensor([[0.0, 1.0]]), 1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        gx.scatter(0, gradcore.tensor([0, 1]), gradcore.ones(2))
    with pytest.raises(IndexError):
        gx.scatter(2, gradcore.tensor([[0, 1]]), 1.0)


# ---- scatter_add ----

def test_scatter_add_forms():
    x = RNG.standard_normal((4, 3))
    idx = rand_index((6, 3), 4)
    src = RNG.standard_normal((6, 3))
    (gx, tx), (gi, ti), (gs, ts) = pair(x), pair(idx), pair(src)
    check(gx.scatter_add(0, gi, gs), tx.scatter_add(0, ti, ts))
    check(gradcore.scatter_add(gx, -2, gi, gs), torch.scatter_add(tx, -2, ti, ts))
    gx.scatter_add_(0, gi, gs)
    tx.scatter_add_(0, ti, ts)
    check(gx, tx)
    grads_match(lambda a, s: a.scatter_add(0, gradcore.tensor(idx), s), lambda a, s: a.scatter_add(0, torch.tensor(idx), s),
                x, src)


# ---- scatter_reduce ----

@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_scatter_reduce_values(reduce, include_self, dtype):
    x = (RNG.standard_normal((5, 4)) * 4).astype(dtype)
    idx = rand_index((7, 4), 5)
    src = (RNG.standard_normal((8, 4)) * 4).astype(dtype)
    (gx, tx), (gi, ti), (gs, ts) = pair(x), pair(idx), pair(src)
    check(gx.scatter_reduce(0, gi, gs, reduce, include_self=include_self),
          tx.scatter_reduce(0, ti, ts, reduce, include_self=include_self))
    check(gradcore.scatter_reduce(gx, -1, gi[:4, :3] % 4, gs, reduce, include_self=include_self),
          torch.scatter_reduce(tx, -1, ti[:4, :3] % 4, ts, reduce, include_self=include_self))
    gx.scatter_reduce_(0, gi, gs, reduce, include_self=include_self)
    tx.scatter_reduce_(0, ti, ts, reduce, include_self=include_self)
    check(gx, tx)


def test_scatter_reduce_nan_propagates():
    x, idx, src = np.array([1.0, np.nan]), np.array([0, 0]), np.array([np.nan, 3.0])
    for r in ("amax", "amin"):
        check(gradcore.tensor(x).scatter_reduce(0, gradcore.tensor(idx), gradcore.tensor(src), r),
              torch.tensor(x).scatter_reduce(0, torch.tensor(idx), torch.tensor(src), r))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_grad(reduce, include_self):
    x = RNG.standard_normal((4, 3))
    idx = rand_index((6, 3), 4)
    src = RNG.standard_normal((6, 3))
    if reduce in ("amax", "amin"):  # ties split the gradient
        x[0, 0] = src[0, 0] = 5.0 if reduce == "amax" else -5.0
        idx[0, 0] = 0
    grads_match(lambda a, s: a.scatter_reduce(0, gradcore.tensor(idx), s, reduce, include_self=include_self),
                lambda a, s: a.scatter_reduce(0, torch.tensor(idx), s, reduce, include_self=include_self), x, src)


def test_scatter_reduce_errors_and_prod_grad():
    gx = gradcore.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="sum, prod, mean, amax or amin"):
        gx.scatter_reduce(0, gradcore.tensor([0]), gradcore.ones(1), "max")
    with pytest.raises(NotImplementedError, match="prod"):
        gx.scatter_reduce(0, gradcore.tensor([0]), gradcore.ones(1), "prod")
    with gradcore.no_grad():
        check(gx.scatter_reduce(0, gradcore.tensor([0, 0]), gradcore.tensor([2.0, 3.0]), "prod"),
              torch.zeros(3).scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([2.0, 3.0]), "prod"))


def test_scatter_inplace_history_rules():
    leaf = gradcore.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        leaf.scatter_(0, gradcore.tensor([0]), gradcore.ones(1))
    a = gradcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = gradcore.tensor([5.0], requires_grad=True)
    y = a * 1
    y.scatter_reduce_(0, gradcore.tensor([1]), s, "amax")
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(s.grad.numpy(), [1.0])


# ---- index_add / index_copy / index_fill ----

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_add_copy_fill(dim):
    x = RNG.standard_normal((4, 5))
    n = x.shape[dim]
    idx_add = rand_index(6, n)
    idx_unique = RNG.permutation(n)[:3].astype(np.int64)
    src_shape = list(x.shape)
    src_shape[dim] = 6
    src = RNG.standard_normal(src_shape)
    (gx, tx), (ga, ta), (gu, tu), (gs, ts) = pair(x), pair(idx_add), pair(idx_unique), pair(src)
    check(gx.index_add(dim, ga, gs), tx.index_add(dim, ta, ts))
    check(gradcore.index_add(gx, dim, ga, gs, alpha=-2.5), torch.index_add(tx, dim, ta, ts, alpha=-2.5))
    tsrc = ts.narrow(dim, 0, 3)
    csrc = gradcore.tensor(tsrc.numpy())
    check(gx.index_copy(dim, gu, csrc), tx.index_copy(dim, tu, tsrc))
    check(gradcore.index_copy(gx, dim, gu, csrc), torch.index_copy(tx, dim, tu, tsrc))
    check(gx.index_fill(dim, gu, 7.0), tx.index_fill(dim, tu, 7.0))
    check(gradcore.index_fill(gx, dim, -gu - 1 + n, -1.5), torch.index_fill(tx, dim, -tu - 1 + n, -1.5))
    gx.index_add_(dim, ga, gs, alpha=3)
    tx.index_add_(dim, ta, ts, alpha=3)
    check(gx, tx)
    gx.index_copy_(dim, gu, csrc)
    tx.index_copy_(dim, tu, tsrc)
    check(gx, tx)
    gx.index_fill_(dim, gu, 0.5)
    tx.index_fill_(dim, tu, 0.5)
    check(gx, tx)


def test_index_fill_negative_index_and_tensor_value():
    x = RNG.standard_normal((3, 4))
    idx = np.array([-1, 0])
    check(gradcore.tensor(x).index_fill(1, gradcore.tensor(idx), gradcore.tensor(2.0, dtype=gradcore.float64)),
          torch.tensor(x).index_fill(1, torch.tensor(idx), torch.tensor(2.0, dtype=torch.float64)))


def test_index_ops_grad_noncontiguous():
    x = RNG.standard_normal((5, 4))
    idx = np.array([3, 0, 3, 1])
    uniq = np.array([2, 0])
    src = RNG.standard_normal((4, 4))
    grads_match(lambda a, s: a.t().index_add(1, gradcore.tensor(idx), s.t(), alpha=0.5),
                lambda a, s: a.t().index_add(1, torch.tensor(idx), s.t(), alpha=0.5), x, src)
    grads_match(lambda a, s: a.index_copy(0, gradcore.tensor(uniq), s[:2]),
                lambda a, s: a.index_copy(0, torch.tensor(uniq), s[:2]), x, src)
    grads_match(lambda a, v: a.index_fill(-1, gradcore.tensor(uniq), v),
                lambda a, v: a.index_fill(-1, torch.tensor(uniq), v), x, np.array(1.5))


def test_index_ops_errors():
    gx = gradcore.zeros(3, 4)
    with pytest.raises(RuntimeError, match="out of bounds"):
        gx.index_add(0, gradcore.tensor([5]), gradcore.ones(1, 4))
    with pytest.raises(RuntimeError, match="out of bounds"):
        gx.index_add(0, gradcore.tensor([-1]), gradcore.ones(1, 4))
    with pytest.raises(RuntimeError, match="same scalar type"):
        gx.index_add(0, gradcore.tensor([0]), gradcore.ones(1, 4, dtype=gradcore.float64))
    with pytest.raises(RuntimeError, match="number of indices"):
        gx.index_add(0, gradcore.tensor([0, 1]), gradcore.ones(3, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        gx.index_copy(0, gradcore.tensor([5]), gradcore.ones(1, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        gx.index_fill(0, gradcore.tensor([5]), 1.0)
    with pytest.raises(RuntimeError, match="int64"):
        gx.index_add(0, gradcore.tensor([0.0]), gradcore.ones(1, 4))
    with pytest.raises(torch_error_type(lambda: torch.zeros(3, 4).index_copy(0, torch.tensor([-1]), torch.ones(1, 4)))):
        gx.index_copy(0, gradcore.tensor([-1]), gradcore.ones(1, 4))


def torch_error_type(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e)
    return AssertionError


# ---- masked_scatter / take ----

def test_masked_scatter():
    x = RNG.standard_normal((3, 4))
    mask = RNG.random((3, 4)) > 0.5
    src = RNG.standard_normal((4, 4))
    (gx, tx), (gm, tm), (gs, ts) = pair(x), pair(mask), pair(src)
    check(gx.masked_scatter(gm, gs), tx.masked_scatter(tm, ts))
    check(gradcore.masked_scatter(gx, gm[0], gs), torch.masked_scatter(tx, tm[0], ts))
    gx.masked_scatter_(gm, gs)
    tx.masked_scatter_(tm, ts)
    check(gx, tx)
    grads_match(lambda a, s: a.masked_scatter(gradcore.tensor(mask), s),
                lambda a, s: a.masked_scatter(torch.tensor(mask), s), x, src)
    with pytest.raises(RuntimeError, match="Number of elements of source"):
        gradcore.zeros(3).masked_scatter(gradcore.tensor([True, True, True]), gradcore.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="dtype"):
        gradcore.zeros(3).masked_scatter(gradcore.tensor([True, False, True]),
                                         gradcore.tensor([1.0, 2.0], dtype=gradcore.float64))


def test_take():
    x = RNG.standard_normal((3, 4))
    idx = np.array([[0, -1], [11, 5]])
    (gx, tx), (gi, ti) = pair(x), pair(idx)
    check(gx.take(gi), tx.take(ti))
    check(gradcore.take(gx.t(), gi), torch.take(tx.t(), ti))
    grads_match(lambda a: a.take(gradcore.tensor(idx)), lambda a: a.take(torch.tensor(idx)), x)
    with pytest.raises(IndexError):
        gx.take(gradcore.tensor([12]))


# ---- indexing with a Python range ----

def test_range_index_get_and_set():
    x = np.arange(24.0).reshape(4, 6)
    gx, tx = pair(x)
    for idx in [range(1, 4), range(0, 4, 2), (slice(None), range(5, 0, -2)), (range(2), range(2)), range(0)]:
        check(gx[idx], tx[idx])
    gx[range(1, 3)] = -1.0
    tx[range(1, 3)] = -1.0
    check(gx, tx)
    gx[:, range(0, 6, 3)] = gradcore.tensor([[9.0, 8.0]], dtype=gradcore.float64)
    tx[:, range(0, 6, 3)] = torch.tensor([[9.0, 8.0]], dtype=torch.float64)
    check(gx, tx)
    with pytest.raises(IndexError):
        gx[range(3, 7)]
