"""out= on the common functions (one shared wrapper, bind/out.cpp) against PyTorch: values, the
returned object, resizing (silent for an empty out, a UserWarning otherwise), dtype cast rules,
the autograd refusal; set_default_device / get_default_device; clamp_min / clamp_max."""
import warnings

import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(4)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal((3, 4)).astype(np.float32)
P = (RNG.random((3, 4)) + 0.5).astype(np.float32)


def mod(m, name):
    return getattr(m, name)


def same(g, t):
    assert tuple(g.shape) == tuple(t.shape)
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


# (function name, positional args as a function of the module, keywords)
CASES = [
    ("add", lambda m: (m.tensor(A), m.tensor(B)), {}),
    ("add", lambda m: (m.tensor(A), m.tensor(B)), {"alpha": 2}),
    ("sub", lambda m: (m.tensor(A), 1.5), {}),
    ("mul", lambda m: (m.tensor(A), m.tensor(B)), {}),
    ("div", lambda m: (m.tensor(A), m.tensor(P)), {}),
    ("matmul", lambda m: (m.tensor(A), m.tensor(B.T.copy())), {}),
    ("mm", lambda m: (m.tensor(A), m.tensor(B.T.copy())), {}),
    ("bmm", lambda m: (m.tensor(A[None]), m.tensor(B.T.copy()[None])), {}),
    ("cat", lambda m: ([m.tensor(A), m.tensor(B)],), {"dim": -1}),
    ("stack", lambda m: ([m.tensor(A), m.tensor(B)],), {}),
    ("sum", lambda m: (m.tensor(A), 1), {}),
    ("mean", lambda m: (m.tensor(A), (0, 1)), {"keepdim": True}),
    ("exp", lambda m: (m.tensor(A),), {}),
    ("log", lambda m: (m.tensor(P),), {}),
    ("sqrt", lambda m: (m.tensor(P),), {}),
    ("abs", lambda m: (m.tensor(A),), {}),
    ("neg", lambda m: (m.tensor(A),), {}),
    ("sigmoid", lambda m: (m.tensor(A),), {}),
    ("tanh", lambda m: (m.tensor(A),), {}),
    ("sin", lambda m: (m.tensor(A),), {}),
    ("clamp", lambda m: (m.tensor(A), -0.5, 0.5), {}),
    ("clamp_min", lambda m: (m.tensor(A), 0.0), {}),
    ("where", lambda m: (m.tensor(A) > 0, m.tensor(A), m.tensor(B)), {}),
    ("argmax", lambda m: (m.tensor(A), 1), {}),
    ("amax", lambda m: (m.tensor(A), 0), {}),
    ("maximum", lambda m: (m.tensor(A), m.tensor(B)), {}),
]


