"""Reductions: values vs NumPy over dim int/tuple/None, keepdim, negative dims, non-contiguous
inputs, 0-dim, sizes 1/7/129 and sizes that take the OpenMP paths; gradients by finite
differences in float64; PyTorch's overloads, dtypes and error types; parity with torch."""
import math
import warnings

import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn

F32_TOL = dict(rtol=2e-5, atol=1e-5)
F64_TOL = dict(rtol=1e-10, atol=1e-12)


def np_axis(dim):
    return None if dim is None or dim == () else dim


def np_norm(a, p, axis, keepdims):
    a = np.abs(a.astype(np.float64))
    if p == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdims).astype(np.float64)
    if p == math.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    return np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


# name -> (gradcore call, NumPy reference); dims of any kind (None, int, tuple).
MULTI_DIM_OPS = {
    "sum": (lambda t, d, k: t.sum(dim=d, keepdim=k), lambda a, d, k: np.sum(a, axis=np_axis(d), keepdims=k)),
    "mean": (lambda t, d, k: t.mean(d, k), lambda a, d, k: np.mean(a, axis=np_axis(d), keepdims=k)),
    "var": (lambda t, d, k: t.var(d, keepdim=k), lambda a, d, k: np.var(a, axis=np_axis(d), ddof=1, keepdims=k)),
    "var_c0": (lambda t, d, k: gradcore.var(t, d, keepdim=k, correction=0),
               lambda a, d, k: np.var(a, axis=np_axis(d), keepdims=k)),
    "std": (lambda t, d, k: t.std(d, keepdim=k), lambda a, d, k: np.std(a, axis=np_axis(d), ddof=1, keepdims=k)),
    "std_biased": (lambda t, d, k: gradcore.std(t, dim=d, unbiased=False, keepdim=k),
                   lambda a, d, k: np.std(a, axis=np_axis(d), keepdims=k)),
    "amax": (lambda t, d, k: t.amax(d if d is not None else (), k), lambda a, d, k: np.max(a, axis=np_axis(d), keepdims=k)),
    "amin": (lambda t, d, k: gradcore.amin(t, dim=d, keepdim=k), lambda a, d, k: np.min(a, axis=np_axis(d), keepdims=k)),
    "norm2": (lambda t, d, k: t.norm(dim=d, keepdim=k), lambda a, d, k: np_norm(a, 2, np_axis(d), k)),
    "norm1": (lambda t, d, k: gradcore.norm(t, 1, d, k), lambda a, d, k: np_norm(a, 1, np_axis(d), k)),
    "norm_inf": (lambda t, d, k: t.norm(math.inf, d, k), lambda a, d, k: np_norm(a, math.inf, np_axis(d), k)),
    "norm_ninf": (lambda t, d, k: t.norm(-math.inf, d, k), lambda a, d, k: np_norm(a, -math.inf, np_axis(d), k)),
    "norm3": (lambda t, d, k: t.norm(p=3, dim=d, keepdim=k), lambda a, d, k: np_norm(a, 3, np_axis(d), k)),
    "norm0": (lambda t, d, k: t.norm(0, d, k), lambda a, d, k: np_norm(a, 0, np_axis(d), k)),
}
# Ops over one dim or all (dim=None).
ONE_DIM_OPS = {
    "prod": (lambda t, d, k: t.prod(d, k), lambda a, d, k: np.prod(a, axis=d, keepdims=k)),
    "argmax": (lambda t, d, k: t.argmax(d, k),
               lambda a, d, k: np.argmax(a, axis=d, keepdims=k) if d is not None or not k
               else np.argmax(a).reshape((1,) * a.ndim)),
    "argmin": (lambda t, d, k: gradcore.argmin(t, dim=d, keepdim=k),
               lambda a, d, k: np.argmin(a, axis=d, keepdims=k) if d is not None or not k
               else np.argmin(a).reshape((1,) * a.ndim)),
    "any": (lambda t, d, k: (t > 0.5).any(d, k), lambda a, d, k: np.any(a > 0.5, axis=d, keepdims=k)),
    "all": (lambda t, d, k: gradcore.all(t > -1.0, d, k), lambda a, d, k: np.all(a > -1.0, axis=d, keepdims=k)),
}

