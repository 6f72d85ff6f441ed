"""Autograd hooks against PyTorch: Tensor.register_hook (leaves and non-leaves),
register_post_accumulate_grad_hook, Node.register_hook / register_prehook, handles, errors,
exceptions raised inside hooks, and the engine's queue_callback."""
import gc as pygc

import numpy as np
import pytest

import gradcore
from helpers import assert_close

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.0, 2.0], dtype=np.float32)


def _both(fn):
    """fn(lib) in gradcore and torch; returns both results."""
    return fn(gradcore), fn(torch)


def _vals(ts):
    return [None if t is None else t.detach().numpy().copy() for t in ts]


def _same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_allclose(u, v, rtol=1e-6)


def test_leaf_hook_replaces_gradient_before_accumulation():
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        x.register_hook(lambda g: g * 2)
        x.register_hook(lambda g: seen.append(g.clone()))
        (x * x).sum().backward()
        (x * 3).sum().backward()
        return _vals(seen) + _vals([x.grad])
    _same(*_both(run))


def test_non_leaf_hook_and_grad_flow():
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        y = x.exp()
        z = y * 2
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        z.register_hook(lambda g: g * 3)
        z.sum().backward()
        return _vals(seen) + _vals([x.grad])
    _same(*_both(run))


def test_hooks_apply_to_autograd_grad_and_backward_inputs():
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        x.register_hook(lambda g: g * 2)
        y = (x * x).sum()
        (g,) = lib.autograd.grad(y, x, retain_graph=True)
        y.backward(inputs=[x])
        return _vals([g, x.grad])
    _same(*_both(run))


def test_post_accumulate_grad_hook_sees_accumulated_grad():
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        seen = []
        x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
        (x * 2).sum().backward()
        (x * x).sum().backward()
        return _vals(seen)
    _same(*_both(run))


def test_post_accumulate_hook_gets_the_parameter_object():
    p = gradcore.nn.Parameter(gradcore.ones(2))
    got = []
    p.register_post_accumulate_grad_hook(got.append)
    (p * 2).sum().backward()
    assert got[0] is p


def test_node_hooks():
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        w = (x * 2) * 3
        seen = []
        w.grad_fn.register_prehook(lambda go: seen.append(go[0].clone()) or (go[0] * 10,))
        w.grad_fn.register_hook(lambda gi, go: seen.extend([gi[0].clone(), go[0].clone()]) or (gi[0] + 1, gi[1]))
        w.sum().backward()
        return _vals(seen) + _vals([x.grad])
    _same(*_both(run))


def test_remove_handle_and_context_manager():
    for lib in (gradcore, torch):
        x = lib.tensor(X, requires_grad=True)
        h = x.register_hook(lambda g: g * 100)
        h.remove()
        h.remove()  # twice is fine
        with x.register_hook(lambda g: g * 7):
            (x * 1).sum().backward()
        (x * 1).sum().backward()
        np.testing.assert_allclose(x.grad.detach().numpy(), 8 * np.ones(3))
        y = x * 2
        hy = y.register_hook(lambda g: g * 0)
        hy.remove()
        x.grad = None
        y.sum().backward()
        np.testing.assert_allclose(x.grad.detach().numpy(), 2 * np.ones(3))


def test_hook_removing_itself_while_running():
    x = gradcore.tensor(X, requires_grad=True)
    calls = []

    def once(g):
        calls.append(1)
        handle.remove()
    handle = x.register_hook(once)
    (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert calls == [1]


@pytest.mark.parametrize("lib", [gradcore, torch], ids=["gradcore", "torch"])
def test_hook_errors(lib):
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lib.ones(2).register_hook(lambda g: g)
    x = lib.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    y = x * 2
    y.register_hook(lambda g: g[:2])
    with pytest.raises(RuntimeError, match="changed the size"):
        y.sum().backward()
    y = x * 2
    y.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="changed the type"):
        y.sum().backward()
    y = x * 2
    y.register_hook(lambda g: 5)
    with pytest.raises(TypeError):
        y.sum().backward()


def test_exception_in_hook_propagates_and_engine_recovers():
    for lib in (gradcore, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2

        def bad(g):
            raise ValueError("boom")
        y.register_hook(bad)
        with pytest.raises(ValueError, match="boom"):
            y.sum().backward()
        p = lib.tensor(X, requires_grad=True)
        p.register_post_accumulate_grad_hook(bad)
        with pytest.raises(ValueError, match="boom"):
            (p * 1).sum().backward()
        z = lib.tensor(X, requires_grad=True)
        (z * 2).sum().backward()  # the engine still works
        np.testing.assert_allclose(z.grad.numpy(), 2 * np.ones(3))


def test_hooks_do_not_keep_graph_or_tensor_alive():
    import weakref
    x = gradcore.tensor(X, requires_grad=True)
    y = x * 2
    ref = weakref.ref(y)
    y.register_hook(lambda g: g)
    del y
    pygc.collect()
    assert ref() is None


def test_queue_callback_runs_at_end_of_backward():
    for lib in (gradcore, torch):
        x = lib.tensor(X, requires_grad=True)
        order = []

        def hook(g):
            order.append("hook")
            lib.autograd.Variable._execution_engine.queue_callback(
                lambda: order.append("callback") or lib.autograd.Variable._execution_engine.queue_callback(
                    lambda: order.append("nested")))
        y = x * 2
        y.register_hook(hook)
        z = y.exp()
        z.grad_fn.register_prehook(lambda go: order.append("exp"))
        z.sum().backward()
        assert order == ["exp", "hook", "callback", "nested"], (lib.__name__, order)
        with pytest.raises(RuntimeError, match="during backward"):
            lib.autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_hooks_on_mlp_match_torch():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((3, 5))
    xin = rng.standard_normal((6, 4))

    def run(lib):
        a = lib.tensor(w1, requires_grad=True)
        b = lib.tensor(w2, requires_grad=True)
        order = []
        for name, p in (("w1", a), ("w2", b)):
            p.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
            p.register_hook(lambda g: g * 0.5)
        h = lib.tensor(xin) @ a.T
        h.register_hook(lambda g: g.clamp(-0.1, 0.1))
        (lib.tanh(h) @ b.T).pow(2).sum().backward()
        return order, a.grad, b.grad
    (og, ag, bg), (ot, at, bt) = _both(run)
    assert og == ot == ["w2", "w1"]
    assert_close(ag, at.numpy())
    assert_close(bg, bt.numpy())
