"""The fused Linear (+ ReLU) op: values and gradients against NumPy and finite differences, for
odd shapes, batched and non-contiguous inputs, unusual biases, and nn.Sequential's use of it."""
import numpy as np
import pytest

import gradcore
from gradcore import _C, nn
from helpers import assert_close, gradcheck_fn


def np_linear_relu(x, w, b, relu):
    y = x @ w.T + (0 if b is None else b)
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("xshape,out_f", [((1, 1), 1), ((7, 5), 3), ((3, 4, 6), 9), ((6,), 4), ((0, 3), 2),
                                          ((129, 33), 17)])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_matches_numpy(relu, xshape, out_f, bias):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xshape).astype(np.float32)
    w = rng.standard_normal((out_f, xshape[-1])).astype(np.float32)
    b = rng.standard_normal(out_f).astype(np.float32) if bias else None
    op = _C._linear_relu if relu else _C._linear
    got = op(gradcore.tensor(x), gradcore.tensor(w), None if b is None else gradcore.tensor(b))
    assert_close(got, np_linear_relu(x, w, b, relu), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("xshape,out_f", [((4, 3), 5), ((2, 3, 4), 2), ((3,), 4)])
def test_gradcheck_float64(relu, xshape, out_f):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((out_f, xshape[-1]))
    b = rng.standard_normal(out_f)
    op = _C._linear_relu if relu else _C._linear
    gradcheck_fn(lambda x, w, b: op(x, w, b), x, w, b)


@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck_non_contiguous_input_and_weight_and_broadcast_bias(relu):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal((4, 3))
    b = rng.standard_normal((1, 3))  # a 2-D bias that broadcasts over rows
    op = _C._linear_relu if relu else _C._linear
    gradcheck_fn(lambda x, w, b: op(x.t()[::2], w.t(), b), x, w, b)


@pytest.mark.parametrize("relu", [False, True])
def test_expanded_output_gradient(relu):
    # mean() hands the op a stride-0 gradient; the masked bias sum must still count every row.
    x = gradcore.randn(8, 3, dtype=gradcore.float64)
    w = gradcore.randn(4, 3, dtype=gradcore.float64, requires_grad=True)
    b = gradcore.randn(4, dtype=gradcore.float64, requires_grad=True)
    op = _C._linear_relu if relu else _C._linear
    op(x, w, b).mean().backward()
    y = x.numpy() @ w.detach().numpy().T + b.detach().numpy()
    g = np.full(y.shape, 1 / y.size) * ((y > 0) if relu else 1)
    assert_close(b.grad, g.sum(0), rtol=1e-12, atol=1e-12)
    assert_close(w.grad, g.T @ x.numpy(), rtol=1e-12, atol=1e-12)


def test_only_the_inputs_that_need_it_get_gradients():
    x = gradcore.randn(4, 3, requires_grad=True)
    w = gradcore.randn(2, 3)
    y = _C._linear_relu(x, w, None)
    y.sum().backward()
    assert x.grad is not None and w.grad is None
    assert y.grad_fn.name() == "LinearReluBackward0"


def test_sequential_fuses_linear_relu_and_matches_the_unfused_modules():
    gradcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 3),
                          nn.ReLU())
    x = gradcore.randn(5, 6)
    fused = model(x)
    assert fused.grad_fn.name() == "LinearReluBackward0"
    fused.pow(2).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    h = x
    for m in model:  # each module on its own: Linear, then ReLU
        h = m(h)
    assert h.grad_fn.name() == "LinearReluBackward0"  # the backward fuses however the model is written
    assert_close(fused, h, rtol=0, atol=0)
    h.pow(2).sum().backward()
    for g, p in zip(grads, model.parameters()):
        assert_close(g, p.grad, rtol=1e-6, atol=1e-7)


def test_subclassed_layers_are_not_fused():
    class MyReLU(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2

    model = nn.Sequential(nn.Linear(3, 4), MyReLU())
    x = gradcore.randn(2, 3)
    expected = model[0](x).relu() * 2
    assert_close(model(x), expected)


@pytest.mark.parametrize("shape", [(3, 5), (70, 40)])
def test_fused_relu_keeps_nan_and_matches_relu(shape):
    # torch.relu(nan) is nan; the GEMM epilogue must agree with the standalone relu.
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0] = np.nan
    w = rng.standard_normal((33, shape[1])).astype(np.float32)
    b = rng.standard_normal(33).astype(np.float32)
    xt, wt, bt = gradcore.tensor(x), gradcore.tensor(w), gradcore.tensor(b)
    fused = _C._linear_relu(xt, wt, bt).numpy()
    unfused = _C._linear(xt, wt, bt).relu().numpy()
    assert np.isnan(fused[0]).all()
    np.testing.assert_array_equal(fused, unfused)
    assert (fused[1:] >= 0).all()


class _OwnForward(nn.Module):
    """A model that writes relu(linear(x)) in its own forward, not as an nn.Sequential."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(nn.functional.relu(self.fc1(x)))


@pytest.mark.parametrize("relu", [lambda h: nn.functional.relu(h), lambda h: h.relu(), lambda h: gradcore.relu(h),
                                  lambda h: nn.ReLU()(h)], ids=["F.relu", "method", "function", "module"])
def test_relu_of_a_linear_output_gets_the_fused_backward_however_written(relu):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6))
    model = _OwnForward().double()
    seq = nn.Sequential(model.fc1, nn.ReLU(), model.fc2)
    xt = gradcore.tensor(x)
    h = relu(model.fc1(xt))
    assert h.grad_fn.name() == "LinearReluBackward0"  # one node, as nn.Sequential's fused op
    # Same values and gradients as the Sequential path (which fuses the forward too).
    out_own = model.fc2(h)
    out_own.sum().backward()
    own = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    out_seq = seq(xt)
    out_seq.sum().backward()
    assert_close(out_own, out_seq.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(own, model.parameters()):
        assert_close(a, b.grad.numpy(), rtol=1e-12, atol=1e-12)
    gradcheck_fn(lambda x, w, b: relu(_C._linear(x, w, b)), x, rng.standard_normal((4, 6)), rng.standard_normal(4))


def test_fused_backward_stays_correct_when_the_pre_activation_is_used_again():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)

    def f(x, w, b):
        h = _C._linear(x, w, b)
        return nn.functional.relu(h) * 2 + h * h  # h also reaches the loss another way

    gradcheck_fn(f, x, w, b)
    # A view of the linear output is not fused (the node would not see the view's gradient shape).
    h = _C._linear(gradcore.tensor(x), gradcore.tensor(w, requires_grad=True), None)
    assert h[:, :2].relu().grad_fn.name() == "ReluBackward0"


def test_backward_inputs_accumulates_only_into_the_given_tensors():
    torch = pytest.importorskip("torch")
    for lib in (gradcore, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        h = a * b
        h.retain_grad() if lib is torch else None
        y = (h * h).sum()
        y.backward(inputs=[a], retain_graph=True)
        assert b.grad is None
        np.testing.assert_allclose(a.grad.numpy(), [18.0, 64.0])
        y.backward(inputs=a, retain_graph=True)  # a single tensor, accumulated
        np.testing.assert_allclose(a.grad.numpy(), [36.0, 128.0])
        lib.autograd.backward([y], inputs=[b])
        np.testing.assert_allclose(b.grad.numpy(), [6.0, 32.0])
        with pytest.raises(RuntimeError, match="cannot be empty"):
            y.backward(inputs=[], retain_graph=True)
