"""Differential fuzzing of the public API against PyTorch (NumPy and float64 gradchecks where
PyTorch is not importable).

- Bad arguments through every public function and Tensor method: None (and other non-tensors) in
  each position. These run in a child process, so a crash is a failed test that names the call,
  not a dead test run.
- Random elementwise op chains (hypothesis): shapes that broadcast, float32/float64, values and
  gradients against PyTorch.
- In-place ops on graph intermediates (fill_, zero_, copy_) followed by backward().
The default number of examples keeps the file to a few seconds; GRADCORE_FUZZ_EXAMPLES raises it.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcore

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("GRADCORE_FUZZ_EXAMPLES", "40"))


# ---- bad arguments, in a child process ----

_SWEEP = textwrap.dedent("""
    import inspect, sys
    import gradcore
    t = gradcore.ones(2, 3, requires_grad=True) * 1.0
    bad_values = [None, "x", object()]
    calls = []
    for name in sorted(dir(gradcore)):
        fn = getattr(gradcore, name)
        if name.startswith("_") or inspect.isclass(fn) or inspect.ismodule(fn) or not callable(fn):
            continue
        if name in ("manual_seed", "seed", "set_num_threads", "set_default_dtype", "set_printoptions", "save", "load"):
            continue  # change process state or touch files; their argument checks are tested elsewhere
        calls.append(("gradcore." + name, fn, 0))
    for name in sorted(dir(gradcore.Tensor)):
        if name.startswith("__") and name not in ("__add__", "__mul__", "__getitem__", "__setitem__", "__matmul__"):
            continue
        fn = getattr(t, name, None)
        if callable(fn):
            calls.append(("Tensor." + name, fn, 1))
    for label, fn, _ in calls:
        for bad in bad_values:
            for nargs in (1, 2):
                for pos in range(nargs):
                    args = [t] * nargs
                    args[pos] = bad
                    print(label, nargs, pos, type(bad).__name__, flush=True)
                    try:
                        fn(*args)
                    except Exception as e:
                        print("  ->", type(e).__name__, flush=True)
    print("DONE", flush=True)
