"""The 16-bit floating dtypes (issue 16, first part): bfloat16 and float16 tensors are made,
converted (round to nearest even, NaN and infinities kept, float16 overflowing to inf), copied,
filled, printed, crossed to NumPy (float16; bfloat16 refuses as PyTorch does), promoted by
PyTorch's table and described by finfo; every op computes them in float32 and rounds once
(ops/dispatch.h). Conversions are checked bit for bit against PyTorch over every 16-bit pattern."""
import numpy as np
import pytest

import gradcore

HALVES = [(gradcore.bfloat16, "bfloat16"), (gradcore.float16, "float16")]


def _edge_floats():
    rng = np.random.default_rng(0)
    random_bits = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32)
    special = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 65536.0, 1e-8, 2.0 ** -24, 2.0 ** -25,
                        3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 3.4e38, -3.4e38, np.inf, -np.inf, np.nan,
                        1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -9, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -12], dtype=np.float32)
    # every float16 value and the midpoints around it, every bfloat16 value and its neighbours
    h = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    b = (np.arange(2 ** 16, dtype=np.uint32) << 16).view(np.float32)
    mids = (b.view(np.uint32) + np.uint32(0x8000)).view(np.float32)
    with np.errstate(invalid="ignore"):  # nextafter of the NaN patterns
        return np.concatenate([random_bits.view(np.float32), special, h, b, mids,
                               np.nextafter(h, np.float32(np.inf)), np.nextafter(mids, np.float32(0))])


@pytest.mark.parametrize("dtype,name", HALVES)
def test_rounding_matches_pytorch_bit_for_bit(dtype, name):
    torch = pytest.importorskip("torch")
    x = _edge_floats()
    ours = gradcore.tensor(x).to(dtype).float().numpy()
    theirs = torch.tensor(x).to(getattr(torch, name)).float().numpy()
    nan = np.isnan(theirs)
    np.testing.assert_array_equal(np.isnan(ours), nan)
    np.testing.assert_array_equal(ours[~nan].view(np.uint32), theirs[~nan].view(np.uint32))


def test_float16_matches_numpy_and_round_trips():
    x = _edge_floats()
    ours = gradcore.tensor(x).half().numpy()
    assert ours.dtype == np.float16
    with np.errstate(over="ignore"):  # values past 65504 become inf, as they should
        want = x.astype(np.float16)
    nan = np.isnan(want)
    np.testing.assert_array_equal(ours[~nan].view(np.uint16), want[~nan].view(np.uint16))
    back = gradcore.from_numpy(want)  # float16 arrays come in as float16 tensors, sharing memory
    assert back.dtype == gradcore.float16
    np.testing.assert_array_equal(back.numpy().view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("dtype,name", HALVES)
def test_creation_conversion_and_printing(dtype, name):
    t = gradcore.tensor([1.0, 2.5, 3.14159], dtype=dtype)
    assert t.dtype == dtype and dtype.itemsize == 2 and dtype.is_floating_point
    assert t.tolist() == [1.0, 2.5, 3.140625]
    assert t[1].item() == 2.5 and float(t[0]) == 1.0
    assert repr(t) == f"tensor([1.0000, 2.5000, 3.1406], dtype=gradcore.{name})"
    assert gradcore.ones(2, 3, dtype=dtype).tolist() == [[1.0] * 3] * 2
    assert gradcore.zeros(4, dtype=dtype).dtype == dtype and gradcore.full((2,), 0.1, dtype=dtype).float().tolist() \
        == [gradcore.tensor(0.1).to(dtype).item()] * 2
    assert getattr(gradcore.tensor([1.0]), "bfloat16" if name == "bfloat16" else "half")().dtype == dtype
    assert t.double().dtype == gradcore.float64 and t.long().tolist() == [1, 2, 3]
    assert gradcore.tensor([True, False]).to(dtype).tolist() == [1.0, 0.0]
    assert gradcore.randn(5, dtype=dtype).dtype == dtype
    s = gradcore.tensor([1.0, 2.0, 3.0, 4.0]).to(dtype)[::2]  # strided copy
    assert s.contiguous().tolist() == [1.0, 3.0]
    u = gradcore.zeros(3, dtype=dtype)
    u.fill_(2.5)
    u[1:] = gradcore.tensor([7.0, 8.0])
    assert u.tolist() == [2.5, 7.0, 8.0]
    assert t.type() == {"bfloat16": "gradcore.BFloat16Tensor", "float16": "gradcore.HalfTensor"}[name]


def test_bfloat16_numpy_refuses_like_pytorch():
    with pytest.raises(TypeError, match="unsupported ScalarType BFloat16"):
        gradcore.ones(2, dtype=gradcore.bfloat16).numpy()


def _sym(*shape):
    return np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape).astype(np.float32)


