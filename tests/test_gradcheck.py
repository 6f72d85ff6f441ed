"""gradcore.autograd.gradcheck: passes correct gradients, catches wrong ones, PyTorch's input checks."""
import warnings

import numpy as np
import pytest

import gradcore
from gradcore.autograd import Function, gradcheck
from gradcore.autograd.gradcheck import GradcheckError


def leaf(shape, seed=0, dtype=gradcore.float64):
    data = np.random.default_rng(seed).standard_normal(shape)
    return gradcore.tensor(data, dtype=dtype, requires_grad=True)


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * g * x


class WrongSquare(Square):
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * g * x  # deliberately wrong: d(x^2)/dx = 2x


class MulAdd(Function):
    """(a * b + k, a - b): two inputs, a number, two outputs."""

    @staticmethod
    def forward(ctx, a, k, b):
        ctx.save_for_backward(a, b)
        return a * b + k, a - b

    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        return g1 * b + g2, None, g1 * a - g2


class WrongSecondInput(MulAdd):
    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        return g1 * b + g2, None, g1 * a + g2  # sign error for b through the second output


def test_correct_functions_pass():
    x, y = leaf((3, 4), 1), leaf((3, 4), 2)
    assert gradcheck(Square.apply, (x,)) is True
    assert gradcheck(Square.apply, x) is True  # a single tensor is accepted
    assert gradcheck(MulAdd.apply, (x, 2.5, y)) is True
    assert gradcheck(lambda a, b: (a * b + a.exp()).sum(dim=1), (x, y)) is True
    assert gradcheck(lambda a: a.sigmoid() * 3 - a.tanh(), [leaf(7, 3)]) is True
    assert gradcheck(lambda a: a.sum(), (leaf((), 4),)) is True


def test_broadcasting_and_non_contiguous_inputs_pass():
    a = leaf((4, 1), 5)
    b = gradcore.tensor(np.random.default_rng(6).standard_normal((3, 4)), dtype=gradcore.float64).t()
    b.requires_grad_()
    assert not b.is_contiguous()
    assert gradcheck(lambda p, q: p * q + q.exp(), (a, b)) is True


def test_wrong_backward_is_detected():
    x = leaf(3, 7)
    with pytest.raises(GradcheckError, match=r"Jacobian mismatch for output 0 with respect to input 0") as info:
        gradcheck(WrongSquare.apply, (x,))
    msg = str(info.value)
    assert "numerical:tensor(" in msg and "analytical:tensor(" in msg and "dtype=gradcore.float64" in msg
    assert "worst element" in msg
    assert isinstance(info.value, RuntimeError)
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_mismatch_names_the_input_and_output():
    a, b = leaf(4, 8), leaf(4, 9)
    with pytest.raises(GradcheckError, match=r"output 1 with respect to input 2"):
        gradcheck(WrongSecondInput.apply, (a, 1.0, b))
    # Only b is checked when a does not require grad; still caught.
    with pytest.raises(GradcheckError, match=r"output 1 with respect to input 2"):
        gradcheck(WrongSecondInput.apply, (a.detach(), 1.0, b))
    # ...and it passes when b does not require grad.
    assert gradcheck(WrongSecondInput.apply, (a, 1.0, b.detach()))


def test_inputs_restored_after_check():
    x = leaf((2, 3), 10)
    before = x.detach().numpy().copy()
    gradcheck(Square.apply, (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None  # gradcheck uses autograd.grad, not .grad


def test_tolerances():
    class SlightlyOff(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2.001

    x = leaf(3, 11)
    assert gradcheck(SlightlyOff.apply, (x,), rtol=1e-2) is True
    assert gradcheck(SlightlyOff.apply, (x,), rtol=1e-4, atol=1e-2) is True
    assert gradcheck(SlightlyOff.apply, (x,), rtol=1e-4, atol=1e-6, raise_exception=False) is False
    assert gradcheck(lambda t: t * 2, (x,), eps=1e-3) is True


def test_nondeterministic_backward():
    calls = []

    class Drifting(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g * 2 + len(calls) * 1e-9

    x = leaf(3, 12)
    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(Drifting.apply, (x,))
    assert gradcheck(Drifting.apply, (x,), nondet_tol=1e-6) is True


def test_output_without_grad_must_not_depend_on_inputs():
    x = leaf(3, 13)
    with pytest.raises(GradcheckError, match="expected to be zero"):
        gradcheck(lambda t: (t * 2).detach(), (x,))
    assert gradcheck(lambda t: gradcore.ones(2, dtype=gradcore.float64), (x,)) is True


def test_input_validation_matches_pytorch():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda t: t * 2, (gradcore.ones(3, dtype=gradcore.float64),))
    expanded = gradcore.ones(1, dtype=gradcore.float64).expand(3)
    expanded.requires_grad_()
    with pytest.raises(RuntimeError, match="stride 0"):
        gradcheck(lambda t: t * 2, (expanded,))
    x32 = leaf(3, 14, dtype=gradcore.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck(lambda t: t * 2, (x32,), raise_exception=False)  # float32 differences are too coarse
    assert any("not a double precision" in str(w.message) for w in caught)


def test_unused_input_has_zero_gradient():
    a, b = leaf(3, 16), leaf(3, 17)
    assert gradcheck(lambda p, q: p * 3, (a, b)) is True


def test_agrees_with_torch_gradcheck():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(18).standard_normal((2, 3))

    def make(lib, wrong):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x * x

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * (3.0 if not wrong else 2.9) * x * x

        return F

    for wrong in (False, True):
        results = []
        for lib in (gradcore, torch):
            x = lib.tensor(data, requires_grad=True)
            results.append(lib.autograd.gradcheck(make(lib, wrong).apply, (x,), raise_exception=False))
        assert results == [not wrong, not wrong]
