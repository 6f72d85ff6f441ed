"""Elementwise unary ops and activations: values vs NumPy (contiguous, non-contiguous, 0-dim,
large), gradients by finite differences, integer promotion, bool semantics, in-place variants,
clamp, numerical stability, parity with torch."""
import math

import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn


def sigmoid_np(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


# name -> (NumPy reference, input domain: "any", "pos" (> 0), "gt-1" (> -1), whether integer
# inputs give a float result). One line per op of the Tensor API.
UNARY = {
    "neg": (np.negative, "any", False),
    "abs": (np.abs, "any", False),
    "exp": (np.exp, "any", True),
    "log": (np.log, "pos", True),
    "sqrt": (np.sqrt, "pos", True),
    "rsqrt": (lambda x: 1 / np.sqrt(x), "pos", True),
    "sin": (np.sin, "any", True),
    "cos": (np.cos, "any", True),
    "tanh": (np.tanh, "any", True),
    "sigmoid": (sigmoid_np, "any", True),
    "relu": (lambda x: np.maximum(x, 0), "any", False),
    "sign": (np.sign, "any", False),
    "floor": (np.floor, "any", False),
    "ceil": (np.ceil, "any", False),
    "round": (np.round, "any", False),
    "log1p": (np.log1p, "gt-1", True),
    "expm1": (np.expm1, "any", True),
    "reciprocal": (np.reciprocal, "pos", True),
    "square": (np.square, "any", False),
    "erf": (np.vectorize(math.erf), "any", True),
    "erfc": (np.vectorize(math.erfc), "any", True),
}
DIFFERENTIABLE = [n for n in UNARY if n not in ("sign", "floor", "ceil", "round")]
FLOAT_ONLY = [n for n, row in UNARY.items() if row[2]]


def data(domain, shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=shape)
    if domain == "pos":
        x = np.abs(x) + 0.1
    elif domain == "gt-1":
        x = np.abs(x) - 0.9
    # Keep |x| away from kinks (0 for abs/relu, integers and halves for rounding) so finite
    # differences and float32 rounding agree.
    frac = x - np.floor(x)
    x = np.where(np.abs(frac - 0.5) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x) < 0.05, 0.2, x)
    return np.asarray(x, dtype=dtype)


def layouts(domain, shape, dtype):
    """(name, NumPy values, gradcore tensor): contiguous, transposed, sliced with a step."""
    a = data(domain, shape, dtype)
    out = [("contiguous", a, gradcore.tensor(a))]
    if len(shape) == 2:
        out.append(("transposed", a, gradcore.tensor(np.ascontiguousarray(a.T)).t()))
        wide = data(domain, (shape[0], 2 * shape[1]), dtype, seed=1)
        out.append(("sliced", wide[:, ::2], gradcore.tensor(wide)._slice(1, 0, 2 * shape[1], 2)))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 129)], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_values(name, shape, dtype):
    ref, domain, _ = UNARY[name]
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for lname, a, t in layouts(domain, shape, dtype):
        exp = ref(a.astype(np.float64)).astype(dtype)
        for got in (getattr(t, name)(), getattr(gradcore, name)(t)):
            assert got.dtype == t.dtype and got.shape == t.shape, (name, lname)
            assert_close(got, exp, **tol)
        inplace = t.clone()
        assert getattr(inplace, name + "_")() is inplace
        assert_close(inplace, exp, **tol)


def test_aliases_and_operators():
    a = data("any", (4, 5))
    t = gradcore.tensor(a)
    assert_close(gradcore.negative(t), -a)
    assert_close(-t, -a)
    assert_close(abs(t), np.abs(a))
    assert_close(t.clip(-1, 1), np.clip(a, -1, 1))
    b = gradcore.tensor([True, False])
    assert (~b).tolist() == [False, True]
    assert gradcore.logical_not(b).tolist() == [False, True]
    assert gradcore.tensor([0.0, 2.5, -1.0]).logical_not().tolist() == [True, False, False]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradients(name):
    domain = UNARY[name][1]
    a = data(domain, (3, 4))
    op = getattr(gradcore, name)
    gradcheck_fn(op, a)
    gradcheck_fn(lambda t: getattr(t.t(), name)(), a)  # through a transposed view
    gradcheck_fn(lambda t: getattr(t._slice(1, 0, 4, 2), name)(), a)  # through a strided slice


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_piecewise_constant_ops_have_zero_gradient(name):
    x = gradcore.tensor(data("any", (5,)), requires_grad=True)
    getattr(x, name)().sum().backward()
    assert x.grad.tolist() == [0.0] * 5


