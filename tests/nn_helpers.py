"""Helpers for the nn tests: running the same computation in gradcore and in PyTorch."""
import numpy as np
import pytest

import gradcore
from helpers import assert_close


def compare_with_torch(gfn, tfn, *arrays, grads=None, rtol=1e-5, atol=1e-6, seed=1):
    """Runs gfn on gradcore tensors and tfn on torch tensors made from the same arrays; checks the
    outputs, then the gradients of sum(out * w) (w random) for the inputs marked in ``grads``
    (default: every floating-point array)."""
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a) for a in arrays]
    if grads is None:
        grads = [np.issubdtype(a.dtype, np.floating) for a in arrays]
    gs = [gradcore.tensor(a, requires_grad=bool(r)) for a, r in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=bool(r)) for a, r in zip(arrays, grads)]
    go, to = gfn(*gs), tfn(*ts)
    assert_close(go, to.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(seed).standard_normal(tuple(to.shape)).astype(to.detach().numpy().dtype)
    (go * gradcore.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for i, (g, t, r) in enumerate(zip(gs, ts, grads)):
        if r:
            assert g.grad is not None, f"input {i} got no gradient"
            assert_close(g.grad, t.grad.numpy(), rtol=rtol, atol=atol)
    return go, to


def same_error(gfn, tfn):
    """gfn() raises the exception type tfn() (its PyTorch twin) raises; returns both exceptions."""
    with pytest.raises(Exception) as te:
        tfn()
    with pytest.raises(Exception) as ge:
        gfn()
    assert type(ge.value) is type(te.value), (ge.value, te.value)
    return ge.value, te.value
