"""Custom autograd functions (gradcore.autograd.Function) and the engine's error behaviours as
seen from Python: backward/autograd.grad with and without retain_graph."""
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import gradcore
from gradcore.autograd import Function, once_differentiable
from helpers import assert_close, gradcheck_fn


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y


class MulConst(Function):
    """x * k for a Python number k, with k also given by keyword."""

    @staticmethod
    def forward(ctx, x, k, *, offset=0.0):
        ctx.k = k
        return x * k + offset

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


def leaf(values, dtype=gradcore.float64):
    return gradcore.tensor(values, dtype=dtype, requires_grad=True)


# ---- forward, backward, graph ----

def test_exp_forward_backward_and_grad_fn():
    x = leaf([0.0, 1.0, -2.0])
    y = Exp.apply(x)
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "ExpBackward"
    assert repr(y.grad_fn).startswith("<ExpBackward object at")
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    assert y.grad_fn.next_functions[0][0].variable is x
    assert repr(y).endswith("grad_fn=<ExpBackward>)")
    y.sum().backward()
    assert_close(x.grad, np.exp([0.0, 1.0, -2.0]))


def test_gradients_match_finite_differences():
    gradcheck_fn(lambda a: Exp.apply(a), np.random.default_rng(0).standard_normal((3, 4)))
    gradcheck_fn(lambda a, b: Mul.apply(a, b), np.random.default_rng(1).standard_normal((2, 5)),
                 np.random.default_rng(2).standard_normal((2, 5)))
    gradcheck_fn(lambda a: MulConst.apply(a, 3.0, offset=1.0) * a, np.random.default_rng(3).standard_normal(7))


def test_joins_graph_with_builtin_ops():
    x = leaf([1.0, 2.0, 3.0])
    w = leaf([0.5, -1.0, 2.0])
    z = (Exp.apply(x * w) + 1).sum() * 2
    z.backward()
    e = np.exp(np.array([0.5, -2.0, 6.0]))
    assert_close(x.grad, 2 * e * np.array([0.5, -1.0, 2.0]))
    assert_close(w.grad, 2 * e * np.array([1.0, 2.0, 3.0]))


def test_same_input_twice_accumulates():
    x = leaf([1.0, -2.0])
    Mul.apply(x, x).sum().backward()
    assert_close(x.grad, [2.0, -4.0])


