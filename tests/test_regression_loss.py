"""The fused mse_loss: values against NumPy, gradients by finite differences in float64 for both
input and target, every reduction, non-contiguous operands; the broadcasting fallback."""
import warnings

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as F
from helpers import assert_close, gradcheck_fn


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 1), (4, 5, 3), (129,)])
def test_values(reduction, shape):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    got = F.mse_loss(gradcore.tensor(x), gradcore.tensor(t), reduction=reduction)
    sq = (x.astype(np.float64) - t) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    assert_close(got, np.asarray(expected, np.float32), rtol=1e-6, atol=1e-6)
    if reduction != "none":
        assert got.grad_fn is None and got.dim() == 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_input_and_target(reduction):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    gradcheck_fn(lambda x, t: F.mse_loss(x, t, reduction=reduction), x, t)


def test_gradcheck_non_contiguous():
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 6)), rng.standard_normal((6, 4))
    gradcheck_fn(lambda x, t: F.mse_loss(x[:, ::2], t.t()[:, 1::2]), x, t)


def test_node_and_gradient_only_where_needed():
    x = gradcore.randn(5, 2, requires_grad=True)
    t = gradcore.randn(5, 2)
    loss = F.mse_loss(x, t)
    assert loss.grad_fn.name() == "MseLossBackward0"
    loss.backward()
    assert_close(x.grad, 2 * (x.detach() - t) / 10)
    assert t.grad is None


def test_empty_mean_is_nan_and_sum_is_zero():
    x = gradcore.zeros(0, requires_grad=True)
    assert np.isnan(F.mse_loss(x, gradcore.zeros(0)).item())
    s = F.mse_loss(x, gradcore.zeros(0), reduction="sum")
    assert s.item() == 0.0
    s.backward()
    assert x.grad.shape == (0,)


def test_broadcasting_falls_back_and_warns():
    x = gradcore.randn(4, 3, requires_grad=True)
    t = gradcore.randn(3)
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = F.mse_loss(x, t)
    expected = ((x.detach().numpy() - t.numpy()) ** 2).mean()
    assert_close(loss, np.float32(expected))
    loss.backward()
    assert x.grad.shape == (4, 3)


def test_mixed_dtypes_promote_through_the_fallback():
    x = gradcore.randn(3, dtype=gradcore.float64, requires_grad=True)
    t = gradcore.randn(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.mse_loss(x, t)
    assert loss.dtype == gradcore.float64
    loss.backward()
    assert x.grad.dtype == gradcore.float64
