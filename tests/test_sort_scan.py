"""Issue 17 sorting and scans: sort / argsort / msort / topk and cumsum / cumprod (cumsum_ /
cumprod_), checked against PyTorch: values, indices, dtypes, gradients, NaN order, ties (stable),
every dim of 0-d to 4-d inputs, non-contiguous inputs, 0-size dims, sizes that take the threaded
paths, and PyTorch's errors. topk's partial selection is checked against the full sort, the
threaded kernels against one thread, and the CUDA kernels (marked cuda) against the CPU."""
import numpy as np
import pytest

import gradcore as g
from helpers import gradcheck_fn

torch = pytest.importorskip("torch")

GDT = {torch.float32: g.float32, torch.float64: g.float64, torch.int64: g.int64, torch.bool: g.bool,
       torch.float16: g.float16, torch.bfloat16: g.bfloat16}
cuda = pytest.mark.cuda


def _data(shape, dtype, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    if dtype == torch.bool:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype == torch.int64 or ties:
        a = rng.integers(-4, 4, shape)
        return a if dtype == torch.int64 else a.astype(np.float64)
    return rng.standard_normal(shape)


def _pair(a, dtype, noncontig=False):
    t = torch.tensor(a).to(dtype)
    x = g.tensor(a).to(GDT[dtype])
    if noncontig and a.ndim >= 2:
        t, x = t.transpose(0, -1), x.transpose(0, -1)
        assert not x.is_contiguous() or 1 in x.shape or 0 in x.shape
    return x, t


def _np(x):
    if x.dtype in (g.float16, g.bfloat16):
        x = x.float()
    return x.detach().numpy()


def _tnp(t):
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.detach().numpy()


def _same(x, t, exact=True):
    assert tuple(x.shape) == tuple(t.shape)
    assert x.dtype == GDT[t.dtype]
    if exact:
        np.testing.assert_array_equal(_np(x), _tnp(t))
    else:
        np.testing.assert_allclose(_np(x), _tnp(t), rtol=1e-5, atol=1e-6)


SHAPES = [(), (7,), (3, 5), (4, 1, 6), (2, 3, 4, 5), (0, 3), (3, 0), (1,)]
DTYPES = [torch.float32, torch.float64, torch.int64, torch.bool]


def _dims(shape):
    return range(-max(len(shape), 1), max(len(shape), 1))


# ---- sort / argsort / msort ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_torch_stable(shape, dtype, descending):
    for ties in (False, True):
        for noncontig in (False, True):
            x, t = _pair(_data(shape, dtype, ties=ties), dtype, noncontig)
            for d in _dims(shape):
                r, e = g.sort(x, d, descending, stable=True), torch.sort(t, dim=d, descending=descending, stable=True)
                _same(r.values, e.values)
                _same(r.indices, e.indices)
                _same(g.argsort(x, d, descending), torch.argsort(t, dim=d, descending=descending, stable=True))
                _same(x.sort(dim=d, descending=descending)[1], e.indices)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_sort_nan_is_largest(dtype):
    a = np.array([[3.0, np.nan, -1.0, np.inf, np.nan, -np.inf, 0.0, 3.0], [np.nan] * 8])
    x, t = _pair(a, dtype)
    for desc in (False, True):
        r, e = x.sort(1, desc), torch.sort(t, dim=1, descending=desc, stable=True)
        _same(r.values, e.values)
        _same(r.indices, e.indices)
        r, e = x.topk(3, largest=desc), torch.topk(t, 3, largest=desc)
        _same(r.values, e.values)


def test_sort_return_type_and_msort():
    x, t = _pair(_data((4, 3), torch.float64), torch.float64)
    r = g.sort(x)
    assert type(r) is g.return_types.sort and r._fields == ("values", "indices")
    assert type(g.topk(x, 2)) is g.return_types.topk
    assert type(g.max(x, 0)) is g.return_types.max
    values, indices = r
    _same(values, torch.sort(t).values)
    _same(g.msort(x), torch.msort(t))
    _same(x.msort(), torch.msort(t))


def test_sort_big_rows_threads_match_one_thread():
    x, t = _pair(_data((300, 517), torch.float32, ties=True), torch.float32)
    for d in (0, 1):
        e = torch.sort(t, dim=d, stable=True)
        r = g.sort(x, d)
        _same(r.values, e.values)
        _same(r.indices, e.indices)
        n = g.get_num_threads()
        g.set_num_threads(1)
        try:
            r1 = g.sort(x, d)
        finally:
            g.set_num_threads(n)
        _same(r1.indices, e.indices)


@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((), 0)])
@pytest.mark.parametrize("noncontig", [False, True])
def test_sort_backward_matches_torch(shape, dim, noncontig):
    a = _data(shape, torch.float64)
    x, t = _pair(a, torch.float64, noncontig)
    x.requires_grad_(True)
    t.requires_grad_(True)
    w = np.random.default_rng(1).standard_normal(tuple(t.shape))
    for desc in (False, True):
        (g.sort(x, dim, desc).values * g.tensor(w)).sum().backward()
        (torch.sort(t, dim, desc).values * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(_np(x.grad), _tnp(t.grad))
    assert g.sort(x, dim).values.grad_fn.name() == "SortBackward0"


def test_sort_and_topk_gradcheck():
    a = np.random.default_rng(2).standard_normal((3, 6))
    gradcheck_fn(lambda x: g.sort(x, 1, True).values, a)
    gradcheck_fn(lambda x: g.sort(x, 0).values, a)
    gradcheck_fn(lambda x: g.topk(x, 4, 1).values, a)
    gradcheck_fn(lambda x: g.topk(x, 2, 0, largest=False).values * 3, a)


def test_sort_16bit_and_integer_have_no_grad_issue():
    x = g.tensor([[3.0, 1.0, 2.0]], dtype=g.float16, requires_grad=True)
    g.sort(x).values.float().sum().backward()
    assert x.grad.dtype == g.float16
    assert not g.sort(g.tensor([3, 1, 2])).values.requires_grad


# ---- topk ----

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("shape", [(9,), (4, 7), (3, 1, 5), (2, 3, 4, 5), (0, 4), ()])
def test_topk_matches_torch(shape, dtype):
    for noncontig in (False, True):
        x, t = _pair(_data(shape, dtype, seed=3) if dtype != torch.int64 else
                     np.random.default_rng(3).permutation(int(np.prod(shape))).reshape(shape),
                     dtype, noncontig)
        for d in _dims(shape):
            size = t.shape[d] if t.dim() else 1
            for k in sorted({k for k in (0, 1, size // 2, size) if k <= size}):
                for largest in (True, False):
                    r, e = g.topk(x, k, d, largest), torch.topk(t, k, d, largest)
                    _same(r.values, e.values)
                    _same(r.indices, e.indices)  # distinct values: the positions are unique
                    u = x.topk(k, dim=d, largest=largest, sorted=False)
                    _same(u.values.sort(d, largest).values, e.values)
                    np.testing.assert_array_equal(_np(g.gather(x, d, u.indices)), _np(u.values))


def test_topk_partial_selection_matches_full_sort():
    # The fast path (partial_sort / nth_element) against its simple twin, the full sort.
    x = g.tensor(_data((40, 300), torch.float64, ties=True, seed=5))
    for d in (0, 1):
        s = g.sort(x, d, True)
        for k in (1, 7, 39):
            r = g.topk(x, k, d)
            np.testing.assert_array_equal(_np(r.values), _np(s.values.narrow(d, 0, k)))
            np.testing.assert_array_equal(_np(r.indices), _np(s.indices.narrow(d, 0, k)))
            u = g.topk(x, k, d, sorted=False)
            np.testing.assert_array_equal(_np(u.values.sort(d, True).values), _np(r.values))


@pytest.mark.parametrize("noncontig", [False, True])
def test_topk_backward_matches_torch(noncontig):
    a = _data((5, 6), torch.float64, seed=4)
    x, t = _pair(a, torch.float64, noncontig)
    x.requires_grad_(True)
    t.requires_grad_(True)
    w = np.random.default_rng(1).standard_normal((t.shape[0], 3))
    (g.topk(x, 3, 1).values * g.tensor(w)).sum().backward()
    (torch.topk(t, 3, 1).values * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), _tnp(t.grad))
    assert g.topk(x, 2).values.grad_fn.name() == "TopkBackward0"


def test_sort_topk_errors_match_torch():
    x, t = _pair(_data((3, 4), torch.float32), torch.float32)
    for k in (5, -1):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            torch.topk(t, k)
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            g.topk(x, k)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        g.topk(g.tensor(1.0), 2)
    for fn, tfn in ((lambda a: g.sort(a, 2), lambda a: torch.sort(a, 2)),
                    (lambda a: g.argsort(a, -3), lambda a: torch.argsort(a, -3)),
                    (lambda a: g.topk(a, 1, 2), lambda a: torch.topk(a, 1, 2)),
                    (lambda a: g.cumsum(a, 2), lambda a: torch.cumsum(a, 2)),
                    (lambda a: g.cumprod(a, -3), lambda a: torch.cumprod(a, -3))):
        with pytest.raises(IndexError):
            tfn(t)
        with pytest.raises(IndexError, match="out of range"):
            fn(x)
    with pytest.raises(TypeError):
        g.cumsum(x)
    with pytest.raises(TypeError):
        g.sort(x, 0, False, True)  # stable is keyword-only, as in PyTorch


# ---- cumsum / cumprod ----

SCAN_DTYPES = [torch.float32, torch.float64, torch.int64, torch.bool]


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", SCAN_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_scan_matches_torch(name, dtype, shape):
    for noncontig in (False, True):
        a = _data(shape, dtype) if dtype != torch.float64 else np.random.default_rng(0).uniform(0.5, 1.5, shape)
        x, t = _pair(a, dtype, noncontig)
        for d in _dims(shape):
            _same(getattr(g, name)(x, d), getattr(torch, name)(t, d), exact=dtype in (torch.int64, torch.bool))
            _same(getattr(x, name)(dim=d), getattr(t, name)(dim=d), exact=dtype in (torch.int64, torch.bool))
            for odt in (torch.float64, torch.int64):
                _same(getattr(g, name)(x, d, dtype=GDT[odt]), getattr(torch, name)(t, d, dtype=odt),
                      exact=odt == torch.int64)


def test_scan_16bit_and_big_threaded():
    a = np.random.default_rng(0).uniform(-1, 1, (300, 400))
    for dt in (torch.float16, torch.bfloat16):
        x, t = _pair(a[:5, :20], dt)
        for name in ("cumsum", "cumprod"):
            r, e = getattr(g, name)(x, 1), getattr(torch, name)(t, 1)
            assert r.dtype == GDT[dt]
            np.testing.assert_allclose(_np(r), _tnp(e), rtol=2e-2, atol=2e-2)
    x, t = _pair(a, torch.float64)
    for d in (0, 1):
        _same(g.cumsum(x, d), torch.cumsum(t, d), exact=False)
        n = g.get_num_threads()
        g.set_num_threads(1)
        try:
            one = g.cumsum(x, d)
        finally:
            g.set_num_threads(n)
        np.testing.assert_array_equal(_np(one), _np(g.cumsum(x, d)))


@pytest.mark.parametrize("shape", [(300, 7), (5, 600), (3, 4, 513), (2, 1, 1)])
def test_scan_inner_blocks_match_row_path(shape):
    # The blocked path (scanned dim not innermost) against the row path on the transposed copy.
    a = np.random.default_rng(0).uniform(0.5, 1.5, shape)
    x = g.tensor(a)
    xt = x.transpose(0, -1).contiguous()
    for name in ("cumsum", "cumprod"):
        blocked = getattr(g, name)(x, 0)
        rows = getattr(g, name)(xt, -1).transpose(0, -1)
        np.testing.assert_array_equal(_np(blocked), _np(rows))
    xi = g.tensor(np.arange(int(np.prod(shape))).reshape(shape) % 7)
    np.testing.assert_array_equal(_np(g.cumsum(xi, 0)), _np(g.cumsum(xi.transpose(0, -1).contiguous(), -1)
                                                             .transpose(0, -1)))


ZERO_ROWS = [[1.5, 2.0, -3.0, 0.5], [0.0, 2.0, -3.0, 0.5], [1.5, 0.0, -3.0, 0.5], [1.5, 2.0, -3.0, 0.0],
             [0.0, 2.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 3.0]]


@pytest.mark.parametrize("noncontig", [False, True])
def test_cumprod_backward_with_zeros_matches_torch(noncontig):
    a = np.array(ZERO_ROWS)
    w = np.random.default_rng(1).standard_normal(a.shape)
    for d in (0, 1):
        x, t = _pair(a, torch.float64, noncontig)
        x.requires_grad_(True)
        t.requires_grad_(True)
        ww = w.T if noncontig else w
        (g.cumprod(x, d) * g.tensor(ww)).sum().backward()
        (torch.cumprod(t, d) * torch.tensor(ww)).sum().backward()
        np.testing.assert_allclose(_np(x.grad), _tnp(t.grad), rtol=1e-12, atol=1e-12)
    assert g.cumprod(x, 0).grad_fn.name() == "CumprodBackward0"


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1), ((), 0)])
def test_scan_backward_matches_torch(shape, dim):
    a = np.random.default_rng(2).uniform(-2, 2, shape)
    w = np.random.default_rng(3).standard_normal(shape)
    for name in ("cumsum", "cumprod"):
        for dtype in (None, torch.float64):
            x, t = _pair(a, torch.float32)
            x.requires_grad_(True)
            t.requires_grad_(True)
            kw = {} if dtype is None else {"dtype": dtype}
            (getattr(g, name)(x, dim, **({} if dtype is None else {"dtype": g.float64})) * g.tensor(w)).sum().backward()
            (getattr(torch, name)(t, dim, **kw) * torch.tensor(w)).sum().backward()
            assert x.grad.dtype == g.float32
            np.testing.assert_allclose(_np(x.grad), _tnp(t.grad), rtol=1e-5, atol=1e-5)


