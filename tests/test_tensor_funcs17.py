"""Issue 17 item 4: tril/triu, masked_fill, split/chunk/tensor_split, flip, roll, repeat_interleave,
diag, one_hot, backends.mps, legacy constructors, autograd.Variable, checked against PyTorch."""
import numpy as np
import pytest

import gradcore as g

torch = pytest.importorskip("torch")

DTYPES = [(g.float32, torch.float32), (g.float64, torch.float64)]


def _pair(shape, gdt=g.float64, tdt=torch.float64, noncontig=False, seed=0):
    rng = np.random.default_rng(seed)
    if noncontig:
        a = rng.standard_normal(tuple(reversed(shape)))
        gt = g.tensor(a, dtype=gdt).permute(*reversed(range(len(shape))))
        tt = torch.tensor(a, dtype=tdt).permute(*reversed(range(len(shape))))
        assert not gt.is_contiguous()
    else:
        a = rng.standard_normal(shape)
        gt, tt = g.tensor(a, dtype=gdt), torch.tensor(a, dtype=tdt)
    return gt.requires_grad_(True), tt.requires_grad_(True)


def _leaf(x):
    return x._base if x._base is not None else x


def _check(gfn, tfn, shape, gdt=g.float64, tdt=torch.float64, noncontig=False, grad=True):
    gx, tx = _pair(shape, gdt, tdt, noncontig)
    gy, ty = gfn(gx), tfn(tx)
    if isinstance(ty, (tuple, list)):
        assert len(gy) == len(ty)
        for a, b in zip(gy, ty):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
        gy = g.cat([a.reshape(-1) for a in gy]) if len(gy) else None
        ty = torch.cat([b.reshape(-1) for b in ty]) if len(ty) else None
    else:
        assert tuple(gy.shape) == tuple(ty.shape)
        np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
        assert gy.dtype == getattr(g, str(ty.dtype).split(".")[1])
    if grad and ty is not None and ty.numel():
        w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
        (gy * g.tensor(w, dtype=gy.dtype)).sum().backward()
        (ty * torch.tensor(w, dtype=ty.dtype)).sum().backward()
        gl, tl = _leaf(gx), tx
        gg = gl.grad if gl.grad is not None else gx.grad
        np.testing.assert_allclose(gg.numpy() if gg.shape == tuple(tl.shape) else gg.numpy(),
                                   tl.grad.numpy(), rtol=1e-6)


def _int_pair(shape, seed=0):
    a = np.random.default_rng(seed).integers(-5, 5, shape)
    return g.tensor(a), torch.tensor(a)


def _eq_int(gy, ty):
    if isinstance(ty, (tuple, list)):
        assert len(gy) == len(ty)
        for a, b in zip(gy, ty):
            _eq_int(a, b)
        return
    assert tuple(gy.shape) == tuple(ty.shape)
    assert str(gy.dtype).split(".")[1] == str(ty.dtype).split(".")[1]
    np.testing.assert_array_equal(gy.numpy(), ty.numpy())


def _same_error(gfn, tfn):
    with pytest.raises(Exception) as te:
        tfn()
    with pytest.raises(te.type):
        gfn()


# ---- tril / triu ----

@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("diagonal", [0, 1, -1, 5, -5])
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_tril_triu(name, diagonal, noncontig, gdt, tdt):
    for shape in [(4, 5), (2, 3, 4), (5, 3)]:
        _check(lambda x: getattr(g, name)(x, diagonal), lambda x: getattr(torch, name)(x, diagonal),
               shape, gdt, tdt, noncontig)
        _check(lambda x: getattr(x, name)(diagonal=diagonal), lambda x: getattr(x, name)(diagonal=diagonal),
               shape, gdt, tdt, noncontig)


