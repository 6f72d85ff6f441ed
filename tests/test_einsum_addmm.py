"""Issue 17 matmul family: addmm / addmv / baddbmm / addbmm (functions, methods, in-place forms) and
einsum (explicit and implicit output, ellipsis, repeated indices, list and sublist forms), checked
against PyTorch: values, dtypes, gradients of every operand, broadcasting of the input, beta = 0
ignoring NaN, non-contiguous and 0-size operands, and PyTorch's errors."""
import math

import numpy as np
import pytest

import gradcore as g
from helpers import gradcheck_fn

torch = pytest.importorskip("torch")

GDT = {torch.float32: g.float32, torch.float64: g.float64, torch.int64: g.int64}


def _pair(shape, dtype=torch.float64, seed=0, noncontig=False):
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, shape) if dtype == torch.int64 else rng.standard_normal(shape)
    if noncontig and len(shape) >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2))
        x, t = g.tensor(a).to(GDT[dtype]).transpose(-1, -2), torch.tensor(a).to(dtype).transpose(-1, -2)
    else:
        x, t = g.tensor(a).to(GDT[dtype]), torch.tensor(a).to(dtype)
    return x, t


def _same(x, t, rtol=1e-10, atol=1e-10):
    assert tuple(x.shape) == tuple(t.shape)
    assert x.dtype == GDT[t.dtype]
    np.testing.assert_allclose(x.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


# op name -> (operand shapes for (input, a, b), the product's shape)
ADD_CASES = {
    "addmm": [((2, 4), (2, 3), (3, 4)), ((4,), (2, 3), (3, 4)), ((1, 4), (2, 3), (3, 4)), ((), (2, 3), (3, 4)),
              ((2, 1), (2, 0), (0, 1)), ((0, 4), (0, 3), (3, 4))],
    "addmv": [((2,), (2, 3), (3,)), ((), (2, 3), (3,)), ((1,), (5, 4), (4,)), ((0,), (0, 3), (3,))],
    "baddbmm": [((2, 3, 5), (2, 3, 4), (2, 4, 5)), ((3, 5), (2, 3, 4), (2, 4, 5)), ((1, 1, 5), (2, 3, 4), (2, 4, 5)),
                ((0, 3, 5), (0, 3, 4), (0, 4, 5))],
    "addbmm": [((3, 5), (2, 3, 4), (2, 4, 5)), ((5,), (2, 3, 4), (2, 4, 5)), ((3, 5), (0, 3, 4), (0, 4, 5))],
}
CASES = [(op, shapes) for op, cs in ADD_CASES.items() for shapes in cs]


@pytest.mark.parametrize("op,shapes", CASES)
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 1.5), (2, 0)])
@pytest.mark.parametrize("noncontig", [False, True])
def test_add_products_match_torch(op, shapes, beta, alpha, noncontig):
    pairs = [_pair(s, seed=i, noncontig=noncontig and i > 0) for i, s in enumerate(shapes)]
    for x, t in pairs:
        x.requires_grad_(True)
        t.requires_grad_(True)
    r = getattr(g, op)(*[x for x, _ in pairs], beta=beta, alpha=alpha)
    e = getattr(torch, op)(*[t for _, t in pairs], beta=beta, alpha=alpha)
    _same(r, e)
    m = getattr(pairs[0][0], op)(pairs[1][0], pairs[2][0], beta=beta, alpha=alpha)
    _same(m, e)
    if e.numel():
        w = np.random.default_rng(9).standard_normal(tuple(e.shape))
        (r * g.tensor(w)).sum().backward()
        (e * torch.tensor(w)).sum().backward()
        for (x, _), (_, t) in zip(pairs, pairs):
            _same(x.grad, t.grad)


