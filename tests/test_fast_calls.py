"""The fast calls (bind/common.h): gradcore.exp(x), x.exp(), gradcore.mul(a, b), a.mul(b), ... are
METH_FASTCALL functions in front of their pybind11 bindings, and +, -, *, / are C slots. Whatever
the fast path does not take (keywords, other argument counts or types, subclasses) must reach the
binding and behave exactly as before: same values, same errors, same signatures."""
import numpy as np
import pytest

import gradcore
from helpers import assert_close


def test_unary_fast_and_fallback_forms_agree():
    x = gradcore.tensor([0.5, -1.0, 2.0])
    ref = np.exp(x.numpy())
    for out in (gradcore.exp(x), x.exp(), gradcore.exp(input=x), gradcore.Tensor.exp(x)):
        assert_close(out, ref)
    p = gradcore.nn.Parameter(gradcore.tensor([0.5, -1.0, 2.0]))
    assert_close(p.exp(), ref)  # a subclass instance through the same descriptor
    assert_close(gradcore.exp(p), ref)
    with pytest.raises(TypeError, match="exp"):
        gradcore.exp(None)
    with pytest.raises(TypeError, match="exp"):
        gradcore.exp()
    with pytest.raises(TypeError, match="exp"):
        x.exp(1)
    with pytest.raises(TypeError):
        gradcore.exp(x, x)
    assert "Tensor" in (gradcore.exp.__doc__ or "") and "Tensor" in (gradcore.Tensor.exp.__doc__ or "")


def test_binary_fast_and_fallback_forms_agree():
    a = gradcore.tensor([1.0, 2.0, 3.0])
    b = gradcore.tensor([4.0, 5.0, 6.0])
    an, bn = a.numpy(), b.numpy()
    for out in (gradcore.mul(a, b), a.mul(b), gradcore.mul(input=a, other=b), a.mul(other=b), gradcore.mul(a, other=b)):
        assert_close(out, an * bn)
    assert_close(gradcore.mul(2, a), 2 * an)  # a number first: the binding's path
    assert_close(a.mul(2.5), an * 2.5)
    assert_close(gradcore.add(a, b, alpha=2), an + 2 * bn)  # keywords: the binding's path
    assert_close(a.sub(b, alpha=0.5), an - 0.5 * bn)
    assert_close(gradcore.div(a, b, rounding_mode="floor"), np.floor(an / bn))
    assert_close(a.div(b), an / bn)
    assert gradcore.eq(a, a).dtype == gradcore.bool
    with pytest.raises(TypeError):
        gradcore.mul(a, None)
    with pytest.raises(TypeError):
        a.mul("x")
    with pytest.raises(RuntimeError):
        a.mul(gradcore.ones(4))  # shapes that do not broadcast: the op's own error


def test_fast_calls_record_autograd_and_release_results():
    import gc
    import weakref
    x = gradcore.tensor([1.0, 2.0], requires_grad=True)
    y = gradcore.mul(x, x).exp().add(x)  # fast function, fast method, fast method
    y.sum().backward()
    xn = x.detach().numpy()
    assert_close(x.grad, 2 * xn * np.exp(xn * xn) + 1)
    r = gradcore.exp(gradcore.ones(3))
    ref = weakref.ref(r)
    del r
    gc.collect()
    assert ref() is None  # the result's only reference was the caller's