def test_tril_triu_int_inplace_errors():
    gi, ti = _int_pair((3, 4))
    _eq_int(g.tril(gi, 1), torch.tril(ti, 1))
    _eq_int(gi.triu(-1), ti.triu(-1))
    a, b = gi.clone(), ti.clone()
    assert a.tril_() is a
    b.tril_()
    _eq_int(a, b)
    a, b = gi.clone(), ti.clone()
    a.triu_(1)
    b.triu_(1)
    _eq_int(a, b)
    _same_error(lambda: g.tril(g.ones(3)), lambda: torch.tril(torch.ones(3)))
    _same_error(lambda: g.triu(g.ones(3)), lambda: torch.triu(torch.ones(3)))


# ---- masked_fill ----

@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
def test_masked_fill(gdt, tdt, noncontig):
    m = np.random.default_rng(3).random((3, 4)) > 0.5
    for mask in [m, m[0], m[:, :1]]:
        gm, tm = g.tensor(mask), torch.tensor(mask)
        _check(lambda x: x.masked_fill(gm, 2.5), lambda x: x.masked_fill(tm, 2.5), (3, 4), gdt, tdt, noncontig)
        _check(lambda x: g.masked_fill(x, gm, g.tensor(-1.0)), lambda x: torch.masked_fill(x, tm, torch.tensor(-1.0)),
               (3, 4), gdt, tdt, noncontig)
        gx, tx = _pair((3, 4), gdt, tdt, noncontig)
        gx, tx = gx.detach().clone(), tx.detach().clone()
        gx.masked_fill_(gm, 7)
        tx.masked_fill_(tm, 7)
        np.testing.assert_allclose(gx.numpy(), tx.numpy())
    gi, ti = _int_pair((3, 4))
    _eq_int(gi.masked_fill(g.tensor(m), 9), ti.masked_fill(torch.tensor(m), 9))
    _same_error(lambda: g.ones(3).masked_fill(g.tensor([1, 0, 1]), 1.0),
                lambda: torch.ones(3).masked_fill(torch.tensor([1, 0, 1]), 1.0))


# ---- split / chunk / tensor_split ----

SPLITS = [
    ("split", (6, 4), (2,), {}), ("split", (6, 4), (4,), {}), ("split", (6, 5), (2, -1), {}),
    ("split", (6, 4), ([1, 2, 3],), {}), ("split", (3, 6), ([4, 0, 2],), {"dim": -1}),
    ("split", (6, 4), (10,), {}),
    ("chunk", (6, 4), (3,), {}), ("chunk", (7, 4), (3,), {}), ("chunk", (5, 4), (4,), {}),
    ("chunk", (3, 6), (4,), {"dim": -1}), ("chunk", (2, 4), (5,), {}),
    ("tensor_split", (7, 4), (3,), {}), ("tensor_split", (2, 7), (3,), {"dim": -1}),
    ("tensor_split", (7, 4), ([1, 5],), {}), ("tensor_split", (7, 4), ([1, -2, 10],), {}),
    ("tensor_split", (7, 4), ([5, 2],), {}), ("tensor_split", (3, 4), (5,), {"dim": 0}),
]


@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("name,shape,args,kw", SPLITS)
def test_split_family(name, shape, args, kw, noncontig, gdt, tdt):
    _check(lambda x: getattr(g, name)(x, *args, **kw), lambda x: getattr(torch, name)(x, *args, **kw),
           shape, gdt, tdt, noncontig)
    _check(lambda x: getattr(x, name)(*args, **kw), lambda x: getattr(x, name)(*args, **kw),
           shape, gdt, tdt, noncontig)
    gi, ti = _int_pair(shape)
    _eq_int(getattr(g, name)(gi, *args, **kw), getattr(torch, name)(ti, *args, **kw))


def test_split_tensor_args():
    gi, ti = _int_pair((7, 3))
    _eq_int(g.tensor_split(gi, g.tensor([2, 4])), torch.tensor_split(ti, torch.tensor([2, 4])))
    _eq_int(g.tensor_split(gi, g.tensor(3)), torch.tensor_split(ti, torch.tensor(3)))
    _eq_int(gi.split([3, 4]), ti.split([3, 4]))
    _eq_int(g.split(g.zeros(0, 2), 2), torch.split(torch.zeros(0, 2), 2))
    _eq_int(g.chunk(g.zeros(0, 2), 3), torch.chunk(torch.zeros(0, 2), 3))