SHAPES = [(1,), (7,), (129,), (3, 4, 5), (2, 1, 7)]


def dims_for(ndim, multi):
    ds = [None, 0, -1]
    if ndim >= 3:
        ds += [1, -2]
        if multi:
            ds += [(0, 2), (-1, 0), (0, 1, 2), ()]
    elif multi:
        ds += [(0,), ()]
    return ds


def variants(shape, dtype=np.float64, seed=0):
    """(name, NumPy array, gradcore tensor with those values): contiguous, transposed, sliced with a
    step, and expanded (stride 0) where the shape allows."""
    rng = np.random.default_rng(seed)

    def data(s):
        if dtype == np.int64:
            return rng.integers(-5, 6, size=s).astype(np.int64)
        return (rng.uniform(0.5, 1.5, size=s) * rng.choice([-1.0, 1.0], size=s)).astype(dtype)

    base = data(shape)
    out = [("contiguous", base, gradcore.tensor(base))]
    if len(shape) >= 2:
        perm = tuple(reversed(range(len(shape))))
        stored = np.ascontiguousarray(base.transpose(perm))
        out.append(("transposed", base, gradcore.tensor(stored).permute(*perm)))
    wide = data(shape[:-1] + (2 * shape[-1],))
    t = gradcore.tensor(wide)._slice(len(shape) - 1, 0, 2 * shape[-1], 2)
    out.append(("sliced", wide[..., ::2], t))
    if shape[0] > 1:
        row = data((1,) + shape[1:])
        out.append(("expanded", np.broadcast_to(row, shape), gradcore.tensor(row).expand(*shape)))
    return out


def check(actual, expected, dtype):
    tol = F64_TOL if dtype == np.float64 else F32_TOL
    assert_close(actual, np.asarray(expected), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(MULTI_DIM_OPS))
def test_multi_dim_values(name, shape, dtype):
    gop, nop = MULTI_DIM_OPS[name]
    for vname, a, t in variants(shape, dtype):
        assert not (vname == "transposed" and t.is_contiguous())
        for d in dims_for(len(shape), True):
            for k in (False, True):
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    exp = nop(a.astype(np.float64), d, k).astype(dtype)
                got = gop(t, d, k)
                assert got.dtype == t.dtype, (name, vname, d, k)
                check(got, exp, dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ONE_DIM_OPS))
