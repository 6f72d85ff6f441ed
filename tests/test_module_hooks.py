"""Module forward hooks (per module and global) and optimizer step hooks, against PyTorch's semantics."""
import importlib

import numpy as np
import pytest

import gradcore
from gradcore import nn
from gradcore.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

torch = pytest.importorskip("torch")


def _both(fn):
    """Runs ``fn(lib)`` for gradcore and torch; returns both results."""
    return fn(gradcore), fn(torch)


def _trace_calls(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    calls = []
    handles = [
        lib.nn.modules.module.register_module_forward_pre_hook(lambda m, a: calls.append(("gpre", type(m).__name__))),
        lib.nn.modules.module.register_module_forward_hook(lambda m, a, o: calls.append(("gpost", type(m).__name__))),
        model[0].register_forward_pre_hook(lambda m, a: calls.append(("pre", "Linear"))),
        model[0].register_forward_hook(lambda m, a, o: calls.append(("post", "Linear", tuple(o.shape)))),
        model[0].register_forward_hook(lambda m, a, o: calls.append(("first", "Linear")), prepend=True),
    ]
    model(lib.ones(5, 3))
    for h in handles:
        h.remove()
    model(lib.ones(5, 3))  # removed: nothing more
    return calls


def test_hook_order_matches_torch():
    ours, theirs = _both(_trace_calls)
    assert ours == theirs
    assert ours[:3] == [("gpre", "Sequential"), ("gpre", "Linear"), ("pre", "Linear")]


def _replace(lib):
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.5]]))
        lin.bias.copy_(lib.tensor([0.1, -0.2]))
    x = lib.arange(6.0).reshape(2, 3)
    out = []
    with lin.register_forward_pre_hook(lambda m, a: a[0] * 2):  # a non-tuple result becomes (result,)
        out.append(lin(x))
    with lin.register_forward_pre_hook(lambda m, a, k: ((a[0] + 1,), k), with_kwargs=True):
        with lin.register_forward_hook(lambda m, a, k, o: o * 0 + len(k), with_kwargs=True):
            out.append(lin(x))
    out.append(lin(x))
    return [o.tolist() for o in out]


def test_hooks_replace_inputs_and_outputs_like_torch():
    ours, theirs = _both(_replace)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _always_call(lib):
    class Boom(lib.nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, a, o: seen.append(("always", o)), always_call=True)
    m.register_forward_hook(lambda mod, a, o: seen.append(("normal", o)))
    with pytest.raises(ValueError, match="boom"):
        m(lib.ones(1))
    return seen


def test_always_call_runs_when_forward_raises():
    assert _always_call(gradcore) == _always_call(torch) == [("always", None)]


def test_bad_pre_hook_result_is_a_runtime_error():
    lin = nn.Linear(2, 2)
    lin.register_forward_pre_hook(lambda m, a, k: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="must return None or a tuple of"):
        lin(gradcore.ones(1, 2))


def test_sequential_keeps_hooked_layers_unfused():
    gradcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = gradcore.randn(2, 3)
    fused = model(x)
    assert fused.grad_fn.name() == "LinearReluBackward0" or "Relu" in fused.grad_fn.name()
    seen = []
    with model[0].register_forward_hook(lambda m, a, o: seen.append(o)):
        out = model(x)
    assert len(seen) == 1 and seen[0].shape == (2, 4)
    assert out.tolist() == fused.tolist()
    with register_module_forward_pre_hook(lambda m, a: seen.append(type(m).__name__)):
        model(x)
    assert seen[1:] == ["Sequential", "Linear", "ReLU"]
    with register_module_forward_hook(lambda m, a, o: None):
        assert model(x).tolist() == fused.tolist()


def _step_hooks(lib):
    lib.manual_seed(0)
    lin = lib.nn.Linear(2, 1)
    opt = lib.optim.SGD(lin.parameters(), lr=0.1)
    calls = []
    optimizer = importlib.import_module(lib.__name__ + ".optim.optimizer")
    hs = [optimizer.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("gpre")),
          optimizer.register_optimizer_step_post_hook(lambda o, a, k: calls.append("gpost")),
          opt.register_step_pre_hook(lambda o, a, k: calls.append("pre")),
          opt.register_step_post_hook(lambda o, a, k: calls.append("post"))]
    lin(lib.ones(1, 2)).sum().backward()
    opt.step()
    for h in hs:
        h.remove()
    opt.step()
    return calls


def test_optimizer_step_hooks_match_torch():
    assert _step_hooks(gradcore) == _step_hooks(torch) == ["gpre", "pre", "post", "gpost"]


def test_step_pre_hook_may_replace_arguments():
    lin = nn.Linear(2, 1)
    opt = gradcore.optim.SGD(lin.parameters(), lr=0.1)
    got = []
    opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": lambda: got.append(1) or gradcore.tensor(2.0)}))
    assert opt.step().item() == 2.0 and got == [1]
    opt2 = gradcore.optim.SGD(lin.parameters(), lr=0.1)
    opt2.register_step_pre_hook(lambda o, a, k: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple of"):
        opt2.step()


def test_handles_hold_nothing_alive():
    import gc
    import weakref
    lin = nn.Linear(2, 2)
    h = lin.register_forward_hook(lambda *a: None)
    ref = weakref.ref(lin)
    del lin
    gc.collect()
    assert ref() is None
    h.remove()  # harmless after its module is gone