@pytest.mark.parametrize("name,args", [("split", (2,)), ("split", ([1, 3],)), ("chunk", (2,)),
                                       ("tensor_split", (2,)), ("tensor_split", ([1],))])
def test_split_views_write_through(name, args):
    gb, tb = g.zeros(4, 3), torch.zeros(4, 3)
    gp, tp = getattr(gb, name)(*args)[1], getattr(tb, name)(*args)[1]
    gp.fill_(5.0)
    tp.fill_(5.0)
    gp[0, 1] = 7.0
    tp[0, 1] = 7.0
    np.testing.assert_array_equal(gb.numpy(), tb.numpy())
    args = ([1, 2],) if args == ([1, 3],) else args
    gq, tq = getattr(gb, name)(*args, dim=1)[0], getattr(tb, name)(*args, dim=1)[0]
    gq.add_(1.0)
    tq.add_(1.0)
    np.testing.assert_array_equal(gb.numpy(), tb.numpy())


@pytest.mark.parametrize("used", [(0,), (1, 2), (0, 1, 2), (2,)])
def test_split_one_node_matches_slices(used):
    # split's pieces share one SplitBackward0 node that builds the input's gradient once; each
    # piece read through narrow (its own SliceBackward0) is the slow twin. Unused pieces get zeros.
    rng = np.random.default_rng(len(used))
    a = rng.standard_normal((4, 9, 3))
    w = [rng.standard_normal((4, 3, 3)) for _ in range(3)]
    x1 = g.tensor(a, requires_grad=True)
    x2 = g.tensor(a, requires_grad=True)
    pieces = x1.transpose(0, 1).split(3)  # a non-contiguous input
    assert pieces[0].grad_fn is pieces[2].grad_fn and pieces[0].grad_fn.name() == "SplitBackward0"
    sum(((pieces[i].transpose(0, 1) * g.tensor(w[i])) ** 2).sum() for i in used).backward()
    t = x2.transpose(0, 1)
    sum(((t.narrow(0, 3 * i, 3).transpose(0, 1) * g.tensor(w[i])) ** 2).sum() for i in used).backward()
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())
    # an in-place op on one piece (PyTorch refuses it; gradcore rebases the piece like a slice)
    leaf = g.tensor(a, requires_grad=True)
    p0, p1, p2 = (leaf * 1.0).split([2, 3, 4], dim=1)
    p1.mul_(3.0)
    (p0.sum() + 2 * p1.sum() + p2.sum()).backward()
    expect = np.ones_like(a)
    expect[:, 2:5] = 6.0
    np.testing.assert_array_equal(leaf.grad.numpy(), expect)


@pytest.mark.parametrize("call", [
    lambda m: m.split(m.ones(5, 2), [2, 2]),
    lambda m: m.split(m.ones(5, 2), [2, 4]),
    lambda m: m.split(m.ones(5, 2), -1),
    lambda m: m.split(m.ones(5, 2), 0),
    lambda m: m.split(m.ones(5, 2), 2, dim=2),
    lambda m: m.split(m.ones(5, 2), [6, -1]),
    lambda m: m.chunk(m.ones(5, 2), 0),
    lambda m: m.chunk(m.ones(5, 2), -1),
    lambda m: m.chunk(m.ones(5, 2), 2, -3),
    lambda m: m.tensor_split(m.ones(5, 2), 0),
    lambda m: m.tensor_split(m.ones(()), 2),
    lambda m: m.tensor_split(m.ones(5, 2), m.ones(2, 2).long()),
    lambda m: m.tensor_split(m.ones(5, 2), 2, dim=5),
])
def test_split_errors(call):
    _same_error(lambda: call(g), lambda: call(torch))


# ---- flip / roll ----