def test_gradient_dtype_float32_and_inplace_history():
    x = gradcore.tensor(data("pos", (6,), np.float32), requires_grad=True)
    y = x * 1.0
    y.sqrt_().log_()
    y.sum().backward()
    a = x.detach().numpy().astype(np.float64)
    assert x.grad.dtype == gradcore.float32
    assert_close(x.grad, (1 / (2 * np.sqrt(a) * np.sqrt(a))).astype(np.float32), rtol=1e-5)


def test_integer_inputs_promote_like_pytorch():
    i = gradcore.tensor([2, -3, 0])
    for name in FLOAT_ONLY:
        r = getattr(i, name)()
        assert r.dtype == gradcore.float32, name
        with np.errstate(all="ignore"):
            exp = UNARY[name][0](np.array([2.0, -3.0, 0.0]))
        assert_close(r, exp.astype(np.float32), rtol=1e-6)
    assert_close(i.exp(), np.exp([2.0, -3.0, 0.0]).astype(np.float32))
    for name, exp in [("neg", [-2, 3, 0]), ("abs", [2, 3, 0]), ("relu", [2, 0, 0]), ("sign", [1, -1, 0]),
                      ("floor", [2, -3, 0]), ("ceil", [2, -3, 0]), ("round", [2, -3, 0]), ("square", [4, 9, 0])]:
        r = getattr(gradcore, name)(i)
        assert r.dtype == gradcore.int64 and r.tolist() == exp, name
    assert i.logical_not().dtype == gradcore.bool and i.logical_not().tolist() == [False, False, True]
    old = gradcore.get_default_dtype()
    gradcore.set_default_dtype(gradcore.float64)
    try:
        assert i.sigmoid().dtype == gradcore.float64
    finally:
        gradcore.set_default_dtype(old)


def test_integer_inplace_refuses_float_results():
    i = gradcore.tensor([1, 2])
    with pytest.raises(RuntimeError, match="exp.*float32.*int64"):
        i.exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        gradcore.sqrt_(i)
    assert i.neg_().tolist() == [-1, -2] and i.abs_().tolist() == [1, 2]
    n = gradcore.tensor([0, 3])
    n.logical_not_()
    assert n.dtype == gradcore.int64 and n.tolist() == [1, 0]  # PyTorch keeps self's dtype


def test_bool_inputs():
    b = gradcore.tensor([True, False])
    with pytest.raises(RuntimeError, match="neg.*bool.*logical_not"):
        -b
    with pytest.raises(RuntimeError, match="relu.*bool"):
        b.relu()
    for name in ("abs", "floor", "ceil", "round"):
        with pytest.raises(NotImplementedError, match=f"{name}.*bool"):
            getattr(b, name)()
    assert b.sign().dtype == gradcore.bool and b.sign().tolist() == [True, False]
    assert b.square().dtype == gradcore.int64 and b.square().tolist() == [1, 0]
    assert b.exp().dtype == gradcore.float32
    assert_close(b.exp(), np.exp([1.0, 0.0]).astype(np.float32))
    with pytest.raises(RuntimeError, match="can't be cast"):
        b.clone().exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        b.clone().square_()
    c = b.clone()
    assert c.sign_() is c and c.tolist() == [True, False]
    assert c.logical_not_().tolist() == [False, True]


def test_sigmoid_tanh_stable_at_large_magnitude():
    for dt in (gradcore.float32, gradcore.float64):
        x = gradcore.tensor([1e4, -1e4, 1e3, -1e3, 88.0, -88.0, 0.0], dtype=dt, requires_grad=True)
        s = x.sigmoid()
        v = s.tolist()
        assert all(math.isfinite(e) for e in v)
        assert v[0] == 1.0 and v[1] == 0.0 and v[2] == 1.0 and v[3] == 0.0 and v[6] == 0.5
        s.sum().backward()
        assert all(math.isfinite(e) for e in x.grad.tolist())
        assert x.grad.tolist()[0] == 0.0 and x.grad.tolist()[6] == 0.25
        t = x.detach().tanh().tolist()
        assert t[0] == 1.0 and t[1] == -1.0
    sp = gradcore._C._nn.softplus(gradcore.tensor([1e4, -1e4, 0.0]))
    assert sp.tolist()[:2] == [1e4, 0.0] and abs(sp.tolist()[2] - math.log(2)) < 1e-6