def test_non_tensor_inputs_kwargs_and_ctx_attributes():
    x = leaf([1.0, 2.0])
    y = MulConst.apply(x, 3.0, offset=1.0)
    assert_close(y, [4.0, 7.0])
    assert y.grad_fn.k == 3.0  # ctx attributes through grad_fn, as in PyTorch
    assert y.grad_fn.needs_input_grad == (True, False)
    with pytest.raises(AttributeError):
        y.grad_fn.not_there
    y.sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_needs_input_grad_and_none_gradients():
    a, b = leaf([1.0, 2.0]), gradcore.tensor([3.0, 4.0], dtype=gradcore.float64)
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, flag):
            seen["forward"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = ctx.needs_input_grad
            return g * 2, None, None

    Probe.apply(a, b, True).sum().backward()
    assert seen == {"forward": (True, False, False), "backward": (True, False, False)}
    with gradcore.no_grad():
        Probe.apply(a, b, True)
    assert seen["forward"] == (False, False, False)
    # A gradient returned for an input that needs none is ignored; None leaves .grad unset.
    c = leaf([1.0, 1.0])

    class NoneForNeeded(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return None, g

    NoneForNeeded.apply(a, c).sum().backward()
    assert c.grad is not None and a.grad is not None
    assert_close(a.grad, [2.0, 2.0])  # only from Probe


def test_forward_runs_under_no_grad_and_restores_mode():
    modes = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(gradcore.is_grad_enabled())
            y = x * 2
            modes.append(y.requires_grad)
            return y

        @staticmethod
        def backward(ctx, g):
            modes.append(gradcore.is_grad_enabled())
            return g * 2

    x = leaf([1.0])
    Probe.apply(x).sum().backward()
    assert modes == [False, False, False]
    assert gradcore.is_grad_enabled()


def test_no_input_requires_grad_records_nothing():
    x = gradcore.tensor([1.0, 2.0])
    y = Exp.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    with gradcore.no_grad():
        y = Exp.apply(leaf([1.0]))
    assert not y.requires_grad and y.grad_fn is None


# ---- outputs ----

class Identity(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 3  # distinguishable from a pass-through


def test_output_that_is_an_input_is_a_fresh_alias():
    x = leaf([1.0, 2.0])
    y = Identity.apply(x)
    assert y is not x and y._base is x
    assert x.is_leaf and x.grad_fn is None
    assert y.grad_fn.name() == "IdentityBackward"
    y.sum().backward()
    assert_close(x.grad, [3.0, 3.0])
    z = Identity.apply(gradcore.tensor([1.0]))
    assert not z.requires_grad and z._base is not None


def test_multiple_outputs_with_non_tensor_and_materialized_grads():
    got = []

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, "tag", x * 3, (x > 0).sum()

        @staticmethod
        def backward(ctx, g1, g_tag, g2, g_count):
            got.append((g1, g_tag, g2, g_count))
            return g1 * 2 + g2 * 3

    x = leaf([1.0, -1.0])
    a, tag, b, count = Split.apply(x)
    assert tag == "tag"
    assert a.grad_fn.name() == b.grad_fn.name() == "SplitBackward"
    assert not count.requires_grad  # int64 outputs are not differentiable
    a.sum().backward(retain_graph=True)
    g1, g_tag, g2, g_count = got[-1]
    assert g_tag is None
    assert_close(g1, [1.0, 1.0])
    assert_close(g2, [0.0, 0.0]) and g2.dtype == gradcore.float64
    assert g_count.dtype == gradcore.int64 and g_count.shape == ()
    assert_close(x.grad, [2.0, 2.0])
    x.grad = None
    (a.sum() + b.sum() * 2).backward()
    assert_close(x.grad, [8.0, 8.0])


def test_set_materialize_grads_false_passes_none():
    got = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got.append((g1, g2))
            return g1 * 2 if g2 is None else g1 * 2 + g2 * 3

    x = leaf([1.0])
    a, b = Two.apply(x)
    a.sum().backward()
    assert got[-1][1] is None
    assert_close(x.grad, [2.0])


def test_mark_non_differentiable():
    got = []

    class MaxWithMask(Function):
        @staticmethod
        def forward(ctx, x):
            mask = x > 0
            y = x * mask
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(mask)
            return y, mask

        @staticmethod
        def backward(ctx, g, g_mask):
            got.append(g_mask)
            mask, = ctx.saved_tensors
            return g * mask

    x = leaf([1.0, -2.0, 3.0])
    y, mask = MaxWithMask.apply(x)
    assert y.requires_grad and not mask.requires_grad and mask.grad_fn is None
    y.sum().backward()
    assert_close(x.grad, [1.0, 0.0, 1.0])
    assert got[-1].dtype == gradcore.bool and not got[-1].numpy().any()  # zeros of the mask's dtype

    class FloatNonDiff(Function):
        @staticmethod
        def forward(ctx, x):
            y, z = x * 2, x * 3
            ctx.mark_non_differentiable(z)
            return y, z

        @staticmethod
        def backward(ctx, gy, gz):
            got.append(gz)
            return gy * 2

    x.grad = None
    y, z = FloatNonDiff.apply(x)
    assert not z.requires_grad and z.grad_fn is None
    y.sum().backward()
    assert_close(got[-1], [0.0, 0.0, 0.0])
    assert_close(x.grad, [2.0, 2.0, 2.0])
    with pytest.raises(TypeError, match="mark_non_differentiable"):
        class Bad(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.mark_non_differentiable(3)
                return x * 1

        Bad.apply(x)


def test_mark_dirty_rebases_the_input():
    class AddOne_(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    w = leaf([1.0, 2.0])
    h = w * 2
    out = AddOne_.apply(h)
    assert out is h and h.grad_fn.name() == "AddOne_Backward"
    assert_close(h, [3.0, 5.0])
    h.sum().backward()
    assert_close(w.grad, [10.0, 10.0])
    with pytest.raises(RuntimeError, match="leaf"):
        AddOne_.apply(leaf([1.0]))

    class Forgot(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 2

    with pytest.raises(RuntimeError, match="ForgotBackward.*marked dirty were not returned"):
        Forgot.apply(w * 1)


def test_setup_context_style_and_once_differentiable():
    class Square(Function):
        @staticmethod
        def forward(x, scale=1.0):
            return x * x * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.scale = scale

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            assert not gradcore.is_grad_enabled()
            x, = ctx.saved_tensors
            return g * 2 * x * ctx.scale, None

    x = leaf([1.0, -3.0])
    Square.apply(x, scale=2.0).sum().backward()
    assert_close(x.grad, [4.0, -12.0])


def test_vjp_alias_and_misuse():
    class ByVjp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2

    x = leaf([1.0])
    ByVjp.apply(x).sum().backward()
    assert_close(x.grad, [2.0])

    class Both(ByVjp):
        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="both 'backward' and 'vjp'"):
        Both.apply(x)

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    y = NoBackward.apply(x)
    with pytest.raises(NotImplementedError, match="backward or vjp"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="static"):
        Exp()(x)
    with pytest.raises(NotImplementedError, match="forward"):
        Function.apply(x)
    with pytest.raises(TypeError, match="save_for_backward.*argument 1"):
        class SaveInt(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x * 1

        SaveInt.apply(x)


# ---- gradients returned by backward are checked ----

def _with_backward(fn):
    class Checked(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            return x * y * k

        backward = staticmethod(fn)

    return Checked


@pytest.mark.parametrize("backward, match", [
    (lambda ctx, g: g, r"CheckedBackward returned an incorrect number of gradients \(expected 3, got 1\)"),
    (lambda ctx, g: (g, g, None, g), r"incorrect number of gradients \(expected 3, got 4\)"),
    (lambda ctx, g: (g._slice(0, 0, 1, 1), g, None), r"CheckedBackward returned an invalid gradient at index 0 - got \[1\] but "
                                      r"expected shape compatible with \[3\]"),
    (lambda ctx, g: (g, g, g), r"CheckedBackward returned a gradient different than None at position 3"),
    (lambda ctx, g: (1.0, g, None), r"CheckedBackward returned an object of type float"),
])
def test_wrong_gradients_raise_runtime_error_naming_the_function(backward, match):
    fn = _with_backward(backward)
    x, y = leaf([1.0, 2.0, 3.0]), leaf([1.0, 1.0, 1.0])
    with pytest.raises(RuntimeError, match=match):
        fn.apply(x, y, 2.0).sum().backward()
    assert gradcore.is_grad_enabled()


def test_returned_gradients_are_reduced_and_cast():
    fn = _with_backward(lambda ctx, g: (g.expand(4, 3), g._to_dtype(gradcore.float32, False), None, None))
    x, y = leaf([1.0, 2.0, 3.0]), leaf([1.0, 1.0, 1.0])
    fn.apply(x, y, 2.0).sum().backward()
    assert_close(x.grad, [4.0, 4.0, 4.0])
    assert x.grad.shape == (3,) and y.grad.dtype == gradcore.float64


def test_exception_in_backward_keeps_its_type():
    def boom(ctx, g):
        raise ValueError("custom failure in backward")

    fn = _with_backward(boom)
    x = leaf([1.0])
    with pytest.raises(ValueError, match="custom failure in backward"):
        fn.apply(x, x, 1.0).sum().backward()
    assert gradcore.is_grad_enabled()


# ---- saved tensors: versions, freeing, no leaks ----

def test_saved_input_modified_in_place_is_detected():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = Exp.apply(h)
    z = Mul.apply(h, x)
    with gradcore.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    y2 = Exp.apply(x * 1)
    y2.add_(1)
    with pytest.raises(RuntimeError, match="ExpBackward.*modified by an inplace operation"):
        y2.sum().backward()
    del y


def test_saved_tensors_freed_after_backward_unless_retained():
    x = leaf([0.5, 1.5])
    y = Exp.apply(x)
    ctx_holder = y.grad_fn
    y.sum().backward(retain_graph=True)
    assert len(ctx_holder.saved_tensors) == 1
    y.sum().backward()
    assert_close(x.grad, 2 * np.exp([0.5, 1.5]))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        ctx_holder.saved_tensors
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()


def test_saved_none_and_saved_output_unpacking():
    seen = []

    class SaveMix(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(None, x, y)
            return y

        @staticmethod
        def backward(ctx, g):
            none, x, y = ctx.saved_tensors
            seen.append((none, x, y.requires_grad, y.grad_fn.name()))
            return g * 2

    x = leaf([1.0])
    SaveMix.apply(x).sum().backward()
    none, xs, y_rg, y_fn = seen[-1]
    assert none is None and xs is x and y_rg and y_fn == "SaveMixBackward"


def test_dropped_forward_frees_everything():
    ctxs = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            ctxs.append(weakref.ref(ctx))
            y = x * 2
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf(np.ones(1000))
    y = Keep.apply(Keep.apply(x))
    assert all(r() is not None for r in ctxs)
    del y
    gc.collect()
    assert all(r() is None for r in ctxs), "a saved output kept its own graph alive"


def test_saved_storage_released_after_backward():
    arr = np.ones(10)
    base = sys.getrefcount(arr)
    x = leaf([1.0] * 10)
    t = gradcore.from_numpy(arr)  # the storage holds a reference to arr
    y = Mul.apply(x, t)
    del t
    assert sys.getrefcount(arr) == base + 1
    y.sum().backward(retain_graph=True)
    assert sys.getrefcount(arr) == base + 1
    y.sum().backward()
    assert sys.getrefcount(arr) == base
    del y


def test_backward_from_another_thread():
    x = leaf([1.0, 2.0])
    y = Exp.apply(x).sum()
    errors = []

    def run():
        try:
            y.backward()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    th = threading.Thread(target=run)
    th.start()
    th.join()
    assert not errors
    assert_close(x.grad, np.exp([1.0, 2.0]))


# ---- engine errors from Python ----

def test_autograd_grad_with_custom_function():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = Mul.apply(Exp.apply(x), w).sum()
    gx, gw = gradcore.autograd.grad(y, (x, w), retain_graph=True)
    assert x.grad is None and w.grad is None
    assert_close(gx, np.exp([1.0, 2.0]) * [3.0, 4.0])
    assert_close(gw, np.exp([1.0, 2.0]))
    (gx2,) = gradcore.autograd.grad(y, x)
    assert_close(gx2, gx)
    with pytest.raises(RuntimeError, match="second time"):
        gradcore.autograd.grad(y, x)


def test_autograd_grad_errors():
    x, unused = leaf([1.0]), leaf([2.0])
    y = Exp.apply(x).sum()
    with pytest.raises(RuntimeError, match="not used in the graph"):
        gradcore.autograd.grad(y, (x, unused), retain_graph=True)
    gx, gu = gradcore.autograd.grad(y, (x, unused), allow_unused=True, retain_graph=True)
    assert gu is None
    assert_close(gx, np.exp([1.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradcore.autograd.grad(y, gradcore.tensor([1.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradcore.autograd.grad(gradcore.tensor(1.0), x)


def test_backward_errors_and_retain_graph():
    x = leaf([1.0, 2.0])
    y = Exp.apply(x)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(gradcore.ones(3, dtype=gradcore.float64))
    y.backward(gradcore.ones(2, dtype=gradcore.float64), retain_graph=True)
    y.backward(gradcore.ones(2, dtype=gradcore.float64))
    assert_close(x.grad, 2 * np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(gradcore.ones(2, dtype=gradcore.float64))
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradcore.tensor(1.0).backward()


# ---- parity with PyTorch ----

def _functions(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k, x * 2

        @staticmethod
        def backward(ctx, g, g2):
            x, = ctx.saved_tensors
            return g * 3 * x * x * ctx.k + g2 * 2, None

    return Cube


def test_parity_with_torch():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(4).standard_normal((3, 2))
    outs = []
    for lib in (gradcore, torch):
        x = lib.tensor(data, requires_grad=True)
        a, b = _functions(lib).apply(x, 1.5)
        ((a * b).sum() + a.sum()).backward()
        outs.append((a.detach().numpy(), x.grad.numpy(), repr(a).split("grad_fn")[1]))
    np.testing.assert_allclose(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1], outs[1][1])
    assert outs[0][2] == outs[1][2] == "=<CubeBackward>)"


def test_node_without_saved_tensors_can_run_again():
    # As in PyTorch: only saved tensors are freed by a backward without retain_graph.
    x = leaf([1.0, 2.0])
    y = MulConst.apply(x, 2.0)
    y.sum().backward()
    y.sum().backward()
    assert_close(x.grad, [4.0, 4.0])


def test_reentrant_backward_checkpoint_style():
    class Checkpoint(Function):
        """Saves only the input; backward recomputes exp(x * x) with grad on and differentiates it."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x * x).exp()

        @staticmethod
        def backward(ctx, gy):
            x, = ctx.saved_tensors
            with gradcore.enable_grad():
                xd = x.detach().requires_grad_()
                y = (xd * xd).exp()
            return gradcore.autograd.grad(y, xd, gy)[0]

    x = leaf([0.5, -1.0])
    Checkpoint.apply(x).sum().backward()
    assert_close(x.grad, 2 * np.array([0.5, -1.0]) * np.exp([0.25, 1.0]))
    assert gradcore.is_grad_enabled()
