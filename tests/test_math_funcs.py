"""isnan/isinf/isfinite, isclose/allclose, nan_to_num, logsumexp, var_mean/std_mean, outer,
tensordot, meshgrid, numel and Tensor.new_*: values, gradients and errors against PyTorch."""
import math
import warnings

import numpy as np
import pytest

import gradcore as g

torch = pytest.importorskip("torch")

SPECIAL = [1.0, float("nan"), float("inf"), -float("inf"), -2.5, 0.0, 3e38, -0.0]


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_classification(name, dtype):
    vals = SPECIAL if dtype.startswith("float") else [1, 0, 5, -3]
    if dtype == "bool":
        vals = [True, False]
    a = np.array(vals, dtype=dtype)
    got, want = getattr(g, name)(g.tensor(a)), getattr(torch, name)(torch.tensor(a))
    assert got.dtype == g.bool and got.tolist() == want.tolist()
    assert getattr(g.tensor(a), name)().tolist() == want.tolist()


@pytest.mark.parametrize("equal_nan", [False, True])
@pytest.mark.parametrize("rtol,atol", [(1e-5, 1e-8), (0.0, 0.0), (0.1, 0.0), (0.0, 0.5)])
def test_isclose(equal_nan, rtol, atol):
    a = np.array(SPECIAL + [1.0, 1.05, 2.0])
    b = np.array(SPECIAL[::-1] + [1.0 + 1e-9, 1.0, 2.4])
    for x, y in [(a, b), (a, a)]:
        got = g.isclose(g.tensor(x), g.tensor(y), rtol, atol, equal_nan)
        want = torch.isclose(torch.tensor(x), torch.tensor(y), rtol, atol, equal_nan)
        assert got.tolist() == want.tolist()
        assert g.allclose(g.tensor(x), g.tensor(y), rtol, atol, equal_nan) == torch.allclose(
            torch.tensor(x), torch.tensor(y), rtol, atol, equal_nan)
    i, j = np.array([1, 5, 10]), np.array([1, 6, 12])
    assert g.isclose(g.tensor(i), g.tensor(j), rtol, atol).tolist() == torch.isclose(
        torch.tensor(i), torch.tensor(j), rtol, atol).tolist()


def test_isclose_errors():
    for m in (g, torch):
        with pytest.raises(RuntimeError):
            m.isclose(m.ones(2), m.ones(2, dtype=m.float64))
        with pytest.raises(RuntimeError):
            m.isclose(m.ones(2), m.ones(2), rtol=-1.0)