@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("dims", [[0], [-1], [0, 2], (1, -1), [2, 0, 1], []])
def test_flip(dims, noncontig, gdt, tdt):
    _check(lambda x: g.flip(x, dims), lambda x: torch.flip(x, dims), (2, 3, 4), gdt, tdt, noncontig)
    _check(lambda x: x.flip(dims), lambda x: x.flip(dims), (2, 3, 4), gdt, tdt, noncontig)
    if dims:
        _check(lambda x: x.flip(*dims), lambda x: x.flip(*dims), (2, 3, 4), gdt, tdt, noncontig)
    gi, ti = _int_pair((2, 3, 4))
    _eq_int(g.flip(gi, dims), torch.flip(ti, dims))


def test_flip_misc():
    gi, ti = _int_pair((3, 4))
    _eq_int(g.fliplr(gi), torch.fliplr(ti))
    _eq_int(gi.flipud(), ti.flipud())
    out = g.flip(gi, [])
    assert out.data_ptr() != gi.data_ptr()
    gb = g.tensor([True, False, False])
    _eq_int(g.flip(gb, [0]), torch.flip(torch.tensor([True, False, False]), [0]))
    _same_error(lambda: g.flip(g.ones(2, 3), [0, 0]), lambda: torch.flip(torch.ones(2, 3), [0, 0]))
    _same_error(lambda: g.flip(g.ones(2, 3), [0, -2]), lambda: torch.flip(torch.ones(2, 3), [0, -2]))
    _same_error(lambda: g.flip(g.ones(2, 3), [2]), lambda: torch.flip(torch.ones(2, 3), [2]))
    _same_error(lambda: g.fliplr(g.ones(2)), lambda: torch.fliplr(torch.ones(2)))


ROLLS = [(1, None), (-3, None), (7, None), (2, 0), (-1, -1), ((1, 2), (0, 2)), ((5, -7, 1), (0, 1, 2)),
         ([2], [1]), (0, 1), (3, (1,))]


@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("shifts,dims", ROLLS)
def test_roll(shifts, dims, noncontig, gdt, tdt):
    _check(lambda x: g.roll(x, shifts, dims), lambda x: torch.roll(x, shifts, dims), (2, 3, 4), gdt, tdt, noncontig)
    _check(lambda x: x.roll(shifts, dims), lambda x: x.roll(shifts, dims), (2, 3, 4), gdt, tdt, noncontig)
    gi, ti = _int_pair((2, 3, 4))
    _eq_int(g.roll(gi, shifts, dims), torch.roll(ti, shifts, dims))


@pytest.mark.parametrize("call", [
    lambda m: m.roll(m.ones(2, 3), (1, 2), 0),
    lambda m: m.roll(m.ones(2, 3), 1, (0, 1)),
    lambda m: m.roll(m.ones(2, 3), (1, 2)),
    lambda m: m.roll(m.ones(2, 3), 1, 2),
])
def test_roll_errors(call):
    _same_error(lambda: call(g), lambda: call(torch))


# ---- repeat_interleave ----

RI = [((2,), {}), ((3,), {"dim": 0}), ((2,), {"dim": -1}), ((0,), {"dim": 1}),
      (("t", [1, 0, 2]), {"dim": 0}), (("t", [2, 1, 0, 3]), {"dim": 1}), (("t", [2]), {"dim": -1}),
      ((2,), {"dim": 0, "output_size": 6})]


@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("args,kw", RI)
def test_repeat_interleave(args, kw, noncontig, gdt, tdt):
    if args[0] == "t":
        ga, ta = (g.tensor(args[1]),), (torch.tensor(args[1]),)
    else:
        ga = ta = args
    _check(lambda x: g.repeat_interleave(x, *ga, **kw), lambda x: torch.repeat_interleave(x, *ta, **kw),
           (3, 4), gdt, tdt, noncontig)
    _check(lambda x: x.repeat_interleave(*ga, **kw), lambda x: x.repeat_interleave(*ta, **kw),
           (3, 4), gdt, tdt, noncontig)
    gi, ti = _int_pair((3, 4))
    _eq_int(g.repeat_interleave(gi, *ga, **kw), torch.repeat_interleave(ti, *ta, **kw))


