"""Pooling (ops/pool.cpp, cpu/pool.cpp, cuda/pool.cu): max, average and adaptive, 2-D and 1-D; values,
argmax indices and gradients against PyTorch where it is importable, float64 gradchecks, NaN, and
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


# ---- average and adaptive pooling (the same windows, kernels/pool.h) ----

AVG_CONFIGS = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 10, 11), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True)),
    ((1, 2, 10, 11), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True, count_include_pad=False)),
    ((3, 7, 7), dict(kernel_size=3, stride=1, divisor_override=5)),  # unbatched, overlapping windows
    ((1, 1, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 1, 5, 5), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
]


def _run_both(fn, x, with_indices=False):
    """fn(module, tensor) on gradcore and PyTorch; (output, indices or None, input gradient) of each."""
    torch = pytest.importorskip("torch")
    res = []
    for m in (gradcore, torch):
        t = m.tensor(x, requires_grad=True)
        out = fn(m, t)
        idx = None
        if with_indices:
            out, idx = out
            idx = idx.numpy()
        w = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(x.dtype)
        (out * m.tensor(w)).sum().backward()
        res.append((out.detach().numpy(), idx, t.grad.numpy()))
    return res


def _assert_same(res, dtype):
    (o1, i1, g1), (o2, i2, g2) = res
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert o1.shape == o2.shape and g1.shape == g2.shape
    np.testing.assert_allclose(o1, o2, rtol=tol, atol=tol)
    if i1 is not None:
        np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(g1, g2, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", AVG_CONFIGS, ids=[f"cfg{i}" for i in range(len(AVG_CONFIGS))])
def test_avg_pool2d_matches_pytorch(shape, kw, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    _assert_same(_run_both(lambda m, t: m.nn.functional.avg_pool2d(t, **kw), x), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 2, (3, 5), (7, 6), (10, 9), (None, 4), (4, None)])
def test_adaptive_pool2d_matches_pytorch(size, dtype):
    # (7, 6) is the identity; (10, 9) upsamples (overlapping one-position windows).
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    _assert_same(_run_both(lambda m, t: m.nn.functional.adaptive_avg_pool2d(t, size), x), dtype)
    _assert_same(_run_both(lambda m, t: m.nn.functional.adaptive_max_pool2d(t, size, return_indices=True), x, True), dtype)


@pytest.mark.parametrize("name,kw,shape", [
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 17)),
    ("avg_pool1d", dict(kernel_size=2), (4, 9)),
    ("adaptive_avg_pool1d", dict(output_size=5), (2, 3, 17)),
    ("adaptive_avg_pool1d", dict(output_size=(4,)), (3, 7)),
    ("adaptive_max_pool1d", dict(output_size=5, return_indices=True), (2, 3, 17)),
    ("adaptive_max_pool1d", dict(output_size=9, return_indices=True), (3, 7)),
])
def test_1d_forms_match_pytorch(name, kw, shape):
    x = rng.standard_normal(shape)
    res = _run_both(lambda m, t: getattr(m.nn.functional, name)(t, **kw), x, kw.get("return_indices", False))
    _assert_same(res, np.float64)


def test_adaptive_pool2d_empty_output():
    # PyTorch returns an empty output (and refuses its backward); gradcore's gradient is zeros.
    x = gradcore.randn(2, 3, 7, 6, requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (0, 3))
    assert tuple(out.shape) == (2, 3, 0, 3) and tuple(F.adaptive_max_pool2d(x, 0).shape) == (2, 3, 0, 0)
    out.sum().backward()
    assert tuple(x.grad.shape) == (2, 3, 7, 6) and not x.grad.numpy().any()


def test_avg_and_adaptive_gradcheck_float64():
    x = rng.standard_normal((1, 2, 7, 6))
    gradcheck_fn(lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), x)
    gradcheck_fn(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), x)
    gradcheck_fn(lambda t: F.adaptive_max_pool2d(t, (4, 5)), x)


def test_avg_and_adaptive_layers():
    torch = pytest.importorskip("torch")
    pairs = [
        (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d((2, 3), divisor_override=2, ceil_mode=True), torch.nn.AvgPool2d((2, 3), divisor_override=2, ceil_mode=True)),
        (nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1))),
        (nn.AdaptiveAvgPool2d((None, 2)), torch.nn.AdaptiveAvgPool2d((None, 2))),
        (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3)),
        (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2)),
        (nn.AdaptiveMaxPool1d(2, True), torch.nn.AdaptiveMaxPool1d(2, True)),
    ]
    x4 = rng.standard_normal((2, 3, 8, 9)).astype(np.float32)
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        x = x4[:, :, 0] if "1d" in type(ours).__name__ else x4
        a, b = ours(gradcore.tensor(x)), theirs(torch.tensor(x))
        if isinstance(a, tuple):
            np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
            a, b = a[0], b[0]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    grad_fn = F.adaptive_avg_pool2d(gradcore.ones(1, 2, 4, 4, requires_grad=True), 1).grad_fn
    assert grad_fn.name() == "AdaptiveAvgPool2DBackward0"


AVG_ERRORS = [
    (lambda: F.avg_pool2d(gradcore.ones(1, 1, 5, 5), 3, padding=2), RuntimeError, "pad should be at most half"),
    (lambda: F.avg_pool2d(gradcore.ones(1, 1, 5, 5), 7), RuntimeError, "Output size is too small"),
    (lambda: F.avg_pool2d(gradcore.ones(1, 1, 5, 5), 2, divisor_override=0), RuntimeError, "divisor must be not zero"),
    (lambda: F.avg_pool2d(gradcore.ones(5, 5), 2), RuntimeError, "3D or 4D"),
    (lambda: F.avg_pool2d(gradcore.ones(1, 1, 5, 5), (2, 2, 2)), RuntimeError, "avg_pool2d: kernel_size must either"),
    (lambda: F.avg_pool1d(gradcore.ones(5), 2), RuntimeError, "avg_pool1d: expected 2D or 3D"),
    (lambda: F.avg_pool1d(gradcore.ones(1, 5), 2, stride=(1, 2)), RuntimeError, "list of 1 value"),
    (lambda: F.adaptive_avg_pool2d(gradcore.ones(5, 5), 2), RuntimeError, r"adaptive_avg_pool2d\(\): Expected 3D or 4D"),
    (lambda: F.adaptive_avg_pool2d(gradcore.ones(1, 2, 5, 5), (2, 2, 2)), RuntimeError, "output_size must be 2"),
    (lambda: F.adaptive_avg_pool2d(gradcore.ones(1, 2, 0, 5), 2), RuntimeError, "dimension 2 being empty"),
    (lambda: F.adaptive_max_pool2d(gradcore.ones(1, 2, 5, 5), -1), RuntimeError, "greater than or equal to 0"),
    (lambda: F.adaptive_max_pool2d(gradcore.ones(1, 2, 5, 5, dtype=gradcore.int64), 2), NotImplementedError, "int64"),
    (lambda: F.adaptive_max_pool1d(gradcore.ones(1, 2, 5, 5), 2), RuntimeError, "adaptive_max_pool1d: expected 2D or 3D"),
    (lambda: F.adaptive_avg_pool1d(None, 2), TypeError, "adaptive_avg_pool1d"),
]


@pytest.mark.parametrize("i", range(len(AVG_ERRORS)))
def test_avg_and_adaptive_errors_like_pytorch(i):
    call, exc, match = AVG_ERRORS[i]
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True)])
def test_max_pool_nan_values_and_indices_match_pytorch(kw):
    # PyTorch takes v when v > max or v is NaN: a NaN wins, the last of several (interior windows
    # run a branch-free loop, border windows the shared formula: both must follow the rule).
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((3, 4, 9, 10)).astype(np.float32)
    a[np.random.default_rng(2).random(a.shape) < 0.15] = np.nan
    o1, i1 = torch.nn.functional.max_pool2d(torch.tensor(a), return_indices=True, **kw)
    o2, i2 = F.max_pool2d(gradcore.tensor(a), return_indices=True, **kw)
    np.testing.assert_array_equal(o2.numpy(), o1.numpy())
    np.testing.assert_array_equal(i2.numpy(), i1.numpy())