# name: (fn(module, *tensors), input arrays); every op computes in float32 and rounds its result to
# the 16-bit dtype once, as PyTorch's kernels do.
OPS = {
    "unary": (lambda m, a: a.exp() + a.tanh() * a.sigmoid() - a.abs().sqrt() + m.relu(a) * a.sin(), [_sym(7, 9)]),
    "binary_broadcast": (lambda m, a, b: (a * b - a / (b.abs() + 1)) ** 2 + a.maximum(b), [_sym(5, 1, 6), _sym(4, 1)]),
    "scalar_ops": (lambda m, a: (a * 2.5 + 1) / 3 - 0.25 * a.pow(2), [_sym(33)]),
    "reductions": (lambda m, a: a.sum(0) + a.mean(1, keepdim=True).sum() + a.amax(1).sum() + a.var(0), [_sym(40, 3)]),
    "softmax_ce": (lambda m, x: m.nn.functional.cross_entropy(x, m.tensor([0, 2, 1, 4])) + x.log_softmax(1).mean(),
                   [_sym(4, 5)]),
    "matmul_linear": (lambda m, x, w, b: m.nn.functional.linear(x, w, b).relu() @ w, [_sym(6, 8), _sym(8, 8), _sym(8)]),
    "conv_pool_bn": (lambda m, x, w: m.nn.functional.batch_norm(
        m.nn.functional.max_pool2d(m.nn.functional.conv2d(x, w, padding=1), 2), None, None, training=True),
        [_sym(2, 3, 8, 8), _sym(4, 3, 3, 3)]),
    "mse": (lambda m, a, b: m.nn.functional.mse_loss(a, b) + m.nn.functional.l1_loss(a, b), [_sym(10, 3), _sym(10, 3)]),
    "indexing": (lambda m, a: a[1:, ::2].t() * a[0, 1] + a.index_select(0, m.tensor([2, 0])).sum(), [_sym(3, 6)]),
}


@pytest.mark.parametrize("dtype,name", HALVES)
@pytest.mark.parametrize("op", list(OPS))
def test_ops_compute_in_float32_and_match_pytorch(op, dtype, name):
    torch = pytest.importorskip("torch")
    fn, arrays = OPS[op]
    res = []
    for m in (gradcore, torch):
        dt = getattr(m, name)
        ts = [m.tensor(a).to(dt).requires_grad_(True) for a in arrays]
        out = fn(m, *ts)
        assert str(out.dtype).split(".")[1] == name
        out.float().sum().backward()
        res.append([out.detach().float().numpy()] + [t.grad.float().numpy() for t in ts])
    eps = 2.0 ** -7 if name == "bfloat16" else 2.0 ** -10
    for a, b in zip(*res):
        # a result rounds once in each library, but their float32 arithmetic may differ in the
        # last float bits, which can flip a rounding: a few 16-bit ulps, scaled by the values
        np.testing.assert_allclose(a, b, rtol=4 * eps, atol=4 * eps * max(1.0, float(np.abs(b).max())))


def test_promotion_table_is_pytorchs():
    bf, f16, f32, f64, i64, b = (gradcore.bfloat16, gradcore.float16, gradcore.float32, gradcore.float64,
                                 gradcore.int64, gradcore.bool)
    cases = {(bf, f32): f32, (bf, f16): f32, (f16, f32): f32, (bf, f64): f64, (i64, bf): bf, (b, f16): f16,
             (bf, bf): bf, (f16, i64): f16}
    for (x, y), want in cases.items():
        assert gradcore.promote_types(x, y) == want and gradcore.promote_types(y, x) == want
    torch = pytest.importorskip("torch")
    names = ["bfloat16", "float16", "float32", "float64", "int64", "bool"]
    for x in names:
        for y in names:
            assert str(gradcore.promote_types(getattr(gradcore, x), getattr(gradcore, y))).split(".")[1] == \
                str(torch.promote_types(getattr(torch, x), getattr(torch, y))).split(".")[1]