def test_repeat_interleave_misc():
    _eq_int(g.repeat_interleave(g.tensor([2, 0, 3])), torch.repeat_interleave(torch.tensor([2, 0, 3])))
    _eq_int(g.tensor(5).repeat_interleave(3), torch.tensor(5).repeat_interleave(3))
    _eq_int(g.repeat_interleave(g.tensor([[1, 2], [3, 4]]), 2), torch.repeat_interleave(torch.tensor([[1, 2], [3, 4]]), 2))
    _same_error(lambda: g.repeat_interleave(g.ones(3), g.tensor([1, 2]), dim=0),
                lambda: torch.repeat_interleave(torch.ones(3), torch.tensor([1, 2]), dim=0))
    _same_error(lambda: g.repeat_interleave(g.ones(3), g.tensor([1, -1, 2]), dim=0),
                lambda: torch.repeat_interleave(torch.ones(3), torch.tensor([1, -1, 2]), dim=0))
    _same_error(lambda: g.repeat_interleave(g.ones(3), -1),
                lambda: torch.repeat_interleave(torch.ones(3), -1))
    _same_error(lambda: g.repeat_interleave(g.ones(3), 2, dim=0, output_size=5),
                lambda: torch.repeat_interleave(torch.ones(3), 2, dim=0, output_size=5))
    _same_error(lambda: g.repeat_interleave(g.ones(3), 2, dim=1),
                lambda: torch.repeat_interleave(torch.ones(3), 2, dim=1))


# ---- diag ----

@pytest.mark.parametrize("gdt,tdt", DTYPES)
@pytest.mark.parametrize("k", [0, 1, -1, 2, -3, 6, -6])
def test_diag(k, gdt, tdt):
    _check(lambda x: g.diag(x, k), lambda x: torch.diag(x, k), (4,), gdt, tdt)
    _check(lambda x: x.diag(k), lambda x: x.diag(k), (4,), gdt, tdt)
    for shape in [(4, 5), (5, 3), (3, 3)]:
        for nc in (False, True):
            _check(lambda x: g.diag(x, k), lambda x: torch.diag(x, k), shape, gdt, tdt, nc)
            _check(lambda x: x.diag(diagonal=k), lambda x: x.diag(diagonal=k), shape, gdt, tdt, nc)
    gi, ti = _int_pair((4,))
    _eq_int(g.diag(gi, k), torch.diag(ti, k))
    gi, ti = _int_pair((3, 4))
    _eq_int(g.diag(gi, k), torch.diag(ti, k))


def test_diag_errors():
    _same_error(lambda: g.diag(g.ones(2, 2, 2)), lambda: torch.diag(torch.ones(2, 2, 2)))
    _same_error(lambda: g.diag(g.ones(())), lambda: torch.diag(torch.ones(())))


# ---- one_hot ----

def test_one_hot():
    F, TF = g.nn.functional, torch.nn.functional
    a = np.random.default_rng(5).integers(0, 4, (3, 5))
    for nc in (-1, 4, 7):
        _eq_int(F.one_hot(g.tensor(a), nc), TF.one_hot(torch.tensor(a), nc))
    _eq_int(F.one_hot(g.tensor(a).t(), num_classes=5), TF.one_hot(torch.tensor(a).t(), num_classes=5))
    _eq_int(F.one_hot(g.tensor(2), 3), TF.one_hot(torch.tensor(2), 3))
    _eq_int(F.one_hot(g.zeros(0, 2).long(), 3), TF.one_hot(torch.zeros(0, 2).long(), 3))
    for args in [([1, -1], -1), ([1, -1], 3), ([1, 3], 3), ([1, 2], -2)]:
        _same_error(lambda: F.one_hot(g.tensor(args[0]), args[1]), lambda: TF.one_hot(torch.tensor(args[0]), args[1]))
    _same_error(lambda: F.one_hot(g.zeros(0).long()), lambda: TF.one_hot(torch.zeros(0).long()))
    _same_error(lambda: F.one_hot(g.tensor([1.0, 2.0]), 3), lambda: TF.one_hot(torch.tensor([1.0, 2.0]), 3))