def test_large_noncontiguous_inputs_take_the_parallel_path():
    old = gradcore.get_num_threads()
    gradcore.set_num_threads(4)
    try:
        a = data("any", (400, 301))
        t = gradcore.tensor(np.ascontiguousarray(a.T)).t()
        assert_close(t.exp(), np.exp(a), rtol=1e-12)
        assert_close(t.sigmoid(), sigmoid_np(a), rtol=1e-12)
        assert_close(t.clamp(-1, 1), np.clip(a, -1, 1), rtol=0, atol=0)
        x = gradcore.tensor(a, requires_grad=True)
        x.t().tanh().sum().backward()
        assert_close(x.grad, 1 - np.tanh(a) ** 2, rtol=1e-12)
    finally:
        gradcore.set_num_threads(old)


# ---- clamp ----

def test_clamp_values_and_forms():
    a = data("any", (4, 6))
    t = gradcore.tensor(a)
    assert_close(t.clamp(-1, 1), np.clip(a, -1, 1))
    assert_close(t.clamp(min=0.5), np.maximum(a, 0.5))
    assert_close(gradcore.clamp(t, max=-0.5), np.minimum(a, -0.5))
    assert_close(gradcore.clip(t, -2, 2), np.clip(a, -2, 2))
    assert_close(t.clamp_min(0.0), np.maximum(a, 0.0))
    assert_close(t.clamp_max(0.0), np.minimum(a, 0.0))
    assert_close(t.t().clamp(0, 1), np.clip(a.T, 0, 1))
    assert_close(t.clamp(2, 1), np.full_like(a, 1.0))  # min > max: everything becomes max, as PyTorch
    assert_close(t.clamp(gradcore.tensor(0.0), gradcore.tensor(1.0)), np.clip(a, 0, 1))
    nan = gradcore.tensor([float("nan"), 5.0]).clamp(0, 1).tolist()
    assert math.isnan(nan[0]) and nan[1] == 1.0


def test_clamp_dtypes():
    i = gradcore.tensor([1, 5, 9])
    r = i.clamp(2, 6)
    assert r.dtype == gradcore.int64 and r.tolist() == [2, 5, 6]
    f = i.clamp(2.5)
    assert f.dtype == gradcore.float32 and f.tolist() == [2.5, 5.0, 9.0]
    big = gradcore.tensor([2 ** 60 + 3, 2 ** 60 + 9]).clamp(min=2 ** 60 + 5, max=2 ** 60 + 7)
    assert big.tolist() == [2 ** 60 + 5, 2 ** 60 + 7]  # integer bounds stay exact (no trip through double)
    b = gradcore.tensor([True, False]).clamp(0, 1)
    assert b.dtype == gradcore.int64 and b.tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="clamp_.*can't be cast"):
        i.clone().clamp_(0.5)
    with pytest.raises(RuntimeError, match="min.*max"):
        gradcore.tensor([1.0]).clamp()
    with pytest.raises(TypeError, match="min"):
        gradcore.tensor([1.0]).clamp(min="a")


def test_clamp_gradients_and_inplace():
    a = data("any", (3, 5))
    gradcheck_fn(lambda t: t.clamp(-1, 1), a)
    gradcheck_fn(lambda t: t.clamp(min=0.5), a)
    gradcheck_fn(lambda t: t.t().clamp(max=0.3), a)
    x = gradcore.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clamp(-1, 1).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # the bounds themselves pass the gradient
    y = gradcore.tensor([-2.0, 0.5, 3.0])
    assert y.clamp_(0, 1) is y and y.tolist() == [0.0, 0.5, 1.0]
    w = gradcore.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.clamp_(0, 1)
    z = w * 2
    z.clamp_(0, 1)
    z.sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 0.0]
    with gradcore.no_grad():
        w.clamp_(0, 1)
    assert w.tolist() == [0.0, 0.5, 1.0]


# ---- in place and autograd ----

