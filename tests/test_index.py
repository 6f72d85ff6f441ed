"""Indexing: Tensor.__getitem__ / __setitem__ against NumPy (and PyTorch where they differ), views
sharing memory, gather / scatter_add / index_select / masked_fill / nonzero / index_put_,
their gradients, and their errors."""
import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn, to_np

RNG = np.random.default_rng(0)
A2 = np.arange(35, dtype=np.float32).reshape(5, 7)
A3 = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)


def gc_index(idx):
    """The same index with NumPy arrays turned into gradcore tensors."""
    if isinstance(idx, tuple):
        return tuple(gc_index(i) for i in idx)
    if isinstance(idx, np.ndarray):
        return gradcore.tensor(idx)
    return idx


def layouts(arr):
    """arr as a contiguous, a transposed, a step-sliced and (when it has a size-1 row) an
    expanded tensor: same values, different strides."""
    out = [gradcore.tensor(arr)]
    if arr.ndim >= 2:
        perm = tuple(reversed(range(arr.ndim)))
        out.append(gradcore.tensor(np.ascontiguousarray(arr.transpose(perm))).permute(*perm))
    if arr.ndim >= 1:
        big = np.zeros(arr.shape[:-1] + (arr.shape[-1] * 2,), arr.dtype)
        big[..., ::2] = arr
        out.append(gradcore.tensor(big)[..., ::2])
    for t in out:
        assert to_np(t).tolist() == arr.tolist()
    return out


# ---- getitem vs NumPy (forms where PyTorch and NumPy agree) ----

CASES_2D = [
    1, -1, 4, slice(1, 3), slice(None, None, 2), slice(1, 5, 3), slice(-3, None), slice(10, 20),
    None, Ellipsis, (slice(None), None), (Ellipsis, 1), (slice(None, None, 2), slice(1, 5, 3)),
    (None, Ellipsis, None), (1, 2), (-1, slice(2, 3)), (), (slice(None), 0),
    [0, 2], [4, 0, 4], [-1, 0], [], np.array([[0, 1], [2, 0]]),
    (slice(None), [0, 6, 3]), ([0, 2], slice(1, 3)), ([[0], [1]], [0, 1, 2]),
    (np.arange(5), np.array([0, 6, 2, 1, 3])), ([1, 3], [2, 2]),
    A2 > 10, np.array([True, False, True, True, False]), (slice(None), np.arange(7) % 2 == 0),
    (Ellipsis, [1, 2]), ([1], Ellipsis, [1, 2]), (None, [0, 1], None, [1, 2]), ([0, 1], None),
    True, False, (1, True), (np.array(2), slice(None)),
]


@pytest.mark.parametrize("idx", CASES_2D, ids=[repr(c)[:40] for c in CASES_2D])
def test_getitem_matches_numpy_2d(idx):
    expected = A2[idx]
    for t in layouts(A2):
        got = t[gc_index(idx)]
        assert tuple(got.shape) == expected.shape
        np.testing.assert_array_equal(to_np(got), expected)


CASES_3D = [
    (slice(None), [0, 1], [1, 2]), ([0, 1], slice(None), [1, 2]), ([[0], [1]], slice(1, None), [1, 2]),
    (Ellipsis, [1, 2]), (0, [0, 2]), ([1, 0], 1, [1, 2]), (slice(None), slice(None), [3, 0, -1]),
    np.array([[True, False, True], [True, True, False]]),
    (np.array([[True, False, True], [True, True, False]]), 1), (A3 > 7,),
]