# ---- backends, legacy constructors, Variable ----

def test_backends_mps():
    assert g.backends.mps.is_available() is False
    assert g.backends.mps.is_built() is False


LEGACY = ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor", "Tensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_constructors(name):
    G, T = getattr(g, name), getattr(torch, name)
    for args in [([1, 0, 2],), ([[1.0, 2.0], [0.0, 3.0]],), ((1, 2),), (np.array([1, 0]),)]:
        _eq_int(G(*args), T(*args))
    for args in [(2, 3), (g.Size([4]),), (), (0,)]:
        targs = (torch.Size(args[0]),) if args and isinstance(args[0], g.Size) else args
        a, b = G(*args), T(*targs)
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
    _same_error(lambda: G(2, 3.0), lambda: T(2, 3.0))
    _same_error(lambda: G("a"), lambda: T("a"))


def test_legacy_isinstance_and_alias():
    assert isinstance(g.ones(2), g.FloatTensor) and not isinstance(g.ones(2), g.DoubleTensor)
    assert isinstance(g.ones(2).long(), g.LongTensor) and isinstance(g.ones(2).bool(), g.BoolTensor)
    assert isinstance(g.ones(2).double(), g.DoubleTensor)
    t = g.ones(3)
    a = g.FloatTensor(t)
    a[0] = 5.0
    assert t[0].item() == 5.0
    b = g.Tensor(t)
    b[1] = 6.0
    assert t[1].item() == 6.0
    _same_error(lambda: g.FloatTensor(g.ones(2).long()), lambda: torch.FloatTensor(torch.ones(2).long()))
    p = g.nn.Parameter(g.ones(2))
    assert isinstance(p, g.nn.Parameter) and p.requires_grad


def test_variable():
    from gradcore.autograd import Variable
    t = g.ones(3)
    v = Variable(t, requires_grad=True)
    tv = torch.autograd.Variable(torch.ones(3), requires_grad=True)
    assert isinstance(v, g.Tensor) and v.requires_grad and v.is_leaf and tv.is_leaf
    assert v.data_ptr() == t.data_ptr() and not t.requires_grad
    assert isinstance(t, Variable)
    (v * 2).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 2.0, 2.0])
    w = Variable(g.ones(2))
    assert not w.requires_grad
    assert tuple(Variable().shape) == (0,)
    _same_error(lambda: Variable([1.0]), lambda: torch.autograd.Variable([1.0]))


@pytest.mark.parametrize("minlength", [0, 3, 12])
@pytest.mark.parametrize("weights", [None, "float32", "float64", "int64"])
def test_bincount(minlength, weights):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 9, 50)
    w = rng.standard_normal(50)
    kw_g, kw_t = {}, {}
    if weights is not None:
        wa = w.astype(weights) if weights != "int64" else (w * 10).astype(np.int64)
        kw_g, kw_t = {"weights": g.tensor(wa)}, {"weights": torch.tensor(wa)}
    got = g.bincount(g.tensor(x), minlength=minlength, **kw_g)
    want = torch.bincount(torch.tensor(x), minlength=minlength, **kw_t)
    assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    assert g.tensor(x).bincount().tolist() == torch.tensor(x).bincount().tolist()
    assert g.bincount(g.tensor([], dtype=g.long), minlength=minlength).tolist() == [0] * minlength


def test_bincount_errors():
    for bad, exc in [(lambda m: m.bincount(m.tensor([-1])), RuntimeError),
                     (lambda m: m.bincount(m.tensor([[1]])), RuntimeError),
                     (lambda m: m.bincount(m.tensor([1.0])), NotImplementedError),
                     (lambda m: m.bincount(m.tensor([1]), minlength=-1), RuntimeError),
                     (lambda m: m.bincount(m.tensor([1, 2]), weights=m.ones(3)), RuntimeError)]:
        with pytest.raises(exc):
            bad(torch)
        with pytest.raises(exc):
            bad(g)