def test_inplace_autograd_rules():
    x = gradcore.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.exp_()
    with pytest.raises(RuntimeError, match="leaf"):
        gradcore.relu_(x)
    y = x * 1.0
    y.exp_()
    y.sum().backward()
    assert_close(x.grad, np.exp([0.5, 1.0, 2.0]).astype(np.float32))
    # A saved input modified in place makes backward refuse (version counter).
    x.grad = None
    y = x * 1.0
    s = y.sin()
    y.relu_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    with gradcore.no_grad():
        x.relu_()
    v = gradcore.tensor([-1.0, 2.0])
    before = v._version
    v.relu_()
    assert v.tolist() == [0.0, 2.0] and v._version == before + 1


def test_requires_grad_propagation():
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    assert x.exp().requires_grad and x.exp().grad_fn is not None
    assert x.floor().grad_fn is not None  # PyTorch records floor (with a zero gradient)
    assert not x.logical_not().requires_grad
    with gradcore.no_grad():
        assert not x.exp().requires_grad


# ---- nn.functional activations (bound as gradcore._C._nn.<name>) ----

def gelu_np(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def gelu_tanh_np(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softplus_np(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


# name -> (fn(F, x) with F gradcore's or torch's nn.functional, NumPy reference, whether F.<fn>
# takes inplace=True, what integer inputs do: "refuse" (NotImplementedError), "float" (promote),
# "keep" (int64 result)). Each op of nn.functional is one line here.
ACTIVATIONS = {
    "leaky_relu": (lambda F, x, **kw: F.leaky_relu(x, 0.2, **kw), lambda a: np.where(a > 0, a, 0.2 * a), True, "refuse"),
    "leaky_relu_default": (lambda F, x, **kw: F.leaky_relu(x, **kw), lambda a: np.where(a > 0, a, 0.01 * a), True,
                           "refuse"),
    "gelu": (lambda F, x: F.gelu(x), gelu_np, False, "refuse"),
    "gelu_tanh": (lambda F, x: F.gelu(x, approximate="tanh"), gelu_tanh_np, False, "refuse"),
    "softplus": (lambda F, x: F.softplus(x), softplus_np, False, "refuse"),
    "softplus_beta": (lambda F, x: F.softplus(x, 2.0, 1.0), lambda a: softplus_np(a, 2.0, 1.0), False, "refuse"),
    "silu": (lambda F, x, **kw: F.silu(x, **kw), lambda a: a / (1 + np.exp(-a)), True, "refuse"),
    "mish": (lambda F, x, **kw: F.mish(x, **kw), lambda a: a * np.tanh(np.log1p(np.exp(a))), True, "refuse"),
    "hardtanh": (lambda F, x, **kw: F.hardtanh(x, -0.5, 1.5, **kw), lambda a: np.clip(a, -0.5, 1.5), True, "keep"),
    "relu6": (lambda F, x, **kw: F.relu6(x, **kw), lambda a: np.clip(a, 0, 6), True, "keep"),
    "softsign": (lambda F, x: F.softsign(x), lambda a: a / (1 + np.abs(a)), False, "float"),
    "logsigmoid": (lambda F, x: F.logsigmoid(x), lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))), False, "refuse"),
}