""")


def test_bad_arguments_never_crash_the_process():
    proc = subprocess.run([sys.executable, "-c", _SWEEP], capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    last = next((l for l in reversed(lines) if not l.startswith("  ->")), "<nothing>")
    assert proc.returncode == 0 and lines and lines[-1] == "DONE", (
        f"the child died (exit {proc.returncode}) at the call: {last}\n{proc.stderr[-2000:]}")


@pytest.mark.parametrize("call", [
    lambda g: g.sum(None), lambda g: g.cat([g.ones(2), None]), lambda g: g.ones(2).copy_(None),
    lambda g: g.ones(2).view_as(None), lambda g: g.nn.functional.relu(None), lambda g: g.exp(None),
    lambda g: g.ones(2) @ None, lambda g: g.matmul(g.ones(2), None), lambda g: g.stack([None]),
    lambda g: g.where(None, g.ones(2), g.ones(2)), lambda g: g.ones(2).expand_as(None),
])
def test_none_where_a_tensor_is_expected_is_a_type_error(call):
    with pytest.raises(TypeError):
        call(gradcore)
    torch = sys.modules.get("torch") or _maybe_torch()
    if torch is not None:
        with pytest.raises(TypeError):
            call(torch)


def _maybe_torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


# ---- in-place writes into graph intermediates ----

@pytest.mark.parametrize("op", ["zero_", "fill_", "copy_const", "copy_grad"])
def test_backward_after_inplace_fill_of_an_intermediate(op):
    results = []
    for lib in [gradcore] + ([_maybe_torch()] if _maybe_torch() else []):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        h = x * 2
        if op == "zero_":
            h.zero_()
        elif op == "fill_":
            h.fill_(2.5)
        elif op == "copy_const":
            h.copy_(lib.tensor([4.0, 5.0, 6.0]))
        else:
            h.copy_(y * 3)
        (h * x).sum().backward()
        results.append((x.grad.numpy().copy(), None if y.grad is None else y.grad.numpy().copy()))
    expected = {"zero_": [0, 0, 0], "fill_": [2.5] * 3, "copy_const": [4, 5, 6], "copy_grad": [1.5, -3, 6]}[op]
    np.testing.assert_allclose(results[0][0], expected)
    for r in results[1:]:
        np.testing.assert_allclose(results[0][0], r[0])
        assert (results[0][1] is None) == (r[1] is None)


def test_copy_from_a_source_that_does_not_broadcast_raises():
    with pytest.raises(RuntimeError, match="broadcast"):
        gradcore.zeros(3).copy_(gradcore.ones(2, 3))
    gradcore.zeros(2, 3).copy_(gradcore.ones(3))  # broadcasting sources are fine


# ---- random elementwise chains against PyTorch ----

UNARY_OPS = ["neg", "abs", "exp", "tanh", "sigmoid", "relu", "sin", "cos", "square", "erf",
             lambda m, x: m.nn.functional.silu(x), lambda m, x: m.nn.functional.gelu(x),
             lambda m, x: m.nn.functional.softplus(x), lambda m, x: m.nn.functional.mish(x),
             lambda m, x: m.nn.functional.logsigmoid(x), lambda m, x: m.nn.functional.hardtanh(x, -0.5, 0.7),
             lambda m, x: x.clamp(-0.8, 0.9), lambda m, x: (x.abs() + 0.5).log(), lambda m, x: (x.abs() + 0.5).sqrt(),
             lambda m, x: (x.abs() + 0.5).rsqrt(), lambda m, x: x.expm1(), lambda m, x: (x.abs() - 0.5).log1p()]
BINARY_OPS = ["add", "sub", "mul", "maximum", "minimum",
              lambda m, a, b: a / (b.abs() + 0.5), lambda m, a, b: (a.abs() + 0.5) ** b,
              lambda m, a, b: m.where(a > b, a, b), lambda m, a, b: a.remainder(b.abs() + 0.5)]


def _apply(op, m, *xs):
    if callable(op):
        return op(m, *xs)
    return getattr(m, op)(*xs)


@st.composite
def _chains(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    # The second operand broadcasts: some of its dims are 1, some leading dims missing.
    bshape = tuple(1 if draw(st.booleans()) else s for s in shape)[draw(st.integers(0, ndim)):]
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 100)), min_size=1, max_size=5))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    return shape, bshape, steps, dtype, seed


@settings(max_examples=EXAMPLES, deadline=None)
@given(_chains())
def test_random_op_chains_match_pytorch(case):
    torch = pytest.importorskip("torch")
    shape, bshape, steps, dtype, seed = case
    rng = np.random.default_rng(seed)
    a0 = rng.uniform(-2, 2, size=shape).astype(dtype)
    b0 = rng.uniform(-2, 2, size=bshape).astype(dtype)
    outs, grads = [], []
    for m in (gradcore, torch):
        a = m.tensor(a0, requires_grad=True)
        b = m.tensor(b0, requires_grad=True)
        x = a
        for binary, k in steps:
            x = _apply(BINARY_OPS[k % len(BINARY_OPS)], m, x, b) if binary else _apply(UNARY_OPS[k % len(UNARY_OPS)], m, x)
        w = m.tensor(np.random.default_rng(seed + 1).standard_normal(tuple(x.shape)).astype(dtype))
        (x * w).sum().backward()
        outs.append(x.detach().numpy())
        grads.append([None if t.grad is None else t.grad.numpy() for t in (a, b)])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outs[0], outs[1], **tol)
    for g, t in zip(grads[0], grads[1]):
        assert (g is None) == (t is None)
        if g is not None:
            assert g.dtype == t.dtype and g.shape == t.shape
            np.testing.assert_allclose(g, t, **tol)


# ---- the classes a differential fuzzer found, one check each (against PyTorch where it runs) ----

def _both():
    torch = _maybe_torch()
    return [gradcore] + ([torch] if torch is not None else [])


def test_python_types_as_dtypes_and_dtypes_never_as_ints():
    assert gradcore.zeros(2, dtype=float).dtype == gradcore.float64  # Python float is a double
    assert gradcore.zeros(2, dtype=int).dtype == gradcore.int64
    assert gradcore.zeros(2, dtype=bool).dtype == gradcore.bool
    for m in _both():
        with pytest.raises(TypeError):
            m.ones(2, 3).sum(m.float32)
        with pytest.raises(TypeError):
            m.ones(2, 3).unsqueeze(m.float32)


def test_numpy_integers_as_sizes_and_dims():
    i = np.int64
    for m in _both():
        x = m.zeros(i(2), i(3))
        assert tuple(x.shape) == (2, 3)
        assert tuple(m.zeros(i(4)).shape) == (4,)
        assert tuple(x.view(i(6)).shape) == (6,)
        assert tuple(x.sum(i(0)).shape) == (3,)
        assert tuple(x.unsqueeze(i(0)).shape) == (1, 2, 3)
        assert tuple(x.permute(i(1), i(0)).shape) == (3, 2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PyTorch's __array_wrap__ under NumPy 2
def test_tensor_and_ndarray_operands_give_tensors():
    a = np.arange(3.0)
    for m in _both():
        t = m.ones(3)
        for r in (t * a, t + a, t - a, t / (a + 1)):
            assert isinstance(r, m.Tensor) and r.dtype == m.float64, type(r)
        np.testing.assert_allclose((t - a).numpy(), 1 - a)
        with pytest.raises(TypeError):  # PyTorch 2.13 refuses an ndarray on the left
            a * t


def test_inplace_into_an_expanded_view_is_refused():
    for m in _both():
        base = m.zeros(1, 3)
        e = base.expand(4, 3)
        for write in (lambda: e.add_(1), lambda: e.mul_(2), lambda: e.exp_(), lambda: e.copy_(m.ones(4, 3)),
                      lambda: e.clamp_(0, 1)):
            with pytest.raises(RuntimeError, match="single memory location"):
                write()
        assert base.sum().item() == 0.0
        e.fill_(1.0)  # fills are allowed (every alias gets the same value), as in PyTorch
        assert base.sum().item() == 3.0


def test_cat_and_stack_give_each_input_a_gradient_of_its_own_dtype():
    for m in _both():
        a = m.ones(2, dtype=m.float32, requires_grad=True)
        b = m.ones(3, dtype=m.float64, requires_grad=True)
        out = m.cat([a, b])
        assert out.dtype == m.float64
        out.sum().backward()
        assert a.grad.dtype == m.float32 and b.grad.dtype == m.float64
        c = m.ones(2, dtype=m.float32, requires_grad=True)
        d = m.ones(2, dtype=m.float64, requires_grad=True)
        m.stack([c, d]).sum().backward()
        assert c.grad.dtype == m.float32 and d.grad.dtype == m.float64


def test_cat_legacy_empty_inputs_still_promote():
    for m in _both():
        out = m.cat([m.ones(2, 2), m.tensor([], dtype=m.float64)])
        assert out.dtype == m.float64 and tuple(out.shape) == (2, 2)


def test_bool_subtraction_is_refused():
    for m in _both():
        b = m.tensor([True, False])
        for f in (lambda: b - b, lambda: b - 1, lambda: 1 - b, lambda: m.tensor([1, 2]) - b, lambda: -b):
            with pytest.raises(RuntimeError):
                f()


def test_huge_allocation_is_a_runtime_error_naming_the_bytes():
    for m in _both():
        with pytest.raises(RuntimeError) as e:
            m.zeros(1 << 40, 1 << 10)
        assert not isinstance(e.value, MemoryError)
    with pytest.raises(RuntimeError, match="bytes"):
        gradcore.zeros(1 << 40, 1 << 10)


def test_a_python_value_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError):
        gradcore.device("cuda", index="a")


# Loose argument checks the fuzzer found, each with PyTorch 2.13's exception type (checked against
# PyTorch itself when it is importable).
WRONG_ARGUMENTS = [
    ("arange(t, None)", lambda m: m.arange(m.ones(3), None), TypeError),
    ("arange(3, None)", lambda m: m.arange(3, None), TypeError),
    ("arange(end=None)", lambda m: m.arange(end=None), TypeError),
    ("softsign(bool)", lambda m: m.nn.functional.softsign(m.tensor([True, False])), NotImplementedError),
    ("randint(0, 5)", lambda m: m.randint(0, 5), TypeError),
    ("cat(tensor)", lambda m: m.cat(m.ones(3)), TypeError),
    ("stack(tensor)", lambda m: m.stack(m.ones(2, 2)), TypeError),
    ("cat([t, 1])", lambda m: m.cat([m.ones(3), 1]), TypeError),
    ("t.float(1)", lambda m: m.ones(3).float(1), TypeError),
    ("t['a']", lambda m: m.ones(3)["a"], TypeError),
    ("t[None, 'a']", lambda m: m.ones(3)[None, "a"], TypeError),
    ("t[1.5]", lambda m: m.ones(3)[1.5], IndexError),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's own deprecation note on t[None, 'a']
@pytest.mark.parametrize("name,call,exc", WRONG_ARGUMENTS, ids=[w[0] for w in WRONG_ARGUMENTS])
def test_loose_arguments_raise_pytorchs_exception_type(name, call, exc):
    for m in _both():
        with pytest.raises(exc):
            call(m)


def test_cuda_device_without_cuda_is_an_assertion_error_like_pytorch():
    # PyTorch built without CUDA: AssertionError ("Torch not compiled with CUDA enabled"); a CUDA
    # build on a machine without a GPU raises RuntimeError instead.
    if gradcore._C._cuda_built:
        pytest.skip("this gradcore has the CUDA backend")
    for call in (lambda: gradcore.ones(2).cuda(), lambda: gradcore.ones(2).cuda(None),
                 lambda: gradcore.zeros(2, device="cuda"), lambda: gradcore.ones(2).to("cuda")):
        with pytest.raises(AssertionError, match="without CUDA"):
            call()


def test_each_process_starts_from_its_own_seed():
    code = "import gradcore; print(gradcore.initial_seed(), gradcore.rand(1).item())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(runs) == 2
    gradcore.manual_seed(5)
    a = gradcore.rand(3).tolist()
    gradcore.manual_seed(5)
    assert gradcore.rand(3).tolist() == a


def test_version_is_the_package_version():
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml")) as f:
        version = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    assert gradcore.__version__ == version


@pytest.mark.parametrize("call,ref", [
    (lambda m, x: m.transpose(x, 0, 1), lambda a: a.T), (lambda m, x: m.permute(x, (1, 0)), lambda a: a.T),
    (lambda m, x: m.reshape(x, (3, 2)), lambda a: a.reshape(3, 2)), (lambda m, x: m.flatten(x), lambda a: a.ravel()),
    (lambda m, x: m.unsqueeze(x, 1), lambda a: a[:, None]), (lambda m, x: m.squeeze(m.unsqueeze(x, 0)), lambda a: a),
    (lambda m, x: m.t(x), lambda a: a.T),
])
def test_function_forms_of_the_view_methods(call, ref):
    a = np.arange(6.0).reshape(2, 3)
    for m in _both():
        np.testing.assert_array_equal(call(m, m.tensor(a)).numpy(), ref(a))


def test_t_of_a_0d_or_1d_tensor_is_a_view_not_the_tensor_itself():
    for m in _both():
        x = m.tensor(2.0, requires_grad=True)
        y = x.t()
        assert y is not x and y.grad_fn is not None
        v = m.ones(3)
        assert v.t() is not v


def test_ints_that_do_not_fit_int64_are_refused_like_pytorch():
    for m in _both():
        for data in (2 ** 63, [1, 2 ** 63]):
            with pytest.raises(ValueError, match="Overflow"):
                m.tensor(data)
        assert m.tensor(-2 ** 63).item() == -2 ** 63
        for bad in (float("nan"), float("inf"), 1e30):
            with pytest.raises(RuntimeError, match="int64"):
                m.tensor([bad], dtype=m.int64)
            with pytest.raises(RuntimeError, match="int64"):
                m.full((2,), bad, dtype=m.int64)
        assert m.tensor([1.5], dtype=m.int64).tolist() == [1]


def test_transpose_of_a_0d_tensor_checks_its_dims():
    for m in _both():
        x = m.tensor(1.0)
        assert m.transpose(x, 0, -1).item() == 1.0
        with pytest.raises(IndexError):
            x.transpose(0, 1)


@pytest.mark.parametrize("case", ["both", "min_only", "max_only", "nan_bound", "crossed", "promote", "scalar_tensor"])
def test_clamp_with_tensor_bounds_like_pytorch(case):
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((3, 4))
    lo0 = rng.standard_normal((3, 1)) - 0.5
    hi0 = rng.standard_normal(4) + 0.5
    if case == "nan_bound":
        lo0[1, 0] = np.nan
    if case == "crossed":
        lo0, hi0 = hi0[None, :].repeat(3, 0) + 1.0, hi0
    expected = {
        "both": np.minimum(np.maximum(x0, lo0), hi0), "min_only": np.maximum(x0, lo0), "max_only": np.minimum(x0, hi0),
        "nan_bound": np.minimum(np.maximum(x0, lo0), hi0), "crossed": np.broadcast_to(hi0, x0.shape),
        "promote": np.maximum(np.array([[1, 5, -2]]), 2.5), "scalar_tensor": np.maximum(x0, 0.25),
    }[case]
    results = []
    for m in _both():
        x = m.tensor(x0, requires_grad=True)
        lo = m.tensor(lo0, requires_grad=True)
        hi = m.tensor(hi0, requires_grad=True)
        if case in ("both", "nan_bound", "crossed"):
            out = m.clamp(x, lo, hi)
        elif case == "min_only":
            out = x.clamp(min=lo)
        elif case == "max_only":
            out = m.clamp(x, max=hi)
        elif case == "promote":
            out = m.clamp(m.tensor([[1, 5, -2]]), min=m.tensor([2.5]))
            assert out.dtype == m.float32
            np.testing.assert_allclose(out.numpy(), expected)
            continue
        else:
            s = m.tensor(0.25, dtype=m.float64, requires_grad=True)
            out = x.clamp(min=s)
            out.sum().backward()
            results.append((out.detach().numpy(), x.grad.numpy(), s.grad.numpy()))
            continue
        np.testing.assert_allclose(out.detach().numpy(), expected)
        out.sum().backward()
        results.append(tuple(None if t.grad is None else t.grad.numpy() for t in (x, lo, hi)))
    if len(results) == 2:  # against PyTorch
        for g, t in zip(*results):
            assert (g is None) == (t is None)
            if g is not None:
                np.testing.assert_allclose(g, t)


@pytest.mark.parametrize("code", ["h[0].mul_(3)", "h[:, 0] += 1", "h.t().add_(1)", "h[1].exp_()", "h[:, 1:].mul_(w[1:])",
                                  "h[0].add_(w)", "h.view(-1)[::2].neg_()", "h[0].mul_(2); h[0].add_(h[1])",
                                  "b = torch.zeros(2, 3); b[0].add_(h[1]); h = b * h"])
def test_inplace_on_a_view_of_an_intermediate_rebases_its_history_like_pytorch(code):
    results = []
    for m in _both():
        x = m.tensor(np.arange(1.0, 7.0).reshape(2, 3) / 4, requires_grad=True)
        w = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        scope = {"torch": m, "x": x, "w": w, "h": x * 2}
        try:
            exec(code, scope)
            h = scope["h"]
            (h * h).sum().backward()
        except RuntimeError as e:  # then both must refuse (a saved value modified in place)
            results.append(("raised", str(e)))
            continue
        results.append((h.detach().numpy(), x.grad.numpy(), None if w.grad is None else w.grad.numpy()))
    raised = [isinstance(r[0], str) for r in results]
    if any(raised):
        assert all(raised), results
        return
    if len(results) == 1:
        gx = results[0][1]
        assert np.isfinite(gx).all()
        return
    for g, t in zip(*results):
        assert (g is None) == (t is None)
        if g is not None:
            np.testing.assert_allclose(g, t, rtol=1e-6)


def test_inplace_on_a_view_of_a_leaf_that_requires_grad_is_refused():
    for m in _both():
        w = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w[0:2].mul_(2)


def test_inplace_on_views_gradcheck():
    from helpers import gradcheck_fn

    def f(x, w):
        h = x * 2
        h[0].mul_(w)
        h[:, 1].add_(1.5)
        h.t()[2].tanh_()
        return h * h

    rng = np.random.default_rng(9)
    gradcheck_fn(f, rng.standard_normal((2, 3)), rng.standard_normal(3))


def test_duplicate_and_out_of_range_dims_are_refused_like_pytorch():
    for m in _both():
        x = m.ones(2, 3)
        for f in (lambda: x.sum((0, 0)), lambda: x.sum((0, -2)), lambda: x.mean((1, 1)), lambda: x.amax((0, 0)),
                  lambda: x.permute(0, 0)):
            with pytest.raises(RuntimeError):
                f()
        s = m.tensor(1.0)
        for f in (lambda: s.sum(1), lambda: s.unsqueeze(2), lambda: s.squeeze(1), lambda: s.transpose(0, 1)):
            with pytest.raises(IndexError):
                f()
        assert s.sum(0).item() == 1.0 and tuple(s.unsqueeze(-1).shape) == (1,)


@pytest.mark.parametrize("call", [
    lambda m, t: m.full(None, t), lambda m, t: t.numpy(None), lambda m, t: t.requires_grad_(None),
    lambda m, t: t.type_as(None), lambda m, t: m.arange(None, 1), lambda m, t: m.randint(0, None, (2,)),
])
def test_none_for_a_size_flag_or_tensor_argument_is_a_type_error(call):
    for m in _both():
        t = m.ones(2, 3, requires_grad=True) * 1.0
        with pytest.raises(TypeError):
            call(m, t)