def test_one_dim_values(name, shape):
    gop, nop = ONE_DIM_OPS[name]
    for vname, a, t in variants(shape):
        for d in dims_for(len(shape), False):
            for k in (False, True):
                got, exp = gop(t, d, k), nop(a, d, k)
                assert got.shape == exp.shape, (name, vname, d, k)
                np.testing.assert_allclose(got.numpy(), exp, rtol=1e-12, err_msg=f"{name} {vname} dim={d} keepdim={k}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("is_max", [True, False])
def test_max_min_dim_values_and_indices(shape, is_max):
    for vname, a, t in variants(shape):
        for d in [x for x in dims_for(len(shape), False) if x is not None]:
            for k in (False, True):
                r = t.max(d, k) if is_max else gradcore.min(t, dim=d, keepdim=k)
                ev = (np.max if is_max else np.min)(a, axis=d, keepdims=k)
                ei = (np.argmax if is_max else np.argmin)(a, axis=d, keepdims=k)
                assert_close(r.values, ev, rtol=0, atol=0)
                np.testing.assert_array_equal(r.indices.numpy(), ei)
                assert r.indices.dtype == gradcore.int64


def test_all_reduce_max_min_values():
    a = np.random.default_rng(1).standard_normal((4, 5))
    t = gradcore.tensor(a)
    assert t.max().shape == () and t.max().item() == a.max()
    assert gradcore.min(t).item() == a.min()
    assert t.t().max().item() == a.max()


def test_sum_mean_dtypes():
    i = gradcore.tensor([[1, 2], [3, 4]])
    b = gradcore.tensor([True, False, True])
    assert i.sum().dtype == gradcore.int64 and i.sum().item() == 10
    assert b.sum().dtype == gradcore.int64 and b.sum().item() == 2
    assert i.sum(1, dtype=gradcore.float64).dtype == gradcore.float64
    assert_close(i.mean(dtype=gradcore.float32), np.float32(2.5))
    x = gradcore.tensor([1.0, 2.0], dtype=gradcore.float64)
    assert x.sum().dtype == gradcore.float64 and x.mean().dtype == gradcore.float64


def test_integer_reductions():
    a = np.array([[3, -7, 2], [5, 5, -1]], dtype=np.int64)
    t = gradcore.tensor(a)
    for r, e in [(t.max(), a.max()), (t.min(), a.min()), (t.amax(0), a.max(0)), (t.amin(1), a.min(1)),
                 (t.prod(), a.prod()), (t.prod(1), a.prod(1)), (t.sum(0), a.sum(0)), (t.argmax(), a.argmax()),
                 (t.argmin(1), a.argmin(1)), (t.max(1).values, a.max(1))]:
        assert r.dtype == gradcore.int64
        np.testing.assert_array_equal(r.numpy(), e)
    np.testing.assert_array_equal(t.max(1).indices.numpy(), [0, 0])  # first index among ties
    b = gradcore.tensor([True, False])
    assert b.prod().dtype == gradcore.int64 and b.prod().item() == 0
    assert b.max().dtype == gradcore.bool and b.max().item() is True
    assert b.amin().item() is False
    assert b.max(0).indices.item() == 0
    # Integer products wrap around on overflow instead of being undefined behaviour.
    big = gradcore.tensor([2 ** 40, 2 ** 40])
    assert big.prod().item() == 0


def test_zero_dim_inputs():
    x = gradcore.tensor(3.5, dtype=gradcore.float64)
    for r in [x.sum(), x.sum(0), x.mean(-1), x.amax(), x.amin(0), x.prod(), x.prod(0), x.norm(), x.max(),
              x.max(0).values, x.min(-1, True).values, x.var(correction=0), x.norm(1, 0)]:
        assert r.shape == ()
    assert x.max(0).values.item() == 3.5 and x.max(0).indices.item() == 0
    assert x.argmax().item() == 0 and x.argmin(0).item() == 0
    assert x.norm().item() == 3.5 and x.prod().item() == 3.5
    assert math.isnan(x.var().item())  # one element, correction 1: 0/0, as PyTorch
    assert x.any().item() is True and x.all(0).item() is True
    with pytest.raises(IndexError, match="dim"):
        x.sum(1)
    with pytest.raises(IndexError, match="max"):
        x.max(1)


def test_empty_reductions():
    e = gradcore.zeros((2, 0))
    assert_close(e.sum(1), np.zeros(2, np.float32))
    assert_close(e.prod(1), np.ones(2, np.float32))
    assert_close(e.norm(dim=1), np.zeros(2, np.float32))
    assert math.isnan(e.mean().item())
    assert math.isnan(e.var().item()) and math.isnan(e.std().item())
    assert e.any().item() is False and e.all().item() is True
    assert e.any(1).tolist() == [False, False] and e.all(1).tolist() == [True, True]
    assert e.amax(0).shape == (0,) and e.max(0).values.shape == (0,) and e.argmax(0).shape == (0,)
    with pytest.raises(RuntimeError, match="max"):
        e.max()
    with pytest.raises(RuntimeError, match="min"):
        gradcore.min(e)
    with pytest.raises(RuntimeError, match="amax"):
        e.amax()
    with pytest.raises(IndexError, match="argmax"):
        e.argmax()
    with pytest.raises(IndexError, match="dim 1"):
        e.max(1)
    with pytest.raises(IndexError, match="dim 1"):
        e.amin(1)
    with pytest.raises(IndexError, match="dim 1"):
        e.argmin(1)
    with pytest.raises(RuntimeError, match="norm"):
        e.norm(math.inf)


def test_nan_propagates():
    nan = float("nan")
    t = gradcore.tensor([[1.0, nan, 5.0, nan], [2.0, 3.0, -1.0, 0.0]])
    assert math.isnan(t.max().item()) and math.isnan(t.amin().item())
    r = t.max(1)
    assert math.isnan(r.values.tolist()[0])
    assert r.indices.tolist() == [1, 1]  # row 0: the first NaN
    assert t.min(1).indices.tolist() == [1, 2]
    assert t.argmax(1).tolist() == [1, 1] and t.argmin().item() == 1
    assert math.isnan(t.norm(math.inf, 1).tolist()[0])
    assert math.isnan(t.sum(1).tolist()[0]) and t.any(1).tolist() == [True, True]


def test_namedtuple_results():
    t = gradcore.tensor([[1.0, 4.0, 4.0], [0.0, -2.0, 3.0]])
    r = t.max(1)
    assert isinstance(r, tuple) and type(r) is gradcore.return_types.max
    assert type(t.min(0)) is gradcore.return_types.min
    values, indices = r
    assert values is r[0] and indices is r.indices and r.values.tolist() == [4.0, 3.0]
    assert indices.tolist() == [1, 2]
    assert gradcore.max(t, 1)[1].tolist() == [1, 2]
    kd = gradcore.max(t, dim=1, keepdim=True)
    assert kd.values.shape == (2, 1) and kd.indices.shape == (2, 1)
    assert "values=" in repr(r)


def test_max_min_with_other_tensor():
    a = gradcore.tensor([1.0, 5.0, -2.0])
    b = gradcore.tensor([3.0, 4.0, -2.0])
    assert a.max(b).tolist() == [3.0, 5.0, -2.0]
    assert gradcore.min(a, b).tolist() == [1.0, 4.0, -2.0]
    assert gradcore.max(a, other=b).tolist() == [3.0, 5.0, -2.0]
    assert gradcore.max(a, gradcore.tensor(0.0)).tolist() == [1.0, 5.0, 0.0]


def test_var_std_argument_forms():
    a = np.random.default_rng(3).standard_normal((4, 6))
    t = gradcore.tensor(a)
    assert_close(t.var(False), a.var(), **F64_TOL)
    assert_close(t.var(1, True), a.var(1, ddof=1), **F64_TOL)
    assert_close(gradcore.var(t, 0, False, True), a.var(0, keepdims=True), **F64_TOL)
    assert_close(t.std(dim=(0, 1), correction=2), a.std(ddof=2), **F64_TOL)
    assert_close(t.var(correction=0.5), a.var() * a.size / (a.size - 0.5), **F64_TOL)
    assert_close(gradcore.std(t, unbiased=True), a.std(ddof=1), **F64_TOL)
    assert math.isinf(gradcore.tensor([1.0, 2.0]).var(correction=3).item())  # M2 / max(0, N - c)


def test_norm_argument_forms():
    a = np.random.default_rng(4).standard_normal((3, 5))
    t = gradcore.tensor(a)
    assert_close(t.norm(), np.sqrt((a ** 2).sum()), **F64_TOL)
    assert_close(t.norm("fro", dim=1), np.sqrt((a ** 2).sum(1)), **F64_TOL)
    assert_close(t.norm(p=None), np.sqrt((a ** 2).sum()), **F64_TOL)
    assert_close(gradcore.norm(t, 2, 1, True), np.sqrt((a ** 2).sum(1, keepdims=True)), **F64_TOL)
    assert_close(t.norm(float("inf")), np.abs(a).max(), **F64_TOL)
    assert_close(t.norm(0.5, 0), np_norm(a, 0.5, 0, False), **F64_TOL)
    i = gradcore.tensor([[3, 4]])
    assert_close(i.norm(dtype=gradcore.float64), 5.0)
    assert_close(t.prod(1, dtype=gradcore.float32), a.prod(1).astype(np.float32))


def test_any_all_dims():
    a = np.array([[[0, 1], [0, 0]], [[1, 1], [0, 2]]], dtype=np.int64)
    t = gradcore.tensor(a)
    for d in [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2)]:
        for k in (False, True):
            np.testing.assert_array_equal(t.any(d, k).numpy(), np.any(a, axis=d, keepdims=k))
            np.testing.assert_array_equal(gradcore.all(t, dim=d, keepdim=k).numpy(), np.all(a, axis=d, keepdims=k))
    assert t.any(()).tolist() == (a != 0).tolist()  # an empty tuple reduces nothing, as in PyTorch
    f = gradcore.tensor([0.0, float("nan")])
    assert f.any().item() is True and f.all().item() is False


