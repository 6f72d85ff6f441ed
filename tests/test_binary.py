"""Elementwise binary ops: values vs NumPy, broadcasting, type promotion, gradients, in place."""
import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn

SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (5,)), ((1,), (2, 3)), ((7, 1), (1, 129))]

OPS = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (gradcore.maximum, np.maximum),
    "minimum": (gradcore.minimum, np.minimum),
}


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("sa,sb", SHAPE_PAIRS)
def test_values_and_broadcasting(name, sa, sb):
    gop, nop = OPS[name]
    a = np.asarray(np.random.randn(*sa)).astype(np.float32)
    b = np.asarray(np.random.randn(*sb)).astype(np.float32) + 3.0
    assert_close(gop(gradcore.tensor(a), gradcore.tensor(b)), nop(a, b).astype(np.float32))


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("sa,sb", SHAPE_PAIRS[:5])
def test_gradients(name, sa, sb):
    gop, _ = OPS[name]
    a = np.asarray(np.random.randn(*sa))
    b = np.asarray(np.random.randn(*sb)) + (3.0 if name == "div" else 0.5)
    gradcheck_fn(gop, a, b)


def test_pow_values_and_gradients():
    a = np.random.rand(3, 4) + 0.5
    assert_close(gradcore.tensor(a) ** 2, a**2)
    assert_close(gradcore.tensor(a).pow(0.5), np.sqrt(a))
    assert_close(2 ** gradcore.tensor(a), 2**a)
    e = np.array([1.0, 2.0, 3.0])
    x = np.random.rand(4) + 0.1
    got = gradcore.tensor(x).unsqueeze(-1).pow(gradcore.tensor(e))
    assert_close(got, x[:, None] ** e)
    gradcheck_fn(lambda p, q: p.unsqueeze(-1).pow(q), x, e)
    gradcheck_fn(lambda p: p ** 3, np.random.randn(5))
    gradcheck_fn(lambda q: gradcore.tensor(2.0, dtype=gradcore.float64) ** q, np.random.randn(5))


def test_int_pow_and_negative_exponent():
    assert (gradcore.tensor([2, 3]) ** 2).tolist() == [4, 9]
    with pytest.raises(RuntimeError, match="negative integer powers"):
        gradcore.tensor([2, 3]) ** -1
    assert (gradcore.tensor([2, 4]) ** -1.0).tolist() == [0.5, 0.25]


def test_type_promotion_rules():
    i = gradcore.tensor([1, 2])
    f = gradcore.tensor([1.0, 2.0])
    d = gradcore.tensor([1.0, 2.0], dtype=gradcore.float64)
    b = gradcore.tensor([True, False])
    assert (i + 1).dtype == gradcore.int64
    assert (i + 1.5).dtype == gradcore.float32
    assert (i / 2).dtype == gradcore.float32
    assert (i + f).dtype == gradcore.float32
    assert (f + d).dtype == gradcore.float64
    assert (b + 1).dtype == gradcore.int64
    assert (b + b).dtype == gradcore.bool
    assert (f + gradcore.tensor(1.0, dtype=gradcore.float64)).dtype == gradcore.float32  # 0-dim does not win
    assert (i + gradcore.tensor(1.0, dtype=gradcore.float64)).dtype == gradcore.float64  # higher category wins
    assert (f * True).dtype == gradcore.float32
    assert (i > 1).dtype == gradcore.bool
    assert gradcore.result_type(i, 1.0) == gradcore.float32


def test_torch_promotion_parity():
    torch = pytest.importorskip("torch")
    vals = {
        "f32": ([1.0, 2.0], "float32"), "f64": ([1.0, 2.0], "float64"),
        "i64": ([1, 2], "int64"), "b": ([True, False], "bool"),
    }
    scalars = [2, 2.5, True]
    for ka, (va, da) in vals.items():
        for kb, (vb, db) in vals.items():
            for zero_dim in (False, True):
                ga = gradcore.tensor(va, dtype=getattr(gradcore, da))
                gb = gradcore.tensor(vb[0] if zero_dim else vb, dtype=getattr(gradcore, db))
                ta = torch.tensor(va, dtype=getattr(torch, da))
                tb = torch.tensor(vb[0] if zero_dim else vb, dtype=getattr(torch, db))
                for op in ("__add__", "__mul__", "__truediv__", "maximum"):
                    if da == db == "bool" and op == "__truediv__":
                        continue
                    r = getattr(ga, op)(gb)
                    t = getattr(ta, op)(tb)
                    assert str(r.dtype).split(".")[1] == str(t.dtype).split(".")[1], (ka, kb, zero_dim, op)
        for s in scalars:
            ga = gradcore.tensor(va, dtype=getattr(gradcore, da))
            ta = torch.tensor(va, dtype=getattr(torch, da))
            if da == "bool" and isinstance(s, bool):
                continue
            assert str((ga + s).dtype).split(".")[1] == str((ta + s).dtype).split(".")[1], (ka, s)