def test_finfo_and_iinfo_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ["float32", "float64", "bfloat16", "float16"]:
        ours, theirs = gradcore.finfo(getattr(gradcore, name)), torch.finfo(getattr(torch, name))
        assert repr(ours) == repr(theirs)
        for attr in ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"]:
            assert getattr(ours, attr) == getattr(theirs, attr), (name, attr)
    assert gradcore.finfo().dtype == "float32"
    assert repr(gradcore.iinfo(gradcore.int64)) == repr(torch.iinfo(torch.int64))
    with pytest.raises(TypeError, match="finfo"):
        gradcore.finfo(gradcore.int64)


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW"])
def test_a_model_trains_in_16_bit_like_pytorch(name, opt):
    # Module.to(dtype) / .half() / .bfloat16(), forward, backward and the optimizers' updates on
    # 16-bit parameters (computed in float32, rounded once: PyTorch's foreach updates round some
    # intermediates too, so the weights agree to a couple of 16-bit ulps).
    torch = pytest.importorskip("torch")
    res = []
    for m in (gradcore, torch):
        lin = m.nn.Linear(4, 3)
        with m.no_grad():
            lin.weight.copy_(m.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 10))
            lin.bias.copy_(m.tensor(np.ones(3, dtype=np.float32)))
        lin = getattr(lin, "half" if name == "float16" else "bfloat16")()
        assert str(lin.weight.dtype).split(".")[1] == name
        o = getattr(m.optim, opt)(lin.parameters(), lr=0.1, **({"momentum": 0.9} if opt == "SGD" else {}))
        x = m.tensor(np.ones((2, 4), dtype=np.float32)).to(getattr(m, name))
        for _ in range(3):
            o.zero_grad()
            m.nn.functional.mse_loss(lin(x), m.zeros(2, 3, dtype=getattr(m, name))).backward()
            o.step()
        res.append(lin.weight.detach().float().numpy())
    ulp = 2.0 ** -7 if name == "bfloat16" else 2.0 ** -10
    np.testing.assert_allclose(res[0], res[1], rtol=2 * ulp, atol=2 * ulp)


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_every_op_of_the_table_runs_in_16_bit_like_float32(name):
    # Every op of the shared table (tests/op_cases.py) on 16-bit tensors against the same op on
    # float32 tensors holding the same (rounded) values, rounded once at the end: 16-bit results
    # differ only by the roundings of intermediate 16-bit tensors in multi-op cases.
    from op_cases import CASES
    dtype = getattr(gradcore, name)
    eps = 2.0 ** -7 if name == "bfloat16" else 2.0 ** -10
    for case, (fn, arrays, diff) in CASES.items():
        res = []
        for half in (True, False):
            ts = []
            for a in arrays:
                t = gradcore.tensor(np.asarray(a, dtype=np.float32)).to(dtype)
                t = t if half else t.float()
                ts.append(t.requires_grad_(diff))
            out = fn(gradcore, *ts)
            if half and out.dtype.is_floating_point and case != "compare":  # compare calls .float()
                assert out.dtype == dtype, case
            if diff:
                out.float().sum().backward()
            grads = [t.grad.float().numpy() if diff and t.grad is not None else None for t in ts]
            res.append((out.detach().to(dtype).float().numpy() if out.dtype.is_floating_point
                        else out.numpy(), grads))
        (o16, g16), (o32, g32) = res
        scale = max(1.0, float(np.abs(o32).max())) if o32.size else 1.0
        np.testing.assert_allclose(o16, o32, rtol=8 * eps, atol=8 * eps * scale, err_msg=case)
        for a, b in zip(g16, g32):
            if b is not None:
                b16 = gradcore.tensor(b).to(dtype).float().numpy()
                np.testing.assert_allclose(a, b16, rtol=8 * eps, atol=8 * eps * max(1.0, float(np.abs(b).max())),
                                           err_msg=f"{case} gradient")