# ---- large inputs: the OpenMP paths (many outputs; few outputs with K split across threads) ----

@pytest.fixture
def four_threads():
    old = gradcore.get_num_threads()
    gradcore.set_num_threads(4)
    yield
    gradcore.set_num_threads(old)


# (300, 129) dim 1: many outputs, unit-stride lanes; dim 0: kept inner dim contiguous, one block of
# outputs with the rows split across threads; (3, 20000): few outputs, K split; (40, 50, 30) dim 1:
# many blocks of side-by-side outputs; transposed copies swap the inner and outer layouts.
LARGE_CASES = [((300, 129), 1), ((300, 129), 0), ((3, 20000), 1), ((3, 20000), -1), ((40000,), None),
               ((200, 300), None), ((40, 50, 30), 1), ((40, 50, 30), (0, 2))]


@pytest.mark.parametrize("shape,dim", LARGE_CASES, ids=str)
@pytest.mark.parametrize("transposed", [False, True])
def test_large_reductions(shape, dim, transposed, four_threads):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape)
    if transposed and len(shape) == 2:
        t = gradcore.tensor(np.ascontiguousarray(a.T)).t()
    else:
        t = gradcore.tensor(a)
    ax = dim
    tol = dict(rtol=1e-9, atol=1e-9)
    assert_close(t.sum(dim), a.sum(axis=ax), **tol)
    assert_close(t.mean(dim), a.mean(axis=ax), **tol)
    assert_close(t.var(dim), a.var(axis=ax, ddof=1), **tol)
    assert_close(t.std(dim, correction=0), a.std(axis=ax), **tol)
    assert_close(t.amax(dim if dim is not None else ()), a.max(axis=ax), rtol=0, atol=0)
    assert_close(t.norm(dim=dim), np.sqrt((a ** 2).sum(axis=ax)), **tol)
    assert_close(t.norm(1, dim), np.abs(a).sum(axis=ax), **tol)
    assert_close(t.norm(math.inf, dim), np.abs(a).max(axis=ax), rtol=0, atol=0)
    if not isinstance(dim, tuple):
        np.testing.assert_array_equal(t.argmax(dim).numpy(), a.argmax(axis=ax))
        np.testing.assert_array_equal(t.argmin(dim).numpy(), a.argmin(axis=ax))
    np.testing.assert_array_equal((t > 3.5).any(dim).numpy(), (a > 3.5).any(axis=ax))
    np.testing.assert_array_equal((t > -3.5).all(dim).numpy(), (a > -3.5).all(axis=ax))
    if not isinstance(dim, tuple):
        near_one = 1.0 + 1e-3 * a
        tp = gradcore.tensor(near_one)
        assert_close(tp.prod(dim), near_one.prod(axis=ax), rtol=1e-9, atol=0)
    if isinstance(dim, int):
        r = t.max(dim)
        assert_close(r.values, a.max(axis=ax), rtol=0, atol=0)
        np.testing.assert_array_equal(r.indices.numpy(), a.argmax(axis=ax))


