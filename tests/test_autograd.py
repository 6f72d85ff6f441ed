"""The autograd engine: accumulation, shared sub-expressions, retain_graph, gradient=,
autograd.grad, grad modes, in-place checks and graph freeing."""
import gc
import os
import threading
import weakref

import numpy as np
import pytest

import gradcore
from helpers import assert_close


def test_shared_subexpression_and_accumulation():
    x = gradcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x  # x used twice
    z = y + y  # y used twice
    z.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]
    (x * 3).sum().backward()  # accumulates
    assert x.grad.tolist() == [7.0, 11.0, 15.0]
    x.grad.zero_()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_accumulation_is_in_place_on_existing_grad():
    x = gradcore.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert g is x.grad and g.tolist() == [5.0, 5.0]


def test_broadcast_gradients_reduce_to_input_shape():
    w = gradcore.ones(3, requires_grad=True)
    b = gradcore.ones(1, requires_grad=True)
    x = gradcore.tensor(np.arange(12.0).reshape(4, 3))
    (x * w + b).sum().backward()
    assert w.grad.tolist() == [18.0, 22.0, 26.0]
    assert w.grad.shape == (3,) and b.grad.shape == (1,) and b.grad.item() == 12.0


def test_non_scalar_backward_needs_gradient():
    x = gradcore.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(gradcore.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(gradcore.ones(4))


def test_backward_twice_needs_retain_graph():
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradcore.ones(2).sum().backward()


def test_leaf_backward():
    x = gradcore.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_autograd_grad():
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    y = gradcore.tensor([3.0, 4.0], requires_grad=True)
    h = x * y
    out = (h * h).sum()
    gx, gh = gradcore.autograd.grad(out, [x, h], retain_graph=True)
    assert gx.tolist() == [18.0, 64.0]
    assert gh.tolist() == [6.0, 16.0]
    assert x.grad is None and y.grad is None
    z = gradcore.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        gradcore.autograd.grad(out, [z], retain_graph=True)
    assert gradcore.autograd.grad(out, [z], allow_unused=True, retain_graph=True) == (None,)
    gradcore.autograd.backward([out])
    assert y.grad.tolist() == [6.0, 32.0]


def test_no_grad_and_modes():
    x = gradcore.ones(2, requires_grad=True)
    with gradcore.no_grad():
        y = x * 2
        assert not gradcore.is_grad_enabled()
        with gradcore.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert gradcore.is_grad_enabled()

    @gradcore.no_grad()
    def f(a):
        return a * 2

    assert not f(x).requires_grad
    gradcore.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    gradcore.set_grad_enabled(True)
    with gradcore.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_grad_mode_is_thread_local():
    seen = []
    with gradcore.no_grad():
        t = threading.Thread(target=lambda: seen.append(gradcore.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_in_place_on_leaf_requiring_grad():
    w = gradcore.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w -= 1
    with gradcore.no_grad():
        w -= 1
    assert w.tolist() == [0.0, 0.0]


def test_in_place_on_non_leaf_tracks_gradient():
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    # as in PyTorch, y.mul_(y) overwrites a value its own backward needs
    y = x * 2
    y.mul_(y)
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()
    a = gradcore.tensor([1.0, 2.0], requires_grad=True)
    b = a.sin()  # saves its input, not its output
    b.add_(1)
    b.sum().backward()
    assert_close(a.grad, np.cos([1.0, 2.0]).astype(np.float32))


def test_modified_saved_tensor_is_detected():
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    z = y * 1
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward(retain_graph=True)
        y.sum().backward()
    a = x * 1
    b = a * a  # saves a
    a.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        b.sum().backward()


def test_in_place_into_a_view_with_a_value_that_requires_grad_rebases_the_base():
    x = gradcore.zeros(2, 3)
    w = gradcore.ones(3, requires_grad=True)
    x.select(0, 0).add_(w)  # x takes a history (CopySlices), as in PyTorch
    assert x.requires_grad and x.grad_fn.name() == "CopySlices"
    (x * gradcore.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]
    y = gradcore.zeros(2, 3)
    with gradcore.no_grad():
        y.select(0, 0).add_(w)
    assert y.tolist()[0] == [1.0, 1.0, 1.0] and not y.requires_grad


def test_detach_and_requires_grad_():
    x = gradcore.ones(2, requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    y.requires_grad_()
    (y * 3).sum().backward()
    assert y.grad.tolist() == [3.0, 3.0] and x.grad is None


def test_grad_fn_names_and_graph():
    x = gradcore.ones(2, requires_grad=True)
    y = (x * 2 + 1).sum()
    assert y.grad_fn.name() == "SumBackward0"
    assert "SumBackward0" in repr(y.grad_fn)
    nxt = y.grad_fn.next_functions
    assert nxt[0][0].name() == "AddBackward0"
    leaf = nxt[0][0].next_functions[0][0].next_functions[0][0]
    assert leaf.name() == "AccumulateGrad" and leaf.variable is x


def test_unused_forward_frees_its_graph():
    x = gradcore.randn(100, requires_grad=True)
    y = (x * 2).exp()
    z = (y * y).sum()
    refs = [weakref.ref(t) for t in (y, z)]
    del y, z
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""), reason="ASan's quarantine holds freed memory")
def test_no_growth_over_many_forward_passes():
    psutil = pytest.importorskip("resource")
    x = gradcore.randn(1000, requires_grad=True)
    for _ in range(200):
        (x * 2).exp().sum()
    before = psutil.getrusage(psutil.RUSAGE_SELF).ru_maxrss
    for _ in range(3000):
        (x * 2).exp().sum()
    after = psutil.getrusage(psutil.RUSAGE_SELF).ru_maxrss
    assert after - before < 20_000  # KiB: no tape that grows


def test_deep_chain_backward_does_not_recurse():
    x = gradcore.ones(1, requires_grad=True)
    y = x
    for _ in range(200000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0
    del y


def test_torch_parity_composite():
    torch = pytest.importorskip("torch")
    a = np.random.randn(5, 3)
    b = np.random.randn(3)

    def f(m, x, w):
        h = (x * w).tanh() + x.sigmoid() * 2 - (x.abs() + 1).log() / 3
        return (h.exp() ** 0.5).sum() + m.maximum(x, w).mean()

    gx, gw = gradcore.tensor(a, requires_grad=True), gradcore.tensor(b, requires_grad=True)
    tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    rg, rt = f(gradcore, gx, gw), f(torch, tx, tw)
    rg.backward()
    rt.backward()
    assert abs(rg.item() - rt.item()) < 1e-9
    assert_close(gx.grad, tx.grad.numpy(), rtol=1e-9)
    assert_close(gw.grad, tw.grad.numpy(), rtol=1e-9)


# An in-place op that rewrites a tensor's history (on the tensor, or through one of its views)
# leaves every other view of it with a stale grad_fn; PyTorch regenerates theirs from the base's
# new history (AsStridedBackward0), and so must gradcore, or gradients come out wrong.
def test_other_views_follow_a_rebased_base():
    a = gradcore.ones(3, requires_grad=True)
    x = a * 1
    v2 = x[0:2]
    v1 = x[0]
    v1.mul_(2)  # x is rebased onto CopySlices; v2 was made before
    assert v2.grad_fn.name() == "AsStridedBackward0"
    v2.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 1.0, 0.0])  # PyTorch 2.13's values

    a = gradcore.ones(3, requires_grad=True)
    x = a * 1
    v = x[1:]
    x.mul_(3)  # in place on the base itself
    (v * v).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 18.0, 18.0])

    # A view made under no_grad keeps no history, whatever happens to its base later.
    a = gradcore.ones(3, requires_grad=True)
    x = a * 1
    with gradcore.no_grad():
        w = x[1:]
    x.mul_(2)
    assert w.grad_fn is None and not w.requires_grad