def test_comparisons_and_logical():
    a = np.array([1.0, 2.0, 3.0])
    t = gradcore.tensor(a)
    assert (t > 1.5).tolist() == [False, True, True]
    assert (t == 2).tolist() == [False, True, False]
    assert (t != 2).tolist() == [True, False, True]
    assert (t <= 2).tolist() == [True, True, False]
    assert ((t > 1) & (t < 3)).tolist() == [False, True, False]
    assert ((t < 2) | (t > 2)).tolist() == [True, False, True]
    assert (~(t > 1)).tolist() == [True, False, False]
    assert t.eq(gradcore.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    assert (t == None) is False  # noqa: E711


def test_floor_divide_and_remainder_python_semantics():
    a = np.array([-7, -3, 3, 7])
    b = np.array([2, -2, 2, -2])
    assert (gradcore.tensor(a) // gradcore.tensor(b)).tolist() == (a // b).tolist()
    assert (gradcore.tensor(a) % gradcore.tensor(b)).tolist() == (a % b).tolist()
    fa = a.astype(np.float32)
    assert_close(gradcore.tensor(fa) % 2.5, np.mod(fa, 2.5))
    with pytest.raises(RuntimeError, match="division by zero"):
        gradcore.tensor([1, 2]) // 0


def test_where():
    c = np.array([True, False, True])
    a = np.random.randn(3)
    b = np.random.randn(2, 3)
    assert_close(gradcore.where(gradcore.tensor(c), gradcore.tensor(a), gradcore.tensor(b)), np.where(c, a, b))
    assert_close(gradcore.where(gradcore.tensor(c), gradcore.tensor(a), 0.0), np.where(c, a, 0.0))
    gradcheck_fn(lambda x, y: gradcore.where(gradcore.tensor(c), x, y), a, b)
    with pytest.raises(RuntimeError, match="bool"):
        gradcore.where(gradcore.tensor([1, 0, 1]), gradcore.tensor(a), gradcore.tensor(a))


def test_non_contiguous_operands():
    a = np.random.randn(4, 6).astype(np.float32)
    b = np.random.randn(6, 4).astype(np.float32)
    ta, tb = gradcore.tensor(a), gradcore.tensor(b)
    assert_close(ta + tb.t(), a + b.T)
    assert_close(ta._slice(1, 0, 6, 2) * 3, a[:, ::2] * 3)
    e = gradcore.tensor(a[:1]).expand(4, 6)
    assert_close(e - ta, a[:1] - a)
    big = np.random.randn(300, 257).astype(np.float32)  # above the threading grain
    tbig = gradcore.tensor(big)
    assert_close(tbig.t() * 2 + 1, big.T * 2 + 1)


def test_broadcast_error():
    with pytest.raises(RuntimeError, match=r"\[3\].*\[4\]|must match"):
        gradcore.ones(3) + gradcore.ones(4)
    with pytest.raises(TypeError):
        gradcore.ones(3) + "a"


def test_in_place_ops():
    x = gradcore.tensor([1.0, 2.0, 3.0])
    x += 1
    x *= gradcore.tensor([2.0, 2.0, 2.0])
    x -= 1
    x /= 2
    assert x.tolist() == [1.5, 2.5, 3.5]
    x.add_(gradcore.ones(3), alpha=2)
    assert x.tolist() == [3.5, 4.5, 5.5]
    x.sub_(1).mul_(2).div_(4)
    assert x.tolist() == [1.25, 1.75, 2.25]
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(7)
    assert x.tolist() == [7, 7, 7]
    i = gradcore.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 1.5
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        gradcore.ones(3).add_(gradcore.ones(2, 3))


def test_in_place_bumps_version_and_sees_views():
    base = gradcore.zeros(2, 3)
    row = base.select(0, 1)
    v0 = base._version
    row.add_(5)
    assert base.tolist() == [[0, 0, 0], [5, 5, 5]]
    assert base._version > v0


def test_in_place_overlap_reads_snapshot():
    x = gradcore.arange(9, dtype=gradcore.float32).reshape(3, 3)
    expected = x.numpy() + x.numpy().T
    x += x.t()
    assert_close(x, expected)


def test_add_alpha_and_functions():
    a, b = gradcore.tensor([1.0, 2.0]), gradcore.tensor([3.0, 4.0])
    assert gradcore.add(a, b, alpha=2).tolist() == [7, 10]
    assert gradcore.sub(a, b).tolist() == [-2, -2]
    assert gradcore.mul(a, 2).tolist() == [2, 4]
    assert gradcore.div(a, b).tolist() == [1 / 3, 0.5] or np.allclose(gradcore.div(a, b).numpy(), [1 / 3, 0.5])
    assert gradcore.pow(2, a).tolist() == [2, 4]
    assert a.div(gradcore.tensor([-2.0, 3.0]), rounding_mode="floor").tolist() == [-1, 0]
    assert a.div(gradcore.tensor([-2.0, 3.0]), rounding_mode="trunc").tolist() == [-0.0, 0]
    assert (3 - a).tolist() == [2, 1]
    assert (1 / b).numpy().tolist() == pytest.approx([1 / 3, 0.25])


def test_gradient_conventions_at_nan_and_ties_like_pytorch():
    torch = pytest.importorskip("torch")
    a = [float("nan"), 1.0, 2.0, 3.0, -1.0]
    b = [1.0, float("nan"), 2.0, 1.0, 4.0]
    for name in ("maximum", "minimum", "mul", "div", "remainder"):
        grads = []
        for lib in (gradcore, torch):
            x = lib.tensor(a, dtype=lib.float64, requires_grad=True)
            y = lib.tensor(b, dtype=lib.float64, requires_grad=True)
            getattr(lib, name)(x, y).sum().backward()
            grads.append((x.grad.numpy(), y.grad.numpy()))
        for g, t in zip(grads[0], grads[1]):
            np.testing.assert_array_equal(g, t, err_msg=name)


def test_float64_pow_gradients_match_pytorch_exactly():
    torch = pytest.importorskip("torch")
    a = np.array([0.3, 1.7, -2.2, 0.0, 5.0])
    for fn in (lambda m, x: 2 ** x, lambda m, x: x ** 2.5, lambda m, x: x.abs() ** x, lambda m, x: 0.5 ** x):
        g = gradcore.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        fn(gradcore, g).sum().backward()
        fn(torch, t).sum().backward()
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["mul", "pow", "floor_divide", "remainder", "eq", "ne", "lt", "le", "gt", "ge",
                                  "logical_and", "logical_or", "logical_xor"])
def test_inplace_methods_from_the_op_rows_like_pytorch(name):
    torch = pytest.importorskip("torch")
    a, b = np.array([[1.5, -2.0, 0.0], [3.0, 0.5, -1.0]]), np.array([2.0, -2.0, 1.0])
    g, t = gradcore.tensor(a), torch.tensor(a)
    assert getattr(g, name + "_")(gradcore.tensor(b)) is g
    getattr(t, name + "_")(torch.tensor(b))
    assert str(g.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    np.testing.assert_array_equal(getattr(gradcore, name)(gradcore.tensor(a), gradcore.tensor(2.0)).numpy(),
                                  getattr(torch, name)(torch.tensor(a), torch.tensor(2.0)).numpy())


# +, -, *, / and their in-place forms are C slots of the Tensor type (bind/binary.cpp), and -t too
# (bind/unary.cpp); the dunder methods stay for explicit calls and Python subclasses. Both ways
# must follow the same rules.
@pytest.mark.parametrize("sym", ["+", "-", "*", "/"])
def test_operator_slots_match_the_methods(sym):
    a = gradcore.tensor([1.0, -2.0, 3.5])
    b = gradcore.tensor([0.5, 4.0, -1.0])
    arr = np.array([2.0, 3.0, 4.0], dtype=np.float32)
    name = {"+": "add", "-": "sub", "*": "mul", "/": "truediv"}[sym]
    fwd, ref = getattr(gradcore.Tensor, f"__{name}__"), getattr(gradcore.Tensor, f"__r{name}__")
    nop = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[sym]
    an, bn = a.numpy(), b.numpy()
    assert_close(eval(f"a {sym} b"), nop(an, bn))
    assert_close(fwd(a, b), nop(an, bn))
    assert_close(eval(f"2 {sym} a"), nop(2, an).astype(np.float32))  # reflected: int's slot declines
    assert_close(ref(a, 2), nop(2, an).astype(np.float32))
    assert_close(eval(f"a {sym} 2.5"), nop(an, 2.5).astype(np.float32))
    out = eval(f"a {sym} arr")  # an ndarray on the right becomes a tensor, as in PyTorch
    assert isinstance(out, gradcore.Tensor)
    assert_close(out, nop(an, arr))
    with pytest.raises(TypeError):
        eval(f"a {sym} None")
    with pytest.raises(TypeError):
        eval(f"None {sym} a")
    with pytest.raises(TypeError):
        eval(f"a {sym} 'x'")
    assert fwd(a, None) is NotImplemented
    with pytest.raises(RuntimeError, match="broadcast|shape"):  # a C++ error keeps its Python type
        eval(f"a {sym} gradcore.ones(4)")
    p = gradcore.nn.Parameter(gradcore.tensor([1.0, 2.0, 3.0]))  # a subclass: CPython's generic slot
    assert_close(eval(f"p {sym} a"), nop(p.detach().numpy(), an))
    assert_close(eval(f"a {sym} p"), nop(an, p.detach().numpy()))
    c = a.clone()
    before = c
    exec(f"c {sym}= b", {"c": c, "b": b})  # in place: the same object, new values
    assert_close(before, nop(an, bn))


def test_negation_slot_and_autograd_through_slots():
    x = gradcore.tensor([1.0, -2.0], requires_grad=True)
    y = -(x * 3 + 1) / 2 - x
    assert y.grad_fn is not None
    y.sum().backward()
    assert_close(x.grad, np.array([-2.5, -2.5], dtype=np.float32))
    with pytest.raises(RuntimeError, match="bool"):
        -gradcore.tensor([True, False])  # PyTorch refuses negation of bool tensors (RuntimeError)
    s = gradcore.zeros(2)  # in place keeps the storage
    ptr = s.data_ptr()
    s += 1
    s *= 3
    assert s.data_ptr() == ptr
    assert_close(s, np.array([3.0, 3.0], dtype=np.float32))


@pytest.mark.parametrize("dtype", [gradcore.float32, gradcore.float64, gradcore.bfloat16])
@pytest.mark.parametrize("e", [2, 3, 0.5, -0.5, -1, -2, 1.5])
def test_pow_by_a_scalar_exponent_fast_path_matches_the_elementwise_one(dtype, e):
    # A broadcast exponent of PyTorch's special values takes a loop with the exponent folded in
    # (cpu/binary.cpp, PowByConst); a full tensor of the same exponent takes Pow's general loop:
    # the same bits, forward and backward.
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 3.0, 1000)
    a[:5] = [0.0, np.inf, np.nan, 1.0, 2.5]
    x1 = gradcore.tensor(a, dtype=dtype, requires_grad=True)
    x2 = gradcore.tensor(a, dtype=dtype, requires_grad=True)
    y1 = x1 ** e
    y2 = x2 ** gradcore.full((1000,), e, dtype=dtype)
    np.testing.assert_array_equal(y1.detach().float().numpy(), y2.detach().float().numpy())
    g = gradcore.tensor(rng.standard_normal(1000), dtype=dtype)
    y1.backward(g)
    y2.backward(g)
    np.testing.assert_array_equal(x1.grad.float().numpy(), x2.grad.float().numpy())


@pytest.mark.parametrize("e", [2, 3, 0.5, -0.5, -1, -2])
def test_pow_special_exponents_like_pytorch(e):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(4).uniform(0.1, 3.0, 257).astype(np.float32)
    x = gradcore.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, yt = x ** e, t ** e
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)