def test_large_ties_and_nans_take_the_first_index(four_threads):
    # The K-split path merges per-thread partials; the first index among ties must still win.
    n = 100003
    a = np.zeros(n)
    a[[70000, 30000, 99999]] = 2.0
    t = gradcore.tensor(a)
    assert t.argmax().item() == 30000
    assert (-t).argmin().item() == 30000
    assert t.reshape(1, n).max(1).indices.tolist() == [30000]
    a[[90000, 60000]] = np.nan
    t = gradcore.tensor(a)
    assert t.argmax().item() == 60000 and t.argmin().item() == 60000
    assert math.isnan(t.max().item()) and math.isnan(t.amin().item())


def test_ties_and_nans_across_interleaved_lanes():
    # Unit-stride reductions fold into interleaved partials; ties in different partials must
    # still resolve to the first index, and NaN must win wherever it sits.
    a = np.zeros((3, 100))
    a[0, [10, 5, 97]] = 3.0
    a[1, [40, 33]] = np.nan
    a[2, [64, 2]] = -1.0
    t = gradcore.tensor(a)
    assert t.argmax(1).tolist() == [5, 33, 0] and t.argmin(1).tolist() == [0, 33, 2]
    assert t.max(1).indices.tolist() == [5, 33, 0]
    assert t.t().argmax(0).tolist() == [5, 33, 0]  # the same through the side-by-side path
    v = t.amax(1).tolist()
    assert v[0] == 3.0 and math.isnan(v[1]) and v[2] == 0.0
    assert t.norm(math.inf, 1).tolist()[0] == 3.0 and math.isnan(t.norm(math.inf, 1).tolist()[1])