# PyTorch writes these in Python from other ops, so its graph names a different last node.
COMPOSITE_IN_TORCH = {"softsign"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_values(name, dtype):
    fn, ref, has_inplace, _ = ACTIVATIONS[name]
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for shape in [(), (7,), (3, 129)]:
        for lname, a, t in layouts("any", shape, dtype):
            exp = ref(a.astype(np.float64)).astype(dtype)
            got = fn(gradcore.nn.functional, t)
            assert got.dtype == t.dtype and got.shape == t.shape, (name, lname)
            assert_close(got, exp, **tol)
            if has_inplace:
                inplace = t.clone()
                assert fn(gradcore.nn.functional, inplace, inplace=True) is inplace
                assert_close(inplace, exp, **tol)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradients(name):
    fn = ACTIVATIONS[name][0]
    F = gradcore.nn.functional
    a = data("any", (3, 4))
    gradcheck_fn(lambda t: fn(F, t), a)
    gradcheck_fn(lambda t: fn(F, t.t()), a)  # through a transposed view
    if ACTIVATIONS[name][2]:
        gradcheck_fn(lambda t: fn(F, t * 1.0, inplace=True), a)  # in place on a graph intermediate


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_integer_inputs_like_pytorch(name):
    fn, ref, _, ints = ACTIVATIONS[name]
    F, i = gradcore.nn.functional, gradcore.tensor([2, -3, 0])
    if ints == "refuse":
        with pytest.raises(NotImplementedError, match="int64"):
            fn(F, i)
        with pytest.raises(NotImplementedError, match="bool"):
            fn(F, gradcore.tensor([True]))
        return
    r = fn(F, i)
    assert r.dtype == (gradcore.float32 if ints == "float" else gradcore.int64)
    assert_close(r, ref(np.array([2.0, -3.0, 0.0])).astype(np.float32 if ints == "float" else np.int64), rtol=1e-6)


def test_nan_gradient_conventions_like_pytorch():
    # relu's gradient passes where the output is NaN (PyTorch's threshold_backward: y <= 0 ? 0 : g).
    x = gradcore.tensor([float("nan"), -1.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


def test_gelu_approximate_is_checked():
    with pytest.raises(RuntimeError, match="gelu.*approximate"):
        gradcore.nn.functional.gelu(gradcore.tensor([1.0]), approximate="fast")


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_torch_parity(name):
    torch = pytest.importorskip("torch")
    fn = ACTIVATIONS[name][0]
    a = np.concatenate([data("any", (20,)), [0.0, -0.0, 30.0, -30.0, 100.0, -100.0]])
    g = gradcore.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    og, ot = fn(gradcore.nn.functional, g), fn(torch.nn.functional, t)
    assert_close(og, ot.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(a.shape)
    og.backward(gradcore.tensor(w))
    ot.backward(torch.tensor(w))
    assert_close(g.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    if name not in COMPOSITE_IN_TORCH:
        assert og.grad_fn.name() == ot.grad_fn.name()
    # Large finite values and NaN in float32 (PyTorch's vectorised gelu turns +-inf into NaN and
    # overflows near the float32 maximum: quirks not matched here).
    specials = np.array([np.nan, 1e-40, -1e-40, 88.5, -88.5, 1e30, -1e30], dtype=np.float32)
    with np.errstate(all="ignore"):
        og = fn(gradcore.nn.functional, gradcore.tensor(specials)).numpy()
        ot = fn(torch.nn.functional, torch.tensor(specials)).numpy()
    np.testing.assert_allclose(og, ot, rtol=1e-6, atol=0, err_msg=name)


# ---- parity with PyTorch ----

def test_torch_parity_values_and_gradients():
    torch = pytest.importorskip("torch")
    for name in UNARY:
        domain = UNARY[name][1]
        a = data(domain, (4, 5))
        g = gradcore.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        og, ot = getattr(g, name)(), getattr(t, name)()
        assert_close(og, ot.detach().numpy(), rtol=1e-12, atol=1e-12)
        w = np.random.default_rng(1).standard_normal(a.shape)
        og.backward(gradcore.tensor(w))
        ot.backward(torch.tensor(w))
        assert_close(g.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    a = data("any", (4, 5))
    g = gradcore.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    og, ot = g.clamp(-1, 0.5), t.clamp(-1, 0.5)
    assert_close(og, ot.detach().numpy(), rtol=1e-12, atol=1e-12)
    og.sum().backward()
    ot.sum().backward()
    assert_close(g.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_torch_parity_special_values():
    torch = pytest.importorskip("torch")
    specials = np.array([0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, np.inf, -np.inf, np.nan, 1e-310, -1e300])
    for name in UNARY:
        with np.errstate(all="ignore"):
            og = getattr(gradcore.tensor(specials), name)().numpy()
            ot = getattr(torch.tensor(specials), name)().numpy()
        np.testing.assert_array_equal(np.signbit(og[~np.isnan(og)]), np.signbit(ot[~np.isnan(ot)]), err_msg=name)
        np.testing.assert_allclose(og, ot, rtol=1e-12, atol=0, err_msg=name)
    i = np.array([-7, 0, 3], dtype=np.int64)
    for name in UNARY:
        og = getattr(gradcore.tensor(i), name)()
        ot = getattr(torch.tensor(i), name)()
        names = {torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}
        assert str(og.dtype) == "gradcore." + names[ot.dtype], name
        np.testing.assert_allclose(og.numpy(), ot.numpy(), rtol=1e-6, err_msg=name)
    r = gradcore.tensor([1.234, 5.678, -2.55, 125.0], dtype=gradcore.float64)
    tr = torch.tensor([1.234, 5.678, -2.55, 125.0], dtype=torch.float64)
    for d in (1, 2, -1):
        assert_close(r.round(decimals=d), tr.round(decimals=d).numpy(), rtol=1e-12, atol=0)
