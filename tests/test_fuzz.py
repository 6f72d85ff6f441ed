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
import inspect
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
