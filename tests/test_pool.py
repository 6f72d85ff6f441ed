"""Max pooling (ops/pool.cpp, cpu/pool.cpp, cuda/pool.cu): values, argmax indices and gradients
against PyTorch where it is importable (exactly: a max is exact), float64 gradchecks, NaN, and
PyTorch's errors."""
import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from helpers import gradcheck_fn

rng = np.random.default_rng(99)

CONFIGS = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 10, 11), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), dilation=(2, 1), ceil_mode=True)),
    ((3, 7, 7), dict(kernel_size=3, stride=1)),  # unbatched, overlapping windows
    ((1, 1, 5, 5), dict(kernel_size=2, ceil_mode=True)),
    ((1, 1, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 4, 28, 28), dict(kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_values_indices_and_gradients_match_pytorch(shape, kw, dtype):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(dtype)
    res = []
    for m in (gradcore, torch):
        t = m.tensor(x, requires_grad=True)
        out, idx = m.nn.functional.max_pool2d(t, return_indices=True, **kw)
        w = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
        (out * m.tensor(w)).sum().backward()
        res.append((out.detach().numpy(), idx.numpy(), t.grad.numpy()))
    (o1, i1, g1), (o2, i2, g2) = res
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(g1, g2, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_gradcheck_float64_and_nan():
    x = rng.standard_normal((1, 2, 6, 5))
    gradcheck_fn(lambda t: F.max_pool2d(t, 3, stride=2, padding=1), x)
    y = np.arange(16.0).reshape(1, 1, 4, 4)
    y[0, 0, 1, 0] = np.nan
    out = F.max_pool2d(gradcore.tensor(y), 2).numpy()
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 7.0  # a NaN in the window wins, as PyTorch


def test_layer_and_functional_forms():
    pool = nn.MaxPool2d(2)
    assert pool.stride == 2 and repr(pool) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    x = gradcore.randn(4, 3, 9, 9)
    assert tuple(pool(x).shape) == (4, 3, 4, 4)
    out, idx = nn.MaxPool2d(3, 2, return_indices=True)(x)
    assert idx.dtype == gradcore.int64 and tuple(idx.shape) == tuple(out.shape)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, stride=[]).numpy(), pool(x).numpy())  # [] means kernel_size
    np.testing.assert_array_equal(F.max_pool2d_with_indices(x, 2)[0].numpy(), pool(x).numpy())


ERRORS = [
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4), 3, padding=2), RuntimeError, "pad should be at most half"),
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4), 5, stride=1), RuntimeError, "Output size is too small"),
    (lambda: F.max_pool2d(gradcore.ones(4, 4), 2), RuntimeError, "3D or 4D"),
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4), 0), RuntimeError, "kernel size should be greater than zero"),
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4), 2, stride=0), RuntimeError, "stride should be greater than zero"),
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4), (2, 2, 2)), RuntimeError, "single int, or a tuple of two ints"),
    (lambda: F.max_pool2d(gradcore.ones(1, 1, 4, 4, dtype=gradcore.int64), 2), NotImplementedError, "int64"),
    (lambda: F.max_pool2d(None, 2), TypeError, "max_pool2d"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_like_pytorch(i):
    call, exc, match = ERRORS[i]
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("shape,kw", [((2, 3, 17), dict(kernel_size=3, stride=2, padding=1)),
                                      ((4, 20), dict(kernel_size=2)),
                                      ((1, 2, 11), dict(kernel_size=3, stride=1, dilation=2, ceil_mode=True))],
                         ids=["strided", "unbatched", "dilated"])
def test_max_pool1d_matches_pytorch(shape, kw):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    res = []
    for m in (gradcore, torch):
        t = m.tensor(x, requires_grad=True)
        out, idx = m.nn.functional.max_pool1d(t, return_indices=True, **kw)
        out.pow(2).sum().backward()
        res.append((out.detach().numpy(), idx.numpy(), t.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_max_pool1d_layer_and_errors():
    pool = nn.MaxPool1d(2)
    assert repr(pool) == "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert tuple(pool(gradcore.randn(3, 4, 9)).shape) == (3, 4, 4)
    with pytest.raises(RuntimeError, match="2D or 3D"):
        F.max_pool1d(gradcore.randn(1, 1, 1, 4), 2)
    with pytest.raises(RuntimeError, match="list of 1 value"):
        F.max_pool1d(gradcore.randn(1, 1, 8), (2, 2))
    with pytest.raises(TypeError, match="max_pool1d"):
        F.max_pool1d(None, 2)