@pytest.mark.parametrize("op,shapes", [(op, cs[0]) for op, cs in ADD_CASES.items()])
def test_beta_zero_ignores_nan_and_inf(op, shapes):
    for fill in (math.nan, math.inf):
        inp = g.full(shapes[0], fill, dtype=g.float64)
        a, ta = _pair(shapes[1], seed=1)
        b, tb = _pair(shapes[2], seed=2)
        r = getattr(g, op)(inp, a, b, beta=0)
        e = getattr(torch, op)(torch.full(shapes[0], fill, dtype=torch.float64), ta, tb, beta=0)
        assert np.isfinite(r.numpy()).all()
        _same(r, e)
        c = g.full(tuple(e.shape), fill, dtype=g.float64)
        getattr(c, op + "_")(a, b, beta=0, alpha=2)
        _same(c, getattr(torch, op)(torch.full(tuple(e.shape), fill, dtype=torch.float64), ta, tb, beta=0, alpha=2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
@pytest.mark.parametrize("beta,alpha", [(2, 3), (0.5, 1.7), (1.5, -2.5)])
def test_add_products_dtypes(dtype, beta, alpha):
    # Integer tensors truncate a float beta/alpha to an int, as PyTorch's CPU kernels do.
    for op, shapes in ADD_CASES.items():
        pairs = [_pair(s, dtype, seed=i) for i, s in enumerate(shapes[0])]
        r = getattr(g, op)(*[x for x, _ in pairs], beta=beta, alpha=alpha)
        e = getattr(torch, op)(*[t for _, t in pairs], beta=beta, alpha=alpha)
        _same(r, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", list(ADD_CASES))
def test_in_place_forms(op):
    shapes = ADD_CASES[op][0]
    out_shape = tuple(getattr(torch, op)(*[torch.zeros(s) for s in shapes]).shape)
    x, t = _pair(out_shape, seed=5)
    a, ta = _pair(shapes[1], seed=6)
    b, tb = _pair(shapes[2], seed=7)
    assert getattr(x, op + "_")(a, b, beta=0.5, alpha=2) is x
    getattr(t, op + "_")(ta, tb, beta=0.5, alpha=2)
    _same(x, t)
    out = g.empty(out_shape, dtype=g.float64)
    assert getattr(g, op)(x, a, b, out=out) is out
    _same(out, getattr(torch, op)(t, ta, tb))
    # Through autograd: a non-leaf updated in place.
    x, t = _pair(out_shape, seed=8)
    x.requires_grad_(True)
    t.requires_grad_(True)
    getattr(x * 1, op + "_")(a, b, beta=3).sum().backward()
    getattr(t * 1, op + "_")(ta, tb, beta=3).sum().backward()
    _same(x.grad, t.grad)
    if len(shapes[0]) < len(out_shape):  # self cannot broadcast in place
        small, tsmall = _pair(shapes[0], seed=1)
        with pytest.raises(RuntimeError):
            getattr(tsmall, op + "_")(ta, tb)
        with pytest.raises(RuntimeError, match="in-place"):
            getattr(small, op + "_")(a, b)


def test_addbmm_single_gemm_matches_sum_of_bmm():
    # The fast path (one (n, b*m) @ (b*m, p) GEMM) against its simple twin.
    for noncontig in (False, True):
        a, _ = _pair((5, 3, 4), seed=1, noncontig=noncontig)
        b, _ = _pair((5, 4, 6), seed=2, noncontig=noncontig)
        inp = g.zeros(3, 6, dtype=g.float64)
        np.testing.assert_allclose(g.addbmm(inp, a, b).numpy(), g.bmm(a, b).sum(0).numpy(), rtol=1e-12, atol=1e-12)


def test_add_products_gradcheck():
    rng = np.random.default_rng(0)
    i, a, b = rng.standard_normal((4,)), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    gradcheck_fn(lambda i, a, b: g.addmm(i, a, b, beta=0.5, alpha=-1.5), i, a, b)
    gradcheck_fn(lambda i, a, b: g.addbmm(i, a, b, alpha=2), rng.standard_normal((3, 5)),
                 rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5)))
    gradcheck_fn(lambda i, a, b: g.addmv(i, a, b, beta=2), rng.standard_normal(()), a, rng.standard_normal((3,)))


def test_add_products_errors_match_torch():
    a, ta = _pair((2, 3))
    b, tb = _pair((3, 4))
    for mod, x, y in ((g, a, b), (torch, ta, tb)):
        for fn, err in [
            (lambda: mod.addmm(mod.zeros(3, dtype=mod.float64), x, y), RuntimeError),   # input does not broadcast
            (lambda: mod.addmm(mod.zeros(2, 4, dtype=mod.float64), x, x), RuntimeError),  # 2x3 @ 2x3
            (lambda: mod.addmm(mod.zeros(4, dtype=mod.float64), x[0], y), RuntimeError),  # mat1 not a matrix
            (lambda: mod.addmv(mod.zeros(2, dtype=mod.float64), x, y), RuntimeError),  # vec not a vector
            (lambda: mod.baddbmm(mod.zeros(2, 4, dtype=mod.float64), x, y), RuntimeError),  # not 3-D
            (lambda: mod.addbmm(mod.zeros(3, 5, dtype=mod.float64), mod.zeros(2, 3, 4, dtype=mod.float64),
                                mod.zeros(3, 4, 5, dtype=mod.float64)), RuntimeError),  # batch sizes differ
            (lambda: mod.addmm(mod.zeros(4, dtype=mod.float32), x, y), RuntimeError),  # dtypes differ
            (lambda: mod.addmm(mod.zeros(2, 4, dtype=mod.int64), x, y, alpha="2"), TypeError),
        ]:
            # PyTorch's CPU baddbmm/addbmm index dim 2 of a 2-D batch before checking it (IndexError);
            # gradcore says "batch1 must be a 3D tensor" as a RuntimeError, as PyTorch's CUDA path does.
            with pytest.raises(err if mod is g else (err, IndexError)):
                fn()


# ---- einsum ----

EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]), ("ba", [(2, 3)]),
    ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("iij->ji", [(3, 3, 2)]), ("iji->j", [(2, 4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij->...ji", [(2, 3, 4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 6)]), ("i,i->", [(4,), (4,)]), ("i,j->ij", [(3,), (4,)]),
    ("ij->", [(3, 4)]), ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 5)]), ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
    ("bA,Ac", [(2, 3), (3, 4)]), ("i,i,i->i", [(3,), (3,), (3,)]), ("ij,ij->i", [(3, 0), (3, 0)]),
    ("ij,jk->ik", [(0, 3), (3, 4)]), ("...,...->...", [(2, 3), (3,)]), ("i...->...", [(3, 2, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ij,kl->ijkl", [(2, 2), (3, 1)]),
    ("ii,jj->ij", [(2, 2), (3, 3)]), ("i j , j k -> i k", [(2, 3), (3, 4)]), ("", [()]), (",->", [(), ()]),
    ("i,->i", [(3,), ()]), ("abc,cba->", [(2, 3, 4), (4, 3, 2)]), ("ij,ik->jk", [(1, 3), (4, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EQUATIONS)
@pytest.mark.parametrize("noncontig", [False, True])
def test_einsum_matches_torch(eq, shapes, noncontig):
    pairs = [_pair(s, seed=i, noncontig=noncontig) for i, s in enumerate(shapes)]
    for x, t in pairs:
        x.requires_grad_(True)
        t.requires_grad_(True)
    r, e = g.einsum(eq, *[x for x, _ in pairs]), torch.einsum(eq, *[t for _, t in pairs])
    _same(r, e)
    if e.numel():
        w = np.random.default_rng(9).standard_normal(tuple(e.shape))
        (r * g.tensor(w)).sum().backward()
        (e * torch.tensor(w)).sum().backward()
        for (x, _), (_, t) in zip(pairs, pairs):
            _same(x.grad, t.grad)


def test_einsum_forms_and_dtypes():
    (a, ta), (b, tb) = _pair((2, 3), seed=1), _pair((3, 4), seed=2)
    _same(g.einsum("ij,jk", [a, b]), torch.einsum("ij,jk", [ta, tb]))
    _same(g.einsum("ij,jk", (a, b)), torch.einsum("ij,jk", (ta, tb)))
    _same(g.einsum(a, [0, 1], b, [1, 2], [0, 2]), torch.einsum(ta, [0, 1], tb, [1, 2], [0, 2]))
    _same(g.einsum(a, [Ellipsis, 1], b, [1, 2]), torch.einsum(ta, [Ellipsis, 1], tb, [1, 2]))
    (ia, tia), (ib, tib) = _pair((2, 3), torch.int64, seed=1), _pair((3, 4), torch.int64, seed=2)
    _same(g.einsum("ij,jk->ik", ia, ib), torch.einsum("ij,jk->ik", tia, tib))
    (fa, tfa), (fb, tfb) = _pair((2, 3), torch.float32, seed=1), _pair((3, 4), torch.float32, seed=2)
    _same(g.einsum("ij,jk->ki", fa, fb), torch.einsum("ij,jk->ki", tfa, tfb), rtol=1e-5, atol=1e-6)


def test_einsum_gradcheck():
    rng = np.random.default_rng(0)
    gradcheck_fn(lambda a, b: g.einsum("bij,bjk->bki", a, b), rng.standard_normal((2, 3, 2)),
                 rng.standard_normal((2, 2, 4)))
    gradcheck_fn(lambda a: g.einsum("iij->j", a), rng.standard_normal((3, 3, 2)))
    gradcheck_fn(lambda a, b, c: g.einsum("ab,bc,ca->", a, b, c), rng.standard_normal((2, 3)),
                 rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))


@pytest.mark.parametrize("args", [
    ("ij,jk->ik", [(2, 3)]),            # fewer operands than the equation names
    ("ij->ij", [(2, 3), (2, 3)]),       # more operands
    ("ij,jk->ik", [(2, 3), (4, 5)]),    # contracted sizes differ
    ("ijk->ij", [(2, 3)]),              # subscripts vs dims
    ("ij->ik", [(2, 3)]),               # output label not in the inputs
    ("ij->ii", [(2, 3)]),               # output label repeated
    ("i1->i", [(2, 3)]),                # invalid subscript
    ("ii->i", [(2, 3)]),                # repeated label, sizes differ
    ("i..j..->i", [(2, 3)]),            # broken ellipsis
])
def test_einsum_errors_match_torch(args):
    eq, shapes = args
    with pytest.raises(RuntimeError):
        torch.einsum(eq, *[torch.zeros(s) for s in shapes])
    with pytest.raises(RuntimeError, match="einsum"):
        g.einsum(eq, *[g.zeros(s) for s in shapes])


def test_autocast_dtypes_match_torch():
    (a, ta), (b, tb), (c, tc) = _pair((2, 3), torch.float32), _pair((3, 4), torch.float32), _pair((2, 4), torch.float32)
    calls = [
        lambda m, a, b, c: m.addmm(c, a, b), lambda m, a, b, c: m.addmv(c[:, 0], a, b[:, 0]),
        lambda m, a, b, c: m.baddbmm(c[None], a[None], b[None]), lambda m, a, b, c: m.addbmm(c, a[None], b[None]),
        lambda m, a, b, c: m.einsum("ij,jk", a, b),
    ]
    for f in calls:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            e = f(torch, ta, tb, tc)
        with g.autocast("cpu", dtype=g.bfloat16):
            r = f(g, a, b, c)
        assert r.dtype == {torch.bfloat16: g.bfloat16, torch.float32: g.float32}[e.dtype]
        np.testing.assert_allclose(r.float().detach().numpy(), e.float().detach().numpy(), rtol=3e-2, atol=3e-2)