def test_scan_gradcheck():
    a = np.array(ZERO_ROWS[:4])
    gradcheck_fn(lambda x: g.cumsum(x, 1), a)
    gradcheck_fn(lambda x: g.cumsum(x, 0), a)
    gradcheck_fn(lambda x: g.cumprod(x, 1), a)
    gradcheck_fn(lambda x: g.cumprod(x, 0), np.random.default_rng(0).uniform(-2, 2, (4, 3)))


def test_scan_in_place():
    for name in ("cumsum_", "cumprod_"):
        a = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4))
        x, t = _pair(a, torch.float32)
        assert getattr(x, name)(1) is x
        getattr(t, name)(1)
        _same(x, t, exact=False)
        xi, ti = _pair(np.arange(12).reshape(3, 4) % 4, torch.int64)
        getattr(xi, name)(0)
        getattr(ti, name)(0)
        _same(xi, ti)
    # Through autograd: a non-leaf updated in place.
    a = np.random.default_rng(1).standard_normal((3, 4))
    x, t = _pair(a, torch.float64)
    x.requires_grad_(True)
    t.requires_grad_(True)
    (x * 2).cumsum_(0).sum().backward()
    (t * 2).cumsum_(0).sum().backward()
    np.testing.assert_allclose(_np(x.grad), _tnp(t.grad))