NATIVE_SCRIPT = r"""
import sys
import numpy as np
import gradcore
sys.path.insert(0, sys.argv[2])
from test_half import _edge_floats
F = gradcore.nn.functional
out = {}
x32 = _edge_floats()
x32 = x32[np.isfinite(x32)][::7]
rng = np.random.default_rng(3)
y32 = rng.standard_normal(x32.size).astype(np.float32) * 4
UNARY = {"exp": gradcore.exp, "relu": gradcore.relu, "sigmoid": gradcore.sigmoid, "tanh": gradcore.tanh,
         "neg": gradcore.neg, "abs": gradcore.abs, "sqrt": lambda t: gradcore.sqrt(t.abs()), "gelu": F.gelu,
         "logical_not": gradcore.logical_not}
BINARY = {"add": gradcore.add, "add_alpha": lambda a, b: gradcore.add(a, b, alpha=0.3), "mul": gradcore.mul,
          "div": gradcore.div, "max": gradcore.maximum, "lt": gradcore.lt, "pow": lambda a, b: gradcore.pow(a.abs(), b)}
for name in ("bfloat16", "float16"):
    dt = getattr(gradcore, name)
    x = gradcore.tensor(x32).to(dt)
    y = gradcore.tensor(y32).to(dt)
    out[name + "_cast"] = x.float().numpy()
    out[name + "_back"] = x.float().to(dt).float().numpy()
    for k, f in UNARY.items():
        r, r32 = f(x), f(x.float())
        out[f"{name}_{k}"] = r.float().numpy() if r.dtype == dt else r.numpy()
        # the 16-bit kernel computes in float and rounds once: the float op's result, rounded
        want = r32.to(dt).float().numpy() if r32.dtype == gradcore.float32 else r32.numpy()
        np.testing.assert_array_equal(out[f"{name}_{k}"], want, err_msg=k)
    for k, f in BINARY.items():
        r, r32 = f(x, y), f(x.float(), y.float())
        got = r.float().numpy() if r.dtype == dt else r.numpy()
        want = r32.to(dt).float().numpy() if r32.dtype == gradcore.float32 else r32.numpy()
        np.testing.assert_array_equal(got, want, err_msg=k)
        out[f"{name}_{k}"] = got
    # backward kernels: unary (sigmoid), binary (mul, div)
    for k, f in {"sigmoid": lambda a, b: gradcore.sigmoid(a), "mul": gradcore.mul, "div": gradcore.div}.items():
        xs = gradcore.tensor(y32).to(dt).requires_grad_()
        ys = gradcore.tensor(y32[::-1].copy()).to(dt).requires_grad_()
        f(xs, ys).backward(gradcore.ones(y32.size, dtype=dt))
        out[f"{name}_{k}_grad"] = xs.grad.float().numpy()
np.savez(sys.argv[1], **out)
"""


def test_16_bit_elementwise_loops_are_the_same_on_every_isa(tmp_path):
    # The 16-bit elementwise kernels and casts run a loop compiled for the widest vectors the CPU
    # has (cpu/loops.h index_loop_widest); each copy must give the baseline's bits. Each also
    # equals the float32 op on the same values rounded once (checked inside the script).
    import os
    import subprocess
    import sys
    results = {}
    for isa in ("baseline", "avx2", "avx512"):
        path = tmp_path / f"{isa}.npz"
        env = dict(os.environ, GRADCORE_CPU_ISA=isa)
        run = subprocess.run([sys.executable, "-c", NATIVE_SCRIPT, str(path), os.path.dirname(__file__)], env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        results[isa] = np.load(path)
    base = results["baseline"]
    for isa in ("avx2", "avx512"):
        for key in base.files:
            a, b = base[key], results[isa][key]
            if a.dtype.kind == "f":
                np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32), err_msg=f"{isa} {key}")
            else:
                np.testing.assert_array_equal(a, b, err_msg=f"{isa} {key}")