@pytest.mark.parametrize("kw", [{}, {"nan": 1.5}, {"posinf": 7.0, "neginf": -9.0}])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_to_num(kw, dtype):
    a = np.array(SPECIAL, dtype=dtype)
    gx, tx = g.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = g.nan_to_num(gx, **kw), torch.nan_to_num(tx, **kw)
    np.testing.assert_array_equal(_np(got), _np(want))
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_array_equal(gx.grad.numpy(), tx.grad.numpy())
    assert g.nan_to_num(g.tensor([1, 2])).tolist() == [1, 2]


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), ((0, 2), False), (-1, False), ((0, 1, 2), True)])
def test_logsumexp(dim, keepdim):
    a = np.random.default_rng(0).standard_normal((3, 4, 5)) * 30
    a[0, 1, :] = -np.inf
    a[1, 2, 3] = np.inf
    gx, tx = g.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = g.logsumexp(gx, dim, keepdim), torch.logsumexp(tx, dim, keepdim)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-12)
    b = np.random.default_rng(1).standard_normal((3, 4, 5)) * 30  # finite: gradients comparable
    gx, tx = g.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    w = np.random.default_rng(2).standard_normal(tuple(want.shape))
    (g.logsumexp(gx, dim, keepdim) * g.tensor(w)).sum().backward()
    (torch.logsumexp(tx, dim, keepdim) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert g.tensor(b).logsumexp(dim, keepdim).shape == tuple(want.shape)


def test_logsumexp_int_and_errors():
    assert g.logsumexp(g.tensor([1, 2, 3]), 0).dtype == g.float32
    np.testing.assert_allclose(g.logsumexp(g.tensor([1, 2, 3]), 0).item(),
                               torch.logsumexp(torch.tensor([1, 2, 3]), 0).item(), rtol=1e-6)
    with pytest.raises(IndexError):
        g.logsumexp(g.ones(2, 3), 2)


@pytest.mark.parametrize("fn", ["var_mean", "std_mean"])
@pytest.mark.parametrize("args,kw", [((), {}), ((1,), {}), ((1,), {"keepdim": True}), (((0, 1),), {"correction": 0}),
                                     ((0,), {"unbiased": False}), ((False,), {})])
def test_var_std_mean(fn, args, kw):
    a = np.random.default_rng(3).standard_normal((4, 5))
    gx, tx = g.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    gv, gm = getattr(g, fn)(gx, *args, **kw)
    tv, tm = getattr(torch, fn)(tx, *args, **kw)
    np.testing.assert_allclose(_np(gv), _np(tv), rtol=1e-12)
    np.testing.assert_allclose(_np(gm), _np(tm), rtol=1e-12)
    (gv.sum() + 2 * gm.sum()).backward()
    (tv.sum() + 2 * tm.sum()).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_outer_and_numel():
    a, b = np.arange(3.0), np.arange(4.0) - 1
    gx, gy = g.tensor(a, requires_grad=True), g.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    np.testing.assert_array_equal(_np(g.outer(gx, gy)), _np(torch.outer(tx, ty)))
    g.outer(gx, gy).sum().backward()
    torch.outer(tx, ty).sum().backward()
    np.testing.assert_array_equal(gx.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(gy.grad.numpy(), ty.grad.numpy())
    assert g.ger(gx, gy).shape == (3, 4) and gx.outer(gy).shape == (3, 4)
    with pytest.raises(RuntimeError):
        g.outer(g.ones(2, 2), g.ones(2))
    assert g.numel(g.ones(2, 3, 4)) == 24


@pytest.mark.parametrize("sa,sb,dims", [((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 2), 1), ((2, 3), (4, 5), 0),
                                        ((3, 4, 5), (5, 3, 2), ([0, 2], [1, 0])), ((4, 5), (5, 4), ([1], [0]))])
def test_tensordot(sa, sb, dims):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ga, gb = g.tensor(a, requires_grad=True), g.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    got, want = g.tensordot(ga, gb, dims), torch.tensordot(ta, tb, dims)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-10, atol=1e-12)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb.grad.numpy(), tb.grad.numpy(), rtol=1e-10)


def test_tensordot_errors():
    for m in (g, torch):
        with pytest.raises(RuntimeError):
            m.tensordot(m.ones(2, 3), m.ones(4, 5), 1)
        with pytest.raises(RuntimeError):
            m.tensordot(m.ones(2, 3), m.ones(3, 5), ([1, 0], [0]))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_meshgrid(indexing, n):
    arrays = [np.arange(k + 2.0) * (k + 1) for k in range(n)]
    got = g.meshgrid(*[g.tensor(a) for a in arrays], indexing=indexing)
    want = torch.meshgrid(*[torch.tensor(a) for a in arrays], indexing=indexing)
    assert len(got) == len(want)
    for x, y in zip(got, want):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    got = g.meshgrid([g.tensor(a) for a in arrays], indexing=indexing)
    assert [tuple(x.shape) for x in got] == [tuple(y.shape) for y in want]


def test_meshgrid_warns_and_errors():
    with pytest.warns(UserWarning, match="indexing"):
        g.meshgrid(g.arange(2), g.arange(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.meshgrid(g.arange(2), indexing="ij")
    with pytest.raises(ValueError):
        g.meshgrid(g.arange(2), indexing="yx")
    with pytest.raises(RuntimeError):
        g.meshgrid(g.ones(2, 2), indexing="ij")


def test_new_factories():
    x = g.ones(2, dtype=g.float64)
    for name, args in [("new_zeros", (2, 3)), ("new_ones", ((2, 3),)), ("new_empty", ([4],))]:
        t = getattr(x, name)(*args)
        assert t.dtype == g.float64 and tuple(t.shape) == (4,) if name == "new_empty" else (2, 3)
    assert x.new_zeros(3, dtype=g.int64).dtype == g.int64
    assert x.new_ones(2, requires_grad=True).requires_grad
    f = x.new_full((2, 2), 7)
    assert f.dtype == g.float64 and f.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    t = x.new_tensor([1, 2])
    assert t.dtype == g.float64 and t.tolist() == [1.0, 2.0]
    with pytest.warns(UserWarning, match="detach"):
        c = x.new_tensor(g.ones(3, requires_grad=True))
    assert not c.requires_grad and c.dtype == g.float64
    assert math.isclose(g.ones(1).new_full([1], 0.5).item(), 0.5)