# ---- CUDA twins ----

@cuda
@pytest.mark.parametrize("shape,dim", [((5, 7), 1), ((5, 7), 0), ((3, 3000), 1), ((2, 9000), 1), ((4096, 3), 0),
                                       ((2, 3, 70), 1), ((0, 5), 1), ((6,), 0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool, torch.float16])
def test_cuda_sort_topk_match_cpu(shape, dim, dtype):
    x, _ = _pair(_data(shape, dtype, ties=True), dtype)
    xc = x.cuda()
    for desc in (False, True):
        r, rc = g.sort(x, dim, desc), g.sort(xc, dim, desc)
        np.testing.assert_array_equal(_np(rc.values.cpu()), _np(r.values))
        np.testing.assert_array_equal(_np(rc.indices.cpu()), _np(r.indices))
    size = x.shape[dim]
    for k in sorted({0, 1, size // 3, size}):
        r, rc = g.topk(x, k, dim), g.topk(xc, k, dim)
        np.testing.assert_array_equal(_np(rc.values.cpu()), _np(r.values))
        np.testing.assert_array_equal(_np(rc.indices.cpu()), _np(r.indices))


@cuda
@pytest.mark.parametrize("shape,dim", [((5, 7), 1), ((5, 7), 0), ((3, 3000), 1), ((2, 3, 70), 1), ((0, 5), 1)])
def test_cuda_scans_and_backward_match_cpu(shape, dim):
    a = np.random.default_rng(0).uniform(0.5, 1.2, shape)
    a[..., 0] = 0.0 if a.size else a[..., 0]
    x = g.tensor(a, requires_grad=True)
    xc = g.tensor(a, device="cuda", requires_grad=True)
    for name in ("cumsum", "cumprod"):
        r, rc = getattr(g, name)(x, dim), getattr(g, name)(xc, dim)
        np.testing.assert_allclose(_np(rc.cpu()), _np(r), rtol=1e-10)
        r.sum().backward()
        rc.sum().backward()
        np.testing.assert_allclose(_np(xc.grad.cpu()), _np(x.grad), rtol=1e-10)
    xi = g.tensor(np.arange(int(np.prod(shape))).reshape(shape) % 5)
    np.testing.assert_array_equal(_np(g.cumsum(xi.cuda(), dim).cpu()), _np(g.cumsum(xi, dim)))
    s = g.tensor(a, device="cuda", requires_grad=True)
    g.topk(s, min(2, shape[dim]), dim).values.sum().backward()
    t = g.tensor(a, requires_grad=True)
    g.topk(t, min(2, shape[dim]), dim).values.sum().backward()
    np.testing.assert_array_equal(_np(s.grad.cpu()), _np(t.grad))


def test_scan_autocast_dtype_matches_torch():
    x, t = _pair(_data((3, 4), torch.float32), torch.float32)
    for xx, tt in ((x, t), (x.bfloat16(), t.bfloat16())):
        for name in ("cumsum", "cumprod"):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                e = getattr(torch, name)(tt, 1)
            with g.autocast("cpu", dtype=g.bfloat16):
                r = getattr(g, name)(xx, 1)
            assert r.dtype == GDT[e.dtype]