@pytest.mark.parametrize("idx", CASES_3D, ids=[repr(c)[:40] for c in CASES_3D])
def test_getitem_matches_numpy_3d(idx):
    expected = A3[idx]
    for t in layouts(A3):
        got = t[gc_index(idx)]
        assert tuple(got.shape) == expected.shape
        np.testing.assert_array_equal(to_np(got), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
def test_getitem_dtypes(dtype):
    a = (np.arange(24).reshape(4, 6) % 3).astype(dtype)
    t = gradcore.tensor(a)
    for idx in [1, (slice(None), 2), [3, 1, 1], (np.arange(4), np.array([5, 0, 1, 2])), a != 0]:
        got = t[gc_index(idx)]
        assert got.dtype == t.dtype
        np.testing.assert_array_equal(to_np(got), a[idx])


def test_numpy_indices_directly():
    t = gradcore.tensor(A2)
    np.testing.assert_array_equal(to_np(t[np.array([3, 1])]), A2[[3, 1]])
    np.testing.assert_array_equal(to_np(t[np.array([3, 1], dtype=np.int32)]), A2[[3, 1]])
    np.testing.assert_array_equal(to_np(t[A2 > 20]), A2[A2 > 20])
    np.testing.assert_array_equal(to_np(t[np.int64(2)]), A2[2])
    np.testing.assert_array_equal(to_np(t[np.int32(-1), np.uint8(3)]), A2[-1, 3])
    np.testing.assert_array_equal(to_np(t[np.bool_(True)]), A2[True])
    np.testing.assert_array_equal(to_np(t[[[0, 1], [4, 4]]]), A2[np.array([[0, 1], [4, 4]])])


def test_logits_labels_and_large_gathers():
    n, c = 129, 7
    logits = RNG.standard_normal((n, c)).astype(np.float32)
    labels = RNG.integers(0, c, n)
    t = gradcore.tensor(logits)
    got = t[gradcore.arange(n), gradcore.tensor(labels)]
    np.testing.assert_array_equal(to_np(got), logits[np.arange(n), labels])
    # big enough for the parallel paths (rows, columns, scattered elements)
    big = RNG.standard_normal((300, 257)).astype(np.float32)
    rows = RNG.integers(-300, 300, 1000)
    cols = RNG.integers(0, 257, 1000)
    tb = gradcore.tensor(big)
    np.testing.assert_array_equal(to_np(tb[gradcore.tensor(rows)]), big[rows])
    np.testing.assert_array_equal(to_np(tb[:, gradcore.tensor(cols)]), big[:, cols])
    np.testing.assert_array_equal(to_np(tb[gradcore.tensor(rows), gradcore.tensor(cols)]), big[rows, cols])
    bad = rows.copy()
    bad[-1] = 300
    with pytest.raises(IndexError, match="index 300 is out of bounds for dimension 0 with size 300"):
        tb[gradcore.tensor(bad)]
    many = RNG.integers(0, 300, 100_000)  # the parallel bounds check
    many[77_777] = -301
    with pytest.raises(IndexError, match="index -301 is out of bounds for dimension 0 with size 300"):
        tb[gradcore.tensor(many)]
    with pytest.raises(RuntimeError, match="index -301 is out of bounds for dimension 0 with size 300"):
        gradcore.gather(tb, 0, gradcore.tensor(many[:77_800].reshape(389, 200)))


def test_noncontiguous_index_tensors():
    idx = gradcore.tensor([[0, 4], [2, 1], [3, 3]])
    t = gradcore.tensor(A2)
    np.testing.assert_array_equal(to_np(t[idx.t()]), A2[to_np(idx).T])
    np.testing.assert_array_equal(to_np(t[idx[:, 1]]), A2[to_np(idx)[:, 1]])
    np.testing.assert_array_equal(to_np(t[gradcore.tensor([2]).expand(4)]), A2[[2, 2, 2, 2]])


def test_zero_dim_and_empty():
    s = gradcore.tensor(5.0)
    assert s[...].shape == () and s[...].item() == 5.0
    assert s[None].shape == (1,)
    assert s[True].shape == (1,) and s[False].shape == (0,)
    e = gradcore.zeros(0, 3)
    assert e[:, 1].shape == (0,)
    assert e[gradcore.tensor([], dtype=gradcore.int64)].shape == (0, 3)
    assert gradcore.tensor(A2)[gradcore.zeros(0, 2, dtype=gradcore.int64)].shape == (0, 2, 7)
    assert gradcore.tensor(A2)[gradcore.zeros(5, dtype=gradcore.bool)].shape == (0, 7)
    one = gradcore.tensor([[3.0]])
    assert one[0, 0].item() == 3.0 and one[[0], [0]].tolist() == [3.0]
    # 0-dim int64 tensors act as ints (a view), 0-dim bools as bools
    t = gradcore.tensor(A2)
    v = t[gradcore.tensor(2)]
    assert v._base is t and v.tolist() == A2[2].tolist()
    assert t[gradcore.tensor(True)].shape == (1, 5, 7)
    assert t[:, gradcore.tensor(-1)].tolist() == A2[:, -1].tolist()


# ---- views ----

def test_basic_indexing_returns_views_that_share_memory():
    x = gradcore.tensor(A2.copy())
    for idx in [1, (slice(None), 1), (slice(None, None, 2), slice(1, 5, 3)), (None, Ellipsis, 2), Ellipsis,
                slice(None), ()]:
        v = x[idx]
        assert v._base is x, idx
    row = x[1]
    row[0] = 100.0
    assert x[1, 0].item() == 100.0
    col = x[:, 3]
    col.fill_(-1.0)
    assert to_np(x)[:, 3].tolist() == [-1.0] * 5
    sub = x[::2, 1:5:3]
    sub.zero_()
    assert to_np(x)[::2, 1:5:3].tolist() == [[0.0, 0.0]] * 3
    x[...][4, 6] = 7.5
    assert x[4, 6].item() == 7.5


def test_advanced_indexing_returns_copies():
    x = gradcore.tensor(A2.copy())
    for idx in [[0, 1], x > 3, (slice(None), [1]), True]:
        y = x[idx]
        assert y._base is None
        y.fill_(-9.0)
    np.testing.assert_array_equal(to_np(x), A2)


# ---- setitem ----

SET_CASES = [
    (0, 1.0), ((slice(None), 1), 2.5), ((slice(None), 0), np.arange(5.0)), (Ellipsis, 3.0), (None, 4.0),
    ((slice(1, None, 2), slice(None, None, 3)), np.array([[1.0, 2.0, 3.0]])), ([0, 2], np.arange(7.0)),
    ([0, 2], np.ones((1, 2, 7))), ((np.arange(5), np.array([6, 5, 4, 3, 2])), np.arange(5.0) * 10),
    (A2 > 20, 0.0), (A2 > 20, np.arange(14.0)), ((slice(None), np.arange(7) < 3), -1.0), (True, 8.0),
    (False, 8.0), ((2, [1, -1]), np.array([5.0, 6.0])), (([[0], [1]], [0, 1]), 3.0), ((slice(1, 3), [[0], [1]]), 3.0),
    ([-1], np.ones((1, 1, 7))), (np.array([True, False, True, True, False]), 5.0),
    ((np.array([False, True, False, False, True]), Ellipsis), np.ones((1, 1))),
]


@pytest.mark.parametrize("idx,value", SET_CASES, ids=[repr(c[0])[:40] for c in SET_CASES])
def test_setitem_matches_numpy(idx, value):
    for as_tensor in (False, True):
        expected = A2.copy()
        expected[idx] = value
        x = gradcore.tensor(A2.copy())
        v = gradcore.tensor(np.asarray(value, np.float32)) if as_tensor or np.ndim(value) else value
        x[gc_index(idx)] = v
        np.testing.assert_array_equal(to_np(x), expected)


def test_setitem_casts_and_overlaps():
    x = gradcore.zeros(3, 4, dtype=gradcore.int64)
    x[0] = 2.7
    x[[1]] = gradcore.tensor([1.9, 2.0, 3.0, 4.0])
    x[2, 1:3] = np.float64(5.5)
    assert x.tolist() == [[2, 2, 2, 2], [1, 2, 3, 4], [0, 5, 5, 0]]
    a = np.arange(10.0)
    x = gradcore.tensor(a.copy())
    x[1:] = x[:-1]
    x[[0, 1]] = x[[8, 9]]
    a[1:] = a[:-1].copy()
    a[[0, 1]] = a[[8, 9]]
    np.testing.assert_array_equal(to_np(x), a)
    m = gradcore.tensor([True, False, True])
    b = gradcore.zeros(3, dtype=gradcore.bool)
    b[m] = True
    assert b.tolist() == [True, False, True]


def test_setitem_bumps_version_and_works_under_no_grad():
    w = gradcore.zeros(3, requires_grad=True)
    v0 = w._version
    with gradcore.no_grad():
        w[0] = 1.0
        w[w > 0] = 2.0
        w[[2]] = gradcore.tensor([3.0])
    assert w.tolist() == [2.0, 0.0, 3.0] and w._version == v0 + 3 and w.requires_grad


def test_index_put_and_accumulate():
    x = gradcore.zeros(5)
    x.index_put_((gradcore.tensor([1, 1, 3]),), gradcore.tensor([1.0, 2.0, 4.0]), accumulate=True)
    assert x.tolist() == [0.0, 3.0, 0.0, 4.0, 0.0]
    y = gradcore.index_put(x, [gradcore.tensor([0, -1])], gradcore.tensor(9.0))
    assert y.tolist() == [9.0, 3.0, 0.0, 4.0, 9.0] and x.tolist() == [0.0, 3.0, 0.0, 4.0, 0.0]
    m = gradcore.zeros(2, 3)
    m.index_put_((None, gradcore.tensor([2, 0])), gradcore.tensor([[1.0], [2.0]]))
    assert m.tolist() == [[1.0, 0.0, 1.0], [2.0, 0.0, 2.0]]
    m.index_put_((m > 1.5,), gradcore.tensor(-1.0))
    assert m.tolist() == [[1.0, 0.0, 1.0], [-1.0, 0.0, -1.0]]
    # a bad index raises before anything is written
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 5"):
        x.index_put_((gradcore.tensor([0, 5]),), gradcore.tensor([7.0, 7.0]))
    assert x.tolist() == [0.0, 3.0, 0.0, 4.0, 0.0]


# ---- gather, scatter_add, index_select, masked_fill, nonzero ----

def np_gather(a, dim, idx):
    out = np.empty(idx.shape, a.dtype)
    for pos in np.ndindex(*idx.shape):
        src = list(pos)
        src[dim] = idx[pos]
        out[pos] = a[tuple(src)]
    return out


def np_scatter_add(a, dim, idx, src):
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        dst = list(pos)
        dst[dim] = idx[pos]
        out[tuple(dst)] += src[pos]
    return out


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_and_scatter_add(dim):
    a = RNG.standard_normal((4, 7))
    d = dim % 2
    ishape = (3, 5)
    idx = RNG.integers(0, a.shape[d], ishape)
    for t in layouts(a):
        assert_close(gradcore.gather(t, dim, gradcore.tensor(idx)), np_gather(a, d, idx))
        assert_close(t.gather(dim, gradcore.tensor(idx).t().contiguous().t()), np_gather(a, d, idx))
    src = RNG.standard_normal((4, 6))
    expected = np_scatter_add(a, d, idx, src)
    assert_close(gradcore.scatter_add(gradcore.tensor(a), dim, gradcore.tensor(idx), gradcore.tensor(src)), expected)
    x = gradcore.tensor(a)
    assert x.scatter_add_(dim, gradcore.tensor(idx), gradcore.tensor(src)) is x
    assert_close(x, expected)
    s = gradcore.tensor(5.0)
    assert gradcore.gather(s, 0, gradcore.tensor(0)).item() == 5.0
    assert gradcore.gather(s, 0, gradcore.tensor([0, 0])).tolist() == [5.0, 5.0]
    assert gradcore.index_select(s, 0, gradcore.tensor([0])).shape == ()


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_index_select(dim):
    a = RNG.standard_normal((3, 4, 5))
    idx = RNG.integers(0, a.shape[dim], 6)
    for t in layouts(a):
        assert_close(gradcore.index_select(t, dim, gradcore.tensor(idx)), np.take(a, idx, axis=dim))
        assert_close(t.index_select(dim, gradcore.tensor(idx[:1])[0]), np.take(a, idx[:1], axis=dim))
        assert_close(t.index_select(dim, gradcore.tensor(np.repeat(idx, 2))[::2]), np.take(a, idx, axis=dim))


def test_masked_fill():
    a = RNG.standard_normal((4, 5))
    mask = a > 0.3
    for t in layouts(a):
        assert_close(t.masked_fill(gradcore.tensor(mask), -2.0), np.where(mask, -2.0, a))
        assert_close(gradcore.masked_fill(t, gradcore.tensor(mask[0]), gradcore.tensor(1.5)), np.where(mask[0], 1.5, a))
    assert gradcore.masked_fill(gradcore.zeros(3), gradcore.ones(2, 3, dtype=gradcore.bool), 1.0).shape == (2, 3)
    ints = gradcore.tensor([1, 2, 3]).masked_fill(gradcore.tensor([True, False, True]), 7.9)
    assert ints.dtype == gradcore.int64 and ints.tolist() == [7, 2, 7]
    x = gradcore.tensor(a)
    assert x.masked_fill_(gradcore.tensor(mask), 0.0) is x
    assert_close(x, np.where(mask, 0.0, a))


def test_nonzero():
    a = (RNG.standard_normal((4, 3, 5)) > 0.5).astype(np.float32)
    for t in layouts(a):
        np.testing.assert_array_equal(to_np(gradcore.nonzero(t)), np.argwhere(a))
        for got, exp in zip(t.nonzero(as_tuple=True), np.nonzero(a)):
            np.testing.assert_array_equal(to_np(got), exp)
    assert gradcore.nonzero(gradcore.tensor(3.0)).shape == (1, 0)
    assert gradcore.nonzero(gradcore.tensor(0.0)).shape == (0, 0)
    assert gradcore.nonzero(gradcore.zeros(0, 4)).shape == (0, 2)
    assert gradcore.nonzero(gradcore.tensor([0, 2, 0, -1])).tolist() == [[1], [3]]
    assert gradcore.nonzero(gradcore.tensor([float("nan"), 0.0])).tolist() == [[0]]
    assert gradcore.nonzero(gradcore.tensor(3.0), as_tuple=True)[0].tolist() == [0]


# ---- gradients ----

GRAD_CASES = {
    "int": lambda x: x[1],
    "slices": lambda x: x[::2, 1:5:3],
    "none_ellipsis": lambda x: x[None, ..., 2],
    "repeated_rows": lambda x: x[[0, 0, 3, 0]],
    "mask": lambda x: x[gradcore.tensor(A2 % 3 == 0)],
    "arange_labels": lambda x: x[gradcore.arange(5), gradcore.tensor([0, 6, 2, 2, 1])],
    "broadcast_pairs": lambda x: x[gradcore.tensor([[0], [4], [0]]), gradcore.tensor([1, 1])],
    "adv_then_slice": lambda x: x[[1, 1], 2:],
    "int_then_adv": lambda x: x[2, [6, 6, 0]],
    "bool_scalar": lambda x: x[True],
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_getitem_gradcheck(name):
    gradcheck_fn(GRAD_CASES[name], RNG.standard_normal((5, 7)))


def test_getitem_gradcheck_non_adjacent_3d():
    gradcheck_fn(lambda x: x[[0, 1, 1], :, [3, 0, 0]], RNG.standard_normal((2, 3, 4)))
    gradcheck_fn(lambda x: x[:, [2, 0]][..., None, [1]], RNG.standard_normal((2, 3, 4)))


def test_repeated_indices_accumulate():
    x = gradcore.zeros(4, 2, requires_grad=True)
    x[[0, 0, 0, 3]].sum().backward()
    assert x.grad.tolist() == [[3.0, 3.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    x.grad = None
    x[gradcore.tensor([2, 2]), gradcore.tensor([1, 1])].sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    assert x[[0]].grad_fn.name() == "IndexBackward0"


def test_gather_scatter_select_gradcheck():
    idx = gradcore.tensor(RNG.integers(0, 4, (3, 5)))
    gradcheck_fn(lambda x: gradcore.gather(x, 0, idx), RNG.standard_normal((4, 6)))
    gradcheck_fn(lambda x: x.gather(1, idx), RNG.standard_normal((3, 7)))
    gradcheck_fn(lambda x, s: gradcore.scatter_add(x, 1, idx, s), RNG.standard_normal((3, 4)),
                 RNG.standard_normal((3, 6)))
    gradcheck_fn(lambda x, s: (x * 1).scatter_add_(0, idx, s), RNG.standard_normal((4, 5)),
                 RNG.standard_normal((3, 5)))
    rep = gradcore.tensor([2, 0, 2, 2])
    gradcheck_fn(lambda x: gradcore.index_select(x, 1, rep), RNG.standard_normal((2, 3)))
    gradcheck_fn(lambda x: x.index_select(0, gradcore.tensor(1)), RNG.standard_normal((3, 2)))
    gradcheck_fn(lambda x: gradcore.index_select(x, 0, gradcore.tensor([0])), RNG.standard_normal(()))


def test_masked_fill_gradcheck():
    mask = gradcore.tensor(RNG.standard_normal((3, 4)) > 0)
    gradcheck_fn(lambda x: x.masked_fill(mask, 2.0), RNG.standard_normal((3, 4)))
    gradcheck_fn(lambda x: x.masked_fill(mask[0], 2.0), RNG.standard_normal((3, 4)))
    gradcheck_fn(lambda x, v: gradcore.masked_fill(x, mask, v), RNG.standard_normal((1, 4)), RNG.standard_normal(()))
    gradcheck_fn(lambda x, v: (x * 1).masked_fill_(mask, v), RNG.standard_normal((3, 4)), RNG.standard_normal(()))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_gradcheck(accumulate):
    # repeated rows only when accumulating: otherwise which write wins is unspecified
    rows = gradcore.tensor([0, 2, 0] if accumulate else [0, 2, 3])
    gradcheck_fn(lambda x, v: (x * 1).index_put_((rows,), v, accumulate=accumulate),
                 RNG.standard_normal((4, 3)), RNG.standard_normal((3, 3)))
    gradcheck_fn(lambda x, v: gradcore.index_put(x, (None, gradcore.tensor([1])), v, accumulate=accumulate),
                 RNG.standard_normal((4, 3)), RNG.standard_normal((1,)))


SETITEM_GRAD = {
    "row": (lambda y, v: y.__setitem__(1, v), (7,)),
    "column_broadcast": (lambda y, v: y.__setitem__((slice(None), 2), v), (1, 1)),
    "strided": (lambda y, v: y.__setitem__((slice(None, None, 2), slice(1, 5, 3)), v), (3, 2)),
    "rows_adv": (lambda y, v: y.__setitem__([4, 0], v), (2, 7)),
    "pairs_adv": (lambda y, v: y.__setitem__((gradcore.arange(5), gradcore.tensor([0, 1, 2, 3, 4])), v), (5,)),
    "mask_scalar_tensor": (lambda y, v: y.__setitem__(gradcore.tensor(A2 > 9), v), ()),
    "slice_then_adv": (lambda y, v: y.__setitem__((slice(1, 3), [6, 0]), v), (2,)),
}


@pytest.mark.parametrize("name", list(SETITEM_GRAD))
def test_setitem_gradcheck(name):
    write, vshape = SETITEM_GRAD[name]

    def fn(x, v):
        y = x * 1
        write(y, v)
        return y * 2

    gradcheck_fn(fn, RNG.standard_normal((5, 7)), RNG.standard_normal(vshape))


def test_setitem_graph_and_refusals():
    w = gradcore.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 1.0
    h = w * 2
    h[0] = 5.0
    assert h.grad_fn.name() == "CopySlices"
    h.sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="view"):
        (w * 2)[1:][0] = 1.0
    buf = gradcore.zeros(4)
    with pytest.raises(RuntimeError, match="view"):
        buf[1:][[0]] = w[:1]
    out = gradcore.zeros(3, 2)
    for i in range(3):
        out[i] = w[i] * gradcore.ones(2)
    assert out.requires_grad
    out.sum().backward()
    assert w.grad.tolist() == [2.0, 4.0, 4.0]
    y = w * 1
    saved = y * y
    y[0] = 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()


# ---- errors ----

ERRORS = [
    (lambda x: x[5], IndexError, "index 5 is out of bounds for dimension 0 with size 5"),
    (lambda x: x[0, -8], IndexError, "index -8 is out of bounds for dimension 1 with size 7"),
    (lambda x: x[gradcore.tensor([7])], IndexError, "index 7 is out of bounds for dimension 0 with size 5"),
    (lambda x: x[[-6]], IndexError, "index -6 is out of bounds for dimension 0 with size 5"),
    (lambda x: x[:, [0, 7]], IndexError, "index 7 is out of bounds for dimension 1 with size 7"),
    (lambda x: x[1.0], IndexError, r"valid indices \(got float\)"),
    (lambda x: x["a"], TypeError, r"valid indices \(got str\)"),  # PyTorch: TypeError for a string
    (lambda x: x[1.5], IndexError, r"valid indices \(got float\)"),
    (lambda x: x[[1.0, 2.0]], IndexError, "must hold integers or bools"),
    (lambda x: x[gradcore.tensor([1.0])], IndexError, "must be long, int, byte or bool tensors, got float32"),
    (lambda x: x[gradcore.tensor([True, False])], IndexError, r"shape of the mask \[2\] at index 0 does not match"),
    (lambda x: x[:, gradcore.ones(5, dtype=gradcore.bool)], IndexError, "does not match the shape of the indexed"),
    (lambda x: x[0, 0, 0], IndexError, "too many indices for tensor of dimension 2"),
    (lambda x: x[[0, 1], [0, 1, 2]], IndexError, r"could not be broadcast together with shapes \[2\], \[3\]"),
    (lambda x: x[::-1], ValueError, "step must be greater than zero"),
    (lambda x: x[:, 4:1:-2], ValueError, "step must be greater than zero"),
    (lambda x: x[::0], ValueError, "slice step cannot be zero"),
    (lambda x: x[..., 0, ...], IndexError, "single ellipsis"),
    (lambda x: x[0][0][0], IndexError, "invalid index of a 0-dim tensor"),
    (lambda x: x[2 ** 70], IndexError, "does not fit in int64"),
    (lambda x: gradcore.gather(x, 1, gradcore.tensor([[7]])), RuntimeError, "index 7 is out of bounds for dimension 1"),
    (lambda x: gradcore.gather(x, 0, gradcore.tensor([[-1]])), RuntimeError, "does not wrap negative indices"),
    (lambda x: gradcore.gather(x, 0, gradcore.tensor([[0.0]])), RuntimeError, "int64 .long. index tensor"),
    (lambda x: gradcore.gather(x, 0, gradcore.tensor([0])), RuntimeError, "same number of dimensions"),
    (lambda x: gradcore.gather(x, 0, gradcore.zeros(1, 8, dtype=gradcore.int64)), RuntimeError, "no larger than"),
    (lambda x: gradcore.gather(x, 2, gradcore.tensor([[0]])), IndexError, "[Dd]imension out of range"),
    (lambda x: x.scatter_add(0, gradcore.tensor([[5]]), gradcore.ones(1, 1)), RuntimeError, "index 5 is out of bounds"),
    (lambda x: x.scatter_add(0, gradcore.tensor([[0, 0]]), gradcore.ones(1, 1)), RuntimeError, "no larger than src"),
    (lambda x: x.scatter_add(0, gradcore.tensor([[0]]), gradcore.ones(1, 1, dtype=gradcore.float64)), RuntimeError,
     "dtype of self"),
    (lambda x: x.index_select(0, gradcore.tensor([5])), IndexError, "index 5 is out of bounds for dimension 0"),
    (lambda x: x.index_select(1, gradcore.tensor([[0]])), IndexError, "must be a vector"),
    (lambda x: x.masked_fill(x > 0, gradcore.tensor([1.0])), RuntimeError, "0-dim value tensor"),
    (lambda x: x.masked_fill((x > 0).float(), 1.0), RuntimeError, "only bool masks"),
    (lambda x: x.masked_fill(gradcore.ones(2, dtype=gradcore.bool), 1.0), RuntimeError, "broadcast"),
    (lambda x: x[0].masked_fill_(gradcore.ones(2, 7, dtype=gradcore.bool), 1.0), RuntimeError, "must broadcast"),
    (lambda x: x.index_put_((gradcore.tensor([0]),), gradcore.tensor([1.0], dtype=gradcore.float64)),
     RuntimeError, "dtypes to match"),
    (lambda x: x.index_put_((gradcore.tensor([0]),), gradcore.ones(3)), RuntimeError,
     r"value tensor of shape \[3\] cannot be broadcast to indexing result of shape \[1, 7\]"),
    (lambda x: x.index_put_(gradcore.tensor([0]), gradcore.ones(1)), TypeError, "tuple of tensors"),
    (lambda x: x.__setitem__(0, gradcore.ones(2)), RuntimeError, r"shape \[2\] cannot be broadcast"),
    (lambda x: x.__setitem__([0, 1], gradcore.ones(3)), RuntimeError, "cannot be broadcast to indexing result"),
    (lambda x: x.__setitem__(0, [1, 2]), TypeError, "can't assign a list"),
    (lambda x: x.__setitem__(0, np.ones(7)), TypeError, "can't assign a ndarray"),
    (lambda x: x.__setitem__(9, 1.0), IndexError, "index 9 is out of bounds"),
    (lambda x: x.__setitem__(gradcore.ones(7, dtype=gradcore.bool), 1.0), IndexError, r"mask \[7\] at index 0"),
]


@pytest.mark.parametrize("fn,exc,match", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors(fn, exc, match):
    x = gradcore.tensor(A2.copy())
    with pytest.raises(exc, match=match):
        fn(x)
    np.testing.assert_array_equal(to_np(x), A2)  # nothing was written


# ---- parity with PyTorch ----

def torch_index(torch, idx):
    if isinstance(idx, tuple):
        return tuple(torch_index(torch, i) for i in idx)
    if isinstance(idx, np.ndarray):
        return torch.from_numpy(idx)
    if isinstance(idx, list):
        return torch.tensor(idx)
    return idx


# Where PyTorch and NumPy differ: an int is a view (select) first, so it does not separate or
# join advanced indices as it does in NumPy.
TORCH_CASES = CASES_3D + [
    (slice(None), None, [2, 1], None, 0), (1, slice(None, None, 2), None, [0]),
    (0, slice(None), [1, 2]), ([0], 1, slice(None), ), (1, slice(None), np.array([[0, 1], [2, 3]])),
    (slice(None), 0, [[0], [1]]), (0, None, slice(None), [3, 1]), ([[0, 1]], [2, 2], slice(None, None, 3)),
]


@pytest.mark.parametrize("idx", TORCH_CASES, ids=[repr(c)[:40] for c in TORCH_CASES])
def test_torch_parity_getitem_and_grad(idx):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 3, 4))
    g = gradcore.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    got, exp = g[gc_index(idx)], t[torch_index(torch, idx)]
    assert tuple(got.shape) == tuple(exp.shape)
    assert_close(got, exp.detach().numpy())
    w = RNG.standard_normal(tuple(exp.shape))
    (got * gradcore.tensor(w)).sum().backward()
    (exp * torch.tensor(w)).sum().backward()
    assert_close(g.grad, t.grad.numpy())


def test_torch_parity_ops():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((4, 5))
    idx = RNG.integers(0, 4, (3, 5))
    mask = a > 0
    pairs = [
        (lambda m, x: m.gather(x, 0, m.tensor(idx)), None),
        (lambda m, x: m.scatter_add(x, 0, m.tensor(idx), x[:3] * 2), None),
        (lambda m, x: m.index_select(x, 1, m.tensor([4, 0, 4])), None),
        (lambda m, x: m.masked_fill(x, m.tensor(mask), -1.0), None),
        (lambda m, x: m.nonzero(x > 0.5), None),
        (lambda m, x: m.index_put(x, (m.tensor([0, 0]), m.tensor([1, 1])), m.tensor([1.0, 2.0]).double(), True), None),
    ]
    for fn, _ in pairs:
        g = gradcore.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        og, ot = fn(gradcore, g), fn(torch, t)
        assert og.dtype == getattr(gradcore, str(ot.dtype).split(".")[1])
        assert_close(og, ot.detach().numpy())
        if ot.requires_grad:
            og.sum().backward()
            ot.sum().backward()
            assert_close(g.grad, t.grad.numpy())


def test_torch_parity_random_indices():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 4, 5))
    g, t = gradcore.tensor(a), torch.tensor(a)
    for _ in range(300):
        parts = []
        for _ in range(rng.integers(1, 4)):
            kind = rng.integers(0, 5)
            if kind == 0:
                parts.append(int(rng.integers(-3, 3)))
            elif kind == 1:
                parts.append(slice(int(rng.integers(-4, 3)), int(rng.integers(-2, 6)), int(rng.integers(1, 3))))
            elif kind == 2:
                parts.append(None)
            else:
                parts.append(rng.integers(-3, 3, rng.integers(1, 3)))
        if rng.integers(0, 4) == 0:
            parts.insert(int(rng.integers(0, len(parts) + 1)), Ellipsis)
        idx = tuple(parts)
        try:
            exp = t[torch_index(torch, idx)]
        except IndexError:
            with pytest.raises(IndexError):
                g[gc_index(idx)]
            continue
        got = g[gc_index(idx)]
        assert tuple(got.shape) == tuple(exp.shape), idx
        assert_close(got, exp.numpy())


# ---- index_put_ of whole rows (the embedding backward) vs np.add.at ----

@pytest.mark.parametrize("accumulate", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_index_put_rows_matches_numpy(accumulate, dtype):
    rng = np.random.default_rng(11)
    idx = rng.integers(-9, 9, 40)  # repeats and negative indices
    idx[1] = idx[0]
    vals = (rng.standard_normal((40, 37)) * 10).astype(dtype)
    base = (rng.standard_normal((9, 37)) * 10).astype(dtype)
    for values in (gradcore.tensor(vals), gradcore.tensor(vals.T.copy()).t()):  # unit-stride rows, then strided
        x = gradcore.tensor(base)
        x.index_put_((gradcore.tensor(idx),), values, accumulate=accumulate)
        want = base.copy()
        if accumulate:
            np.add.at(want, idx, vals)
        else:
            last = {int(i) % 9: r for r, i in enumerate(idx)}  # the last write of each row wins
            for row, r in last.items():
                want[row] = vals[r]
        np.testing.assert_array_equal(x.numpy(), want)