@pytest.mark.parametrize("name,args,kw", CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(CASES)])
def test_out_matches_torch(name, args, kw):
    expected = mod(torch, name)(*args(torch), **kw)
    g_out = gradcore.empty(0, dtype=gradcore.int64 if expected.dtype == torch.int64 else gradcore.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty out resizes silently
        r = mod(gradcore, name)(*args(gradcore), **kw, out=g_out)
    assert r is g_out
    same(g_out, expected)
    # A right-sized out is written in place (same storage).
    before = g_out.data_ptr()
    mod(gradcore, name)(*args(gradcore), **kw, out=g_out)
    assert g_out.data_ptr() == before
    same(g_out, expected)


def test_out_noncontiguous_and_aliasing_input():
    a = gradcore.tensor(A)
    out = gradcore.zeros(4, 3).t()  # a transposed view of the right shape
    gradcore.add(a, 1.0, out=out)
    same(out, torch.tensor(A) + 1.0)
    gradcore.mul(a, a, out=a)  # out is an input
    same(a, torch.tensor(A) * torch.tensor(A))


def test_out_resize_warns_like_torch():
    with pytest.warns(UserWarning) as rec:
        torch.exp(torch.ones(2), out=torch.empty(3))
    with pytest.warns(UserWarning, match="was resized since it had shape") as got:
        o = gradcore.empty(3)
        gradcore.exp(gradcore.ones(2), out=o)
    assert tuple(o.shape) == (2,)
    assert "resized" in str(rec[0].message) and "resized" in str(got[0].message)


def test_out_dtype_rules():
    o = gradcore.empty(2, dtype=gradcore.float64)
    gradcore.exp(gradcore.ones(2), out=o)  # float32 -> float64 is a cast
    assert o.dtype == gradcore.float64
    same(o, torch.exp(torch.ones(2, dtype=torch.float64)))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        gradcore.add(gradcore.ones(2), gradcore.ones(2), out=gradcore.empty(2, dtype=gradcore.int64))
    with pytest.raises(RuntimeError, match="can't be cast"):
        gradcore.add(gradcore.ones(2, dtype=gradcore.int64), 1, out=gradcore.empty(2, dtype=gradcore.bool))
    with pytest.raises(RuntimeError, match="dtype long"):
        gradcore.argmax(gradcore.ones(2), out=gradcore.empty((), dtype=gradcore.float32))
    i = gradcore.empty(2, dtype=gradcore.float32)
    gradcore.add(gradcore.ones(2, dtype=gradcore.int64), 1, out=i)  # int -> float is allowed
    same(i, torch.full((2,), 2.0))
    with pytest.raises(TypeError, match="'out' must be Tensor"):
        gradcore.exp(gradcore.ones(2), out=3)


def test_out_refuses_autograd():
    a = gradcore.ones(2, requires_grad=True)
    for call in (lambda: gradcore.exp(a, out=gradcore.empty(2)),
                 lambda: gradcore.exp(gradcore.ones(2), out=gradcore.empty(2, requires_grad=True)),
                 lambda: gradcore.cat([a, a], out=gradcore.empty(4))):
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            call()
    with gradcore.no_grad():
        o = gradcore.exp(a, out=gradcore.empty(2))
    same(o, torch.exp(torch.ones(2)))


def test_out_max_min_dim_tuple():
    tv, ti = torch.empty(0), torch.empty(0, dtype=torch.long)
    torch.max(torch.tensor(A), 1, out=(tv, ti))
    gv, gi = gradcore.empty(0), gradcore.empty(0, dtype=gradcore.int64)
    r = gradcore.max(gradcore.tensor(A), 1, out=(gv, gi))
    assert r.values is gv and r.indices is gi
    same(gv, tv)
    same(gi, ti)
    with pytest.warns(UserWarning, match="resized"):  # [3] -> [3, 1]
        gradcore.min(gradcore.tensor(A), -1, keepdim=True, out=(gv, gi))
    same(gv, torch.min(torch.tensor(A), -1, keepdim=True).values)
    with pytest.raises(RuntimeError, match="dtype long"):
        gradcore.max(gradcore.tensor(A), 1, out=(gradcore.empty(0), gradcore.empty(0)))


def test_plain_calls_unchanged():
    a = gradcore.tensor(A)
    same(gradcore.exp(a), torch.exp(torch.tensor(A)))
    same(gradcore.add(a, a, alpha=3), torch.add(torch.tensor(A), torch.tensor(A), alpha=3))
    same(gradcore.exp(a, out=None), torch.exp(torch.tensor(A)))
    assert gradcore.exp.__name__ == "exp"


# ---- set_default_device ----

def test_default_device_roundtrip_and_factories():
    assert gradcore.get_default_device() == gradcore.device("cpu")
    gradcore.set_default_device("cpu")
    try:
        assert gradcore.get_default_device() == gradcore.device("cpu")
        for t in (gradcore.zeros(2), gradcore.ones(2), gradcore.empty(2), gradcore.full((2,), 1.0), gradcore.rand(2),
                  gradcore.randn(2), gradcore.randint(0, 3, (2,)), gradcore.arange(3), gradcore.linspace(0, 1, 3),
                  gradcore.eye(2), gradcore.tensor([1.0]), gradcore.nn.Linear(2, 3).weight):
            assert t.device == gradcore.device("cpu")
    finally:
        gradcore.set_default_device(None)
    assert gradcore.get_default_device() == gradcore.device("cpu")


@pytest.mark.skipif(not gradcore.cuda.is_available(), reason="needs a CUDA device")
def test_default_device_cuda():
    gradcore.set_default_device("cuda")
    try:
        assert gradcore.zeros(2).device.type == "cuda"
        assert gradcore.tensor([1.0]).device.type == "cuda"
        assert gradcore.nn.Linear(2, 3).weight.device.type == "cuda"
        assert gradcore.zeros_like(gradcore.zeros(2, device="cpu")).device.type == "cpu"
        assert gradcore.zeros(2, device="cpu").device.type == "cpu"
    finally:
        gradcore.set_default_device(None)


@pytest.mark.skipif(gradcore.cuda.is_available(), reason="checks the error without a CUDA device")
def test_default_device_cuda_unavailable_raises_on_use():
    gradcore.set_default_device("cuda")
    try:
        with pytest.raises(AssertionError, match="not available"):  # PyTorch: "not compiled with CUDA"
            gradcore.zeros(2)
        assert gradcore.zeros(2, device="cpu").device.type == "cpu"
    finally:
        gradcore.set_default_device(None)
    assert gradcore.zeros(2).device.type == "cpu"


# ---- clamp_min / clamp_max ----

@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_min_max_forms(name):
    a, t = gradcore.tensor(A), torch.tensor(A)
    same(getattr(gradcore, name)(a, 0.25), getattr(torch, name)(t, 0.25))
    same(getattr(a, name)(-0.25), getattr(t, name)(-0.25))
    same(getattr(a, name)(gradcore.tensor(B)), getattr(t, name)(torch.tensor(B)))
    getattr(a, name + "_")(0.1)
    getattr(t, name + "_")(0.1)
    same(a, t)
    ga = gradcore.tensor(A.astype(np.float64), requires_grad=True)
    ta = torch.tensor(A.astype(np.float64), requires_grad=True)
    getattr(ga, name)(0.0).sum().backward()
    getattr(ta, name)(0.0).sum().backward()
    same(ga.grad, ta.grad)
