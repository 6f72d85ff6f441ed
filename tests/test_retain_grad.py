"""Tensor.retain_grad() and Tensor.retains_grad against PyTorch: the gradient of a non-leaf kept in
.grad (after its register_hook hooks, summed out of place over backward passes, following an
in-place op to the new history, in autograd.grad and backward(inputs=) too), the no-op on a leaf,
the error without requires_grad, and the warning on reading a non-leaf's .grad that is not kept.
"""
import warnings

import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

NON_LEAF_WARNING = "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"


def _both(fn):
    """fn(lib) for gradcore and torch, as NumPy-comparable results."""
    def arr(v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (list, tuple)):
            return [arr(x) for x in v]
        return v.detach().numpy() if hasattr(v, "detach") else v
    return arr(fn(gradcore)), arr(fn(torch))


def _same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    else:
        assert a == b


def _check(fn):
    _same(*_both(fn))


def test_non_leaf_keeps_its_gradient_after_its_hooks():
    def run(lib):
        a = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = a * 2
        before = b.retains_grad
        b.retain_grad()
        b.retain_grad()  # twice: still one copy of the gradient
        b.register_hook(lambda g: g * 10)  # registered after retain_grad, still runs before it
        c = (b * b).sum()
        c.backward(retain_graph=True)
        first = b.grad
        c.backward()
        return [before, b.retains_grad, a.retains_grad, first, b.grad, a.grad, b.grad is first]
    _check(run)


def test_leaf_is_a_no_op_and_no_grad_is_an_error():
    def run(lib):
        a = lib.ones(2, requires_grad=True)
        a.retain_grad()
        (a * 3).sum().backward()
        return [a.retains_grad, a.grad]
    _check(run)
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        gradcore.ones(2).retain_grad()


def test_follows_in_place_ops_and_each_output_of_a_node():
    def run(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x.clone()
        y.retain_grad()
        y.mul_(2)  # y's history changes: it keeps the gradient at its new node
        (y * lib.tensor([3.0, 5.0], dtype=lib.float64)).sum().backward()
        gru = lib.nn.GRU(2, 3).double()
        with lib.no_grad():
            for p in gru.parameters():  # the same weights in both libraries
                p.copy_((lib.arange(p.numel(), dtype=lib.float64).reshape(p.shape) % 7 - 3) / 10)
        out, h_n = gru(x.reshape(1, 1, 2).expand(4, 1, 2) * 1)  # outputs 0 and 1 of one node
        out.retain_grad()
        h_n.retain_grad()
        (out.sum() * 2 + (h_n * h_n).sum()).backward()
        z = x * 1
        z.retain_grad()
        z.sum().backward()  # the gradient arrives broadcast (expanded): .grad is materialised
        return [y.grad, out.grad, h_n.grad, z.grad, z.grad.is_contiguous()]
    _check(run)


def test_autograd_grad_and_backward_inputs_fill_it_too():
    def run(lib):
        x = lib.tensor([1.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        y.retain_grad()
        (gx,) = lib.autograd.grad((y * y).sum(), x)
        w = x * 3
        w.retain_grad()
        (w * w).sum().backward(inputs=[x])
        return [gx, y.grad, w.grad, x.grad]
    _check(run)


def test_warning_on_reading_a_non_leaf_grad():
    def warned(lib, read):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read(lib)
        return [str(w.message).startswith(NON_LEAF_WARNING) and w.category is UserWarning for w in caught]

    def plain(lib):
        return (lib.ones(2, requires_grad=True) * 2).grad

    def retained(lib):
        t = lib.ones(2, requires_grad=True) * 2
        t.retain_grad()
        return t.grad

    def leaf(lib):
        return lib.ones(2, requires_grad=True).grad, lib.ones(2).grad

    for read in (plain, retained, leaf):
        assert warned(gradcore, read) == warned(torch, read), read.__name__
    assert warned(gradcore, plain) == [True]


def test_dropped_tensor_and_freed_graph():
    x = gradcore.ones(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    loss = (y * 3).sum()
    del y  # the node holds it weakly: backward runs, nothing to keep
    loss.backward()
    assert x.grad.tolist() == [6.0] * 3