def test_large_float32_sum_accumulates_in_double(four_threads):
    a = np.full(1 << 20, 0.1, dtype=np.float32)
    t = gradcore.tensor(a)
    assert abs(t.sum().item() - a.astype(np.float64).sum()) < 1e-2
    assert abs(t.mean().item() - 0.1) < 1e-7
    # Welford: no catastrophic cancellation with a large offset.
    b = (1e4 + np.random.default_rng(6).standard_normal(50000)).astype(np.float64)
    assert_close(gradcore.tensor(b).var(), b.var(ddof=1), rtol=1e-10, atol=0)


# ---- gradients ----

GRAD_CASES = {
    "sum_dim": lambda t: t.sum(1),
    "sum_tuple_keepdim": lambda t: t.sum((0, 2), keepdim=True),
    "mean_all": lambda t: t.mean(),
    "mean_neg": lambda t: t.mean(-1),
    "var_dim": lambda t: t.var(1),
    "var_all_c0": lambda t: t.var(correction=0),
    "var_tuple_keepdim": lambda t: t.var((0, 2), keepdim=True),
    "std_dim": lambda t: t.std(-1),
    "std_all": lambda t: gradcore.std(t, unbiased=False),
    "prod_dim": lambda t: t.prod(1),
    "prod_all": lambda t: t.prod(),
    "prod_keepdim": lambda t: t.prod(-1, True),
    "amax_dim": lambda t: t.amax(1),
    "amin_tuple": lambda t: t.amin((0, 2)),
    "max_all": lambda t: t.max(),
    "max_dim": lambda t: t.max(1).values,
    "min_dim_keepdim": lambda t: t.min(-1, keepdim=True).values,
    "norm2": lambda t: t.norm(),
    "norm2_dim": lambda t: t.norm(dim=1),
    "norm1": lambda t: t.norm(1, (0, 2)),
    "norm_inf": lambda t: t.norm(math.inf, -1),
    "norm3": lambda t: t.norm(3, 1, True),
    "norm_half": lambda t: t.norm(0.5, 0),
    "transposed_var": lambda t: t.transpose(0, 2).var(0),
    "sliced_prod": lambda t: t._slice(2, 0, 4, 2).prod(2),
    "expanded_max": lambda t: t._slice(0, 0, 1, 1).expand(3, 3, 4).amax((0, 1)),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients(name):
    # Distinct values away from zero: no ties, no kinks of |x| within the finite-difference step.
    rng = np.random.default_rng(7)
    a = rng.permutation(np.linspace(0.5, 1.5, 24)).reshape(2, 3, 4) * rng.choice([-1.0, 1.0], (2, 3, 4))
    gradcheck_fn(GRAD_CASES[name], a)


def test_gradient_shapes_and_dtypes_float32():
    x = gradcore.tensor(np.random.default_rng(8).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    for f in [lambda t: t.var(0), lambda t: t.std(), lambda t: t.prod(1), lambda t: t.amax(0),
              lambda t: t.max(1).values, lambda t: t.norm(dim=0), lambda t: t.t().max(0).values]:
        x.grad = None
        f(x).sum().backward()
        assert x.grad.shape == (3, 4) and x.grad.dtype == gradcore.float32


def test_prod_gradient_with_zeros():
    for a in ([[2.0, 0.0, 3.0], [1.0, 4.0, 5.0]], [[0.0, 2.0, 0.0], [0.0, 1.0, 1.0]]):
        gradcheck_fn(lambda t: t.prod(1), np.array(a))
        gradcheck_fn(lambda t: t.prod(), np.array(a))
    x = gradcore.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]


def test_ties_split_gradient_evenly():
    x = gradcore.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    assert_close(x.grad, np.array([[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], np.float32))
    x.grad = None
    x.max().backward()
    assert_close(x.grad, np.array([[0, 0.5, 0.5], [0, 0, 0]], np.float32))
    x.grad = None
    x.max(1).values.sum().backward()  # max along a dim: all of it to the first index
    assert_close(x.grad, np.array([[0, 1, 0], [1, 0, 0]], np.float32))
    x.grad = None
    x.norm(math.inf).backward()
    assert_close(x.grad, np.array([[0, 0.5, 0.5], [0, 0, 0]], np.float32))


def test_degenerate_gradients_are_finite():
    x = gradcore.zeros(3, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    c = gradcore.tensor([1.0, 1.0, 1.0], requires_grad=True)
    c.std().backward()
    assert c.grad.tolist() == [0.0, 0.0, 0.0]  # std == 0: PyTorch masks the gradient to 0


def test_non_differentiable_outputs():
    x = gradcore.tensor([[1.0, 2.0]], requires_grad=True)
    assert not x.argmax().requires_grad and not x.any().requires_grad
    r = x.max(1)
    assert r.values.requires_grad and not r.indices.requires_grad
    assert r.values.grad_fn is not None
    with gradcore.no_grad():
        assert not x.var().requires_grad


# ---- errors ----

def test_error_types_and_messages():
    i = gradcore.tensor([1, 2, 3])
    f = gradcore.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match=r"var.*int64.*float"):
        i.var()
    with pytest.raises(RuntimeError, match=r"std.*int64"):
        gradcore.std(i)
    with pytest.raises(RuntimeError, match=r"mean.*Long|mean.*int64"):
        i.mean()
    with pytest.raises(RuntimeError, match=r"norm.*int64"):
        i.norm()
    with pytest.raises(RuntimeError, match="argmax.*bool"):
        gradcore.tensor([True]).argmax()
    with pytest.raises(IndexError, match="range"):
        f.sum(2)
    with pytest.raises(IndexError, match="range"):
        f.max(-3)
    with pytest.raises(IndexError, match="range"):
        f.argmin(5)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        f.sum((0, -2))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        f.amax((1, 1))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        f.any((1, -1))
    with pytest.raises(TypeError, match="dim"):
        f.max(1.5)
    with pytest.raises(TypeError, match="dim"):
        f.prod((0, 1))
    with pytest.raises(TypeError, match="dim"):
        f.argmax((0,))
    with pytest.raises(TypeError, match="keepdim"):
        f.max(1, keepdim=1)
    with pytest.raises(TypeError, match="keepdim"):
        f.max(keepdim=True)
    with pytest.raises(TypeError, match="unbiased.*correction|correction.*unbiased"):
        f.var(unbiased=True, correction=1)
    with pytest.raises(NotImplementedError, match="nuc"):
        f.norm("nuc")
    with pytest.raises(RuntimeError, match="abc"):
        f.norm("abc")
    with pytest.raises(TypeError, match="Tensor"):
        gradcore.sum([1.0, 2.0])


# ---- parity with PyTorch ----

def test_torch_parity_values_and_gradients():
    torch = pytest.importorskip("torch")
    a = np.array([[[1.0, 3.0, 3.0, -2.0], [0.5, -4.0, 2.0, 2.0], [1.5, 1.5, -1.5, 0.0]],
                  [[2.0, -1.0, 0.0, 4.0], [4.0, 4.0, -3.0, 1.0], [0.25, 1.0, 2.0, -0.5]]])
    cases = [
        lambda m, t: t.sum((0, 2)), lambda m, t: t.mean(1, True), lambda m, t: t.var(1),
        lambda m, t: t.var(-1, correction=0), lambda m, t: t.std((0, 1), keepdim=True), lambda m, t: t.prod(2),
        lambda m, t: t.prod(), lambda m, t: t.amax(-1), lambda m, t: t.amin((0, 2)), lambda m, t: t.max(),
        lambda m, t: t.min(), lambda m, t: t.max(2).values, lambda m, t: t.min(1, True).values,
        lambda m, t: t.norm(), lambda m, t: t.norm(1, 2), lambda m, t: t.norm(float("inf"), (0, 1)),
        lambda m, t: t.norm(3, -1, True), lambda m, t: m.max(t, 2).values, lambda m, t: m.var(t, 0, False),
    ]
    for k, f in enumerate(cases):
        g = gradcore.tensor(a, requires_grad=True)
        tt = torch.tensor(a, requires_grad=True)
        og, ot = f(gradcore, g), f(torch, tt)
        assert_close(og, ot.detach().numpy(), rtol=1e-12, atol=1e-12)
        w = np.random.default_rng(k).standard_normal(ot.shape)
        og.backward(gradcore.tensor(w))
        ot.backward(torch.tensor(w))
        assert_close(g.grad, tt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_torch_parity_indices_and_special_values():
    torch = pytest.importorskip("torch")
    nan = float("nan")
    a = np.array([[1.0, 5.0, 5.0, -1.0], [nan, 2.0, nan, 0.0], [-3.0, -3.0, 7.0, 7.0]])
    g, t = gradcore.tensor(a), torch.tensor(a)
    for d in (0, 1, -1):
        for k in (False, True):
            for name in ("max", "min"):
                rg, rt = getattr(g, name)(d, k), getattr(t, name)(d, k)
                assert_close(rg.values, rt.values.numpy(), rtol=0, atol=0)
                np.testing.assert_array_equal(rg.indices.numpy(), rt.indices.numpy())
            np.testing.assert_array_equal(g.argmax(d, k).numpy(), t.argmax(d, k).numpy())
            np.testing.assert_array_equal(g.argmin(d, k).numpy(), t.argmin(d, k).numpy())
    assert g.argmax().item() == t.argmax().item()
    assert g.argmax(keepdim=True).shape == tuple(t.argmax(keepdim=True).shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = np.array([2.0])
        for c in (0, 1, 2):
            vg, vt = gradcore.tensor(one).var(correction=c).item(), torch.tensor(one).var(correction=c).item()
            assert (math.isnan(vg) and math.isnan(vt)) or vg == vt
    i = np.array([[4, -2, 9], [9, 1, -7]], dtype=np.int64)
    gi, ti = gradcore.tensor(i), torch.tensor(i)
    assert gi.prod().item() == ti.prod().item() and gi.max().item() == ti.max().item()
    np.testing.assert_array_equal(gi.max(0).indices.numpy(), ti.max(0).indices.numpy())
    np.testing.assert_array_equal(gi.sum(1).numpy(), ti.sum(1).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [33, 40, 64, 127, 128, 129, 300, 1000, 4097])
def test_vector_runs_match_the_generic_fold(dtype, n):
    # Unit-stride float runs of at least two vectors take the vector folds (cpu/reduce.h,
    # add_run); the same values read with a stride take the generic fold: the slow twin.
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(dtype)
    a[n // 3] = a[n // 2] = a.max() + 1  # a tie for the maximum: the first index wins
    a[n // 5] = -0.0
    cases = [a]
    b = a.copy()
    b[[n // 7, n - 2]] = np.nan
    cases.append(b)
    c = a.copy()
    c[n // 4] = -np.inf
    c[n - 1] = np.inf
    cases.append(c)
    for v in cases:
        fast = gradcore.tensor(v)
        slow = gradcore.tensor(np.stack([v, np.zeros_like(v)], 1))[:, 0]
        assert fast.is_contiguous() and not slow.is_contiguous()
        for op in ("amax", "amin", "argmax", "argmin"):
            f, s = getattr(fast, op)().item(), getattr(slow, op)().item()
            assert f == s or (math.isnan(f) and math.isnan(s)), (op, f, s)
        for ord_ in (1, 2, math.inf):
            f, s = fast.norm(ord_).item(), slow.norm(ord_).item()
            assert f == pytest.approx(s, rel=1e-6, nan_ok=True), ord_
        f, s = fast.sum().item(), slow.sum().item()
        assert f == pytest.approx(s, rel=1e-6, abs=1e-6, nan_ok=True)
        with np.errstate(invalid="ignore"):  # inf + -inf
            expect = float(np.sum(v.astype(np.float64)))
        assert f == pytest.approx(expect, rel=1e-6, abs=1e-5, nan_ok=True)
        # rows: one run per output
        rows = np.stack([v, v[::-1].copy()])
        fr = gradcore.tensor(rows)
        sr = gradcore.tensor(np.ascontiguousarray(rows.T)).t()
        for op in ("argmax", "argmin"):
            assert getattr(fr, op)(1).tolist() == getattr(sr, op)(1).tolist()
        np.testing.assert_allclose(fr.sum(1).numpy(), sr.sum(1).numpy(), rtol=1e-6, atol=1e-5)
