"""Convolution (ops/conv.cpp: im2col + grouped GEMMs; cpu/conv.cpp, cuda/conv.cu): conv2d/1d,
conv_transpose2d/1d, unfold and fold; values and gradients against PyTorch where it is importable,
float64 gradchecks, the layers' arguments, initialisation and parameter names, and PyTorch's errors."""
import math

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from helpers import gradcheck_fn

rng = np.random.default_rng(2024)

# (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias
CONFIGS = [
    ((2, 3, 7, 9), (4, 3, 3), 1, 1, 1, 1, True),
    ((2, 4, 8, 7), (6, 3, 2), (2, 1), (1, 0), (1, 2), 2, True),
    ((1, 6, 5, 5), (6, 3, 3), 1, "same", 1, 6, True),  # depthwise
    ((3, 2, 6, 6), (4, 4, 4), 1, "same", 1, 1, False),  # even kernel: one more row/column after
    ((2, 3, 9, 9), (5, 3, 3), 3, 0, 2, 1, True),
    ((1, 1, 5, 5), (2, 5, 5), 1, "valid", 1, 1, True),  # kernel as large as the input
    ((2, 3, 4, 5), (2, 1, 1), 1, 0, 1, 1, True),  # 1x1
    ((0, 3, 4, 5), (2, 3, 3), 1, 1, 1, 1, True),  # empty batch
    ((2, 8, 10, 3), (4, 1, 3), (1, 2), (0, 2), 1, 4, True),
]


def _data(cfg, dtype):
    (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias = cfg
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _run(m, x, w, b, kw, g):
    tx = m.tensor(x, requires_grad=True)
    tw = m.tensor(w, requires_grad=True)
    tb = m.tensor(b, requires_grad=True) if b is not None else None
    out = m.nn.functional.conv2d(tx, tw, tb, **kw)
    (out * m.tensor(g)).sum().backward()
    return out, tx.grad, tw.grad, (tb.grad if tb is not None else None)


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's note on 'same' with an even kernel
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-4), (np.float64, 1e-10)])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_values_and_gradients_match_pytorch(cfg, dtype, tol):
    torch = pytest.importorskip("torch")
    x, w, b, kw = _data(cfg, dtype)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kw)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ours = _run(gradcore, x, w, b, kw, g)
    theirs = _run(torch, x, w, b, kw, g)
    assert tuple(ours[0].shape) == tuple(theirs[0].shape)
    for a, t in zip(ours, theirs):
        if t is None:
            assert a is None
            continue
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[2], CONFIGS[3], CONFIGS[8]], ids=["strided", "depthwise", "same_even", "wide"])
def test_gradcheck_float64(cfg):
    x, w, b, kw = _data(cfg, np.float64)
    x, w = x[:1, :, :5, :5], w  # small enough for central differences
    args = [x, w] + ([b] if b is not None else [])
    gradcheck_fn(lambda *t: F.conv2d(t[0], t[1], t[2] if len(t) > 2 else None, **kw), *args)


def test_unbatched_and_non_contiguous_inputs():
    x = rng.standard_normal((3, 8, 6))
    w = rng.standard_normal((2, 3, 3, 3))
    batched = F.conv2d(gradcore.tensor(x[None]), gradcore.tensor(w), padding=1)
    single = F.conv2d(gradcore.tensor(x), gradcore.tensor(w), padding=1)
    assert tuple(single.shape) == (2, 8, 6)
    np.testing.assert_allclose(single.numpy(), batched.numpy()[0], rtol=1e-12)
    xt = gradcore.tensor(rng.standard_normal((2, 6, 8, 3))).permute(0, 3, 2, 1)  # channels-last storage
    assert not xt.is_contiguous()
    ref = F.conv2d(xt.contiguous(), gradcore.tensor(w), stride=2)
    np.testing.assert_allclose(F.conv2d(xt, gradcore.tensor(w), stride=2).numpy(), ref.numpy(), rtol=1e-12)
    xs = gradcore.tensor(x, requires_grad=True)
    F.conv2d(xs, gradcore.tensor(w), padding=1).sum().backward()
    assert tuple(xs.grad.shape) == (3, 8, 6)


def test_conv2d_layer_like_pytorch():
    gradcore.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert tuple(conv.weight.shape) == (6, 2, 3, 3) and tuple(conv.bias.shape) == (6,)
    bound = 1 / math.sqrt(2 * 3 * 3)  # kaiming_uniform(a=sqrt(5)) on fan_in = C/groups * kh * kw
    assert float(conv.weight.abs().max()) <= bound and float(conv.bias.abs().max()) <= bound
    assert float(conv.weight.abs().max()) > 0.8 * bound
    assert tuple(conv(gradcore.randn(5, 4, 9, 9)).shape) == (5, 6, 5, 5)
    assert repr(conv) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2)"
    assert "bias=False" in repr(nn.Conv2d(1, 1, 2, bias=False))
    assert nn.Conv2d(1, 1, 2, bias=False).bias is None
    assert set(nn.Conv2d(3, 8, 5).state_dict()) == {"weight", "bias"}
    same = nn.Conv2d(3, 3, (3, 5), padding="same", dilation=2)
    assert tuple(same(gradcore.randn(2, 3, 11, 12)).shape) == (2, 3, 11, 12)


def test_conv2d_layer_state_dict_loads_into_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(3, 4, 3, padding=1)
    theirs = torch.nn.Conv2d(3, 4, 3, padding=1).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()).double() for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_allclose(ours.double()(gradcore.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)


ERRORS = [
    (lambda: F.conv2d(gradcore.randn(1, 3, 5, 5), gradcore.randn(2, 4, 3, 3)), RuntimeError, "to have 4 channels, but got 3"),
    (lambda: F.conv2d(gradcore.randn(1, 4, 5, 5), gradcore.randn(3, 2, 3, 3), groups=2), RuntimeError, "divisible by 2"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 2, 2), gradcore.randn(1, 1, 3, 3)), RuntimeError, "Kernel size can't be greater"),
    (lambda: F.conv2d(gradcore.randn(5, 5), gradcore.randn(1, 1, 3, 3)), RuntimeError, "3D \\(unbatched\\) or 4D"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3)), RuntimeError, "weight must be 4-D"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), stride=0), RuntimeError, "non-positive stride"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), padding=-1), RuntimeError, "negative padding"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), groups=0), RuntimeError, "non-positive groups"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), stride=2, padding="same"), RuntimeError, "strided"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), padding="full"), RuntimeError, "padding string"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(1, 1, 3, 3), stride=(1, 1, 1)), RuntimeError, "list of 2 values"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5), gradcore.randn(2, 1, 3, 3), gradcore.randn(3)), RuntimeError, "bias"),
    (lambda: F.conv2d(gradcore.randn(1, 1, 5, 5).double(), gradcore.randn(1, 1, 3, 3)), RuntimeError, "should be the same"),
    (lambda: F.conv2d(gradcore.ones(1, 1, 5, 5, dtype=gradcore.int64), gradcore.ones(1, 1, 3, 3, dtype=gradcore.int64)),
     NotImplementedError, "floating"),
    (lambda: F.conv2d(None, gradcore.randn(1, 1, 3, 3)), TypeError, "conv2d"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "out_channels must be divisible"),
    (lambda: nn.Conv2d(3, 6, 3, groups=2), ValueError, "in_channels must be divisible"),
    (lambda: nn.Conv2d(3, 6, 3, padding="full"), ValueError, "Invalid padding string"),
    (lambda: nn.Conv2d(3, 6, 3, padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (lambda: nn.Conv2d(3, 6, 3)(gradcore.randn(2, 4, 8, 8)), RuntimeError, "Conv2d\\(3, 6.*expects \\(N, 3, H, W\\)"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_name_the_op_shapes_and_fix(i):
    call, exc, match = ERRORS[i]
    with pytest.raises(exc, match=match):
        call()


# conv1d / nn.Conv1d: the 2-D kernels over a height of 1, with 1-D arguments, shapes and errors.
CONFIGS_1D = [
    ((2, 3, 11), (4, 3), 1, 1, 1, 1, True),
    ((2, 4, 17), (6, 5), 2, 2, 2, 2, True),
    ((3, 20), (5, 4), 1, "same", 1, 1, False),  # unbatched, even kernel
    ((1, 6, 9), (6, 3), 1, "valid", 1, 6, True),  # depthwise
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cfg", CONFIGS_1D, ids=[f"cfg{i}" for i in range(len(CONFIGS_1D))])
def test_conv1d_matches_pytorch(cfg):
    torch = pytest.importorskip("torch")
    shape, (O, k), stride, padding, dilation, groups, bias = cfg
    C = shape[-2]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((O, C // groups, k))
    b = rng.standard_normal(O) if bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    res = []
    for m in (gradcore, torch):
        tx, tw = m.tensor(x, requires_grad=True), m.tensor(w, requires_grad=True)
        tb = m.tensor(b, requires_grad=True) if bias else None
        out = m.nn.functional.conv1d(tx, tw, tb, **kw)
        out.pow(2).sum().backward()
        res.append([out.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()] + ([tb.grad.numpy()] if bias else []))
    for a, t in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


def test_conv1d_layer_and_errors():
    conv = nn.Conv1d(4, 8, 3, padding=1, groups=2)
    assert tuple(conv.weight.shape) == (8, 2, 3) and conv.kernel_size == (3,) and conv.stride == (1,)
    assert repr(conv) == "Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,), groups=2)"
    bound = 1 / math.sqrt(2 * 3)
    assert float(conv.weight.abs().max()) <= bound
    assert tuple(conv(gradcore.randn(5, 4, 10)).shape) == (5, 8, 10)
    assert tuple(conv(gradcore.randn(4, 10)).shape) == (8, 10)
    with pytest.raises(RuntimeError, match="2D \\(unbatched\\) or 3D"):
        F.conv1d(gradcore.randn(1, 1, 1, 5), gradcore.randn(1, 1, 3))
    with pytest.raises(RuntimeError, match="weight must be 3-D"):
        F.conv1d(gradcore.randn(1, 1, 5), gradcore.randn(1, 1, 1, 3))
    with pytest.raises(RuntimeError, match="to have 4 channels, but got 3"):
        F.conv1d(gradcore.randn(1, 3, 5), gradcore.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match="Conv1d\\(4, 8.*expects \\(N, 4, L\\)"):
        conv(gradcore.randn(2, 3, 10))
    with pytest.raises(RuntimeError, match="list of 1 value"):
        F.conv1d(gradcore.randn(1, 1, 5), gradcore.randn(1, 1, 3), stride=(1, 1))
    with pytest.raises(TypeError, match="conv1d"):
        F.conv1d(None, gradcore.randn(1, 1, 3))
    with pytest.raises(ValueError, match="tuple of 1 ints"):
        nn.Conv1d(1, 1, (3, 3))


def test_dropout2d_drops_whole_channels():
    gradcore.manual_seed(3)
    x = gradcore.ones(8, 16, 5, 5, requires_grad=True)
    y = F.dropout2d(x, 0.5)
    v = y.detach().numpy()
    per_channel = v.reshape(8, 16, 25)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))  # a channel is all 0 or all 1/(1-p)
    dropped = (per_channel == 0).all(-1).mean()
    assert 0.3 < dropped < 0.7
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), v)  # d(x * mask)/dx = mask
    layer = nn.Dropout2d(0.25)
    assert repr(layer) == "Dropout2d(p=0.25, inplace=False)"
    layer.eval()
    z = gradcore.randn(2, 3, 4, 4)
    assert layer(z) is z
    assert float(F.dropout2d(z, 1.0).abs().sum()) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        out = F.dropout2d(gradcore.ones(6, 4, 4), 0.5)
    planes = out.numpy().reshape(6, 16)
    assert np.all((planes == 0).all(-1) | (planes == 2.0).all(-1))  # dropped along dim 0, as PyTorch


# ---- transposed convolution, unfold and fold (the same im2col/col2im kernels and GEMMs) ----

def _both(fn, arrays):
    """fn(module, *tensors) on gradcore and PyTorch: (output, gradients of every input) of each,
    after backward of a weighted sum."""
    torch = pytest.importorskip("torch")
    res = []
    for m in (gradcore, torch):
        ts = [m.tensor(a, requires_grad=True) for a in arrays]
        out = fn(m, *ts)
        w = np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
        (out * m.tensor(w)).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*res):
        assert a.shape == b.shape
        tol = 1e-4 if arrays[0].dtype == np.float32 else 1e-10
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# (N, Cin, H, W), (Cout, kh, kw), stride, padding, output_padding, groups, dilation, bias
TRANSPOSED = [
    ((2, 3, 5, 4), (4, 3, 3), 1, 0, 0, 1, 1, True),
    ((2, 3, 5, 4), (4, 3, 3), 2, 1, 1, 1, 1, True),  # the usual 2x upsampling
    ((2, 6, 5, 4), (6, 3, 4), (2, 3), (1, 2), (1, 0), 3, (2, 1), False),
    ((1, 4, 6, 6), (4, 4, 4), 2, 1, 0, 4, 1, True),  # depthwise
    ((3, 2, 1, 1), (3, 2, 2), 1, 0, 0, 1, 1, True),  # 1x1 input
    ((0, 2, 3, 3), (3, 2, 2), 1, 0, 0, 1, 1, True),  # empty batch
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", TRANSPOSED, ids=[f"cfg{i}" for i in range(len(TRANSPOSED))])
def test_conv_transpose2d_matches_pytorch(cfg, dtype):
    (N, C, H, W), (O, kh, kw), stride, padding, out_pad, groups, dilation, bias = cfg
    arrays = [rng.standard_normal((N, C, H, W)), rng.standard_normal((C, O // groups, kh, kw))]
    if bias:
        arrays.append(rng.standard_normal(O))
    arrays = [a.astype(dtype) for a in arrays]
    _both(lambda m, x, w, *b: m.nn.functional.conv_transpose2d(x, w, b[0] if b else None, stride, padding, out_pad,
                                                              groups, dilation), arrays)


def test_conv_transpose_unbatched_1d_and_gradcheck():
    _both(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, stride=2), [rng.standard_normal((3, 4, 5)),
                                                                            rng.standard_normal((3, 2, 3, 3))])
    _both(lambda m, x, w, b: m.nn.functional.conv_transpose1d(x, w, b, 2, 1, 1), [rng.standard_normal((2, 3, 7)),
                                                                                rng.standard_normal((3, 4, 3)),
                                                                                rng.standard_normal(4)])
    x, w = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 3, 2, 3))
    gradcheck_fn(lambda a, b: F.conv_transpose2d(a, b, stride=2, padding=1, output_padding=1), x, w)
    out = F.conv_transpose2d(gradcore.tensor(x, requires_grad=True), gradcore.tensor(w))
    assert out.grad_fn.name() == "ConvolutionBackward0"


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(y, w), x> == <y, conv_transpose2d(x, w)> for any x, y: the defining property.
    w = gradcore.tensor(rng.standard_normal((4, 3, 3, 3)))
    y = gradcore.tensor(rng.standard_normal((2, 3, 9, 8)))
    x = gradcore.tensor(rng.standard_normal((2, 4, 5, 4)))
    lhs = (F.conv2d(y, w, stride=2, padding=1) * x).sum().item()
    rhs = (y * F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=(0, 1))).sum().item()
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))


def test_conv_transpose_layers_like_pytorch():
    torch = pytest.importorskip("torch")
    for args, kw in [((3, 4, 3), dict(stride=2)), ((4, 6, (2, 3)), dict(stride=2, padding=1, output_padding=1, groups=2,
                                                                          bias=False, dilation=(1, 2)))]:
        ours, theirs = nn.ConvTranspose2d(*args, **kw), torch.nn.ConvTranspose2d(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
               [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
        ours.load_state_dict({k: gradcore.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        x = rng.standard_normal((2, args[0], 5, 5)).astype(np.float32)
        np.testing.assert_allclose(ours(gradcore.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)
    up = nn.ConvTranspose2d(3, 4, 3, stride=2)
    assert tuple(up(gradcore.randn(1, 3, 5, 5), output_size=(12, 12)).shape) == (1, 4, 12, 12)
    assert tuple(up(gradcore.randn(1, 3, 5, 5), output_size=[1, 4, 11, 11]).shape) == (1, 4, 11, 11)
    with pytest.raises(ValueError, match="valid sizes range from"):
        up(gradcore.randn(1, 3, 5, 5), output_size=(14, 14))
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    bound = 1 / math.sqrt(4 * 9)  # fan_in from weight dim 1 (out_channels / groups) * kernel, as PyTorch
    w = nn.ConvTranspose2d(64, 4, 3).weight.detach().numpy()
    assert w.shape == (64, 4, 3, 3) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    one = nn.ConvTranspose1d(3, 5, 3, stride=2)
    assert repr(one) == repr(torch.nn.ConvTranspose1d(3, 5, 3, stride=2))
    assert tuple(one(gradcore.randn(2, 3, 6)).shape) == (2, 5, 13)


UNFOLD = [((2, 3, 7, 8), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))),
          ((3, 5, 5), dict(kernel_size=2)),
          ((1, 2, 4, 4), dict(kernel_size=4))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", UNFOLD, ids=["strided", "unbatched", "whole"])
def test_unfold_and_fold_match_pytorch(shape, kw, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    _both(lambda m, t: m.nn.functional.unfold(t, **kw), [x])
    cols = F.unfold(gradcore.tensor(x), **kw).numpy()
    _both(lambda m, t: m.nn.functional.fold(t, shape[-2:], **kw), [rng.standard_normal(cols.shape).astype(dtype)])


def test_fold_of_unfold_counts_overlaps_and_layers():
    x = gradcore.ones(1, 1, 4, 4)
    counts = F.fold(F.unfold(x, 2), (4, 4), 2).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    assert repr(nn.Unfold(2)) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"
    assert tuple(nn.Fold((5, 6), 2)(gradcore.randn(2, 12, 20)).shape) == (2, 3, 5, 6)
    gradcheck_fn(lambda t: F.fold(t, (4, 5), (2, 2), stride=1, padding=1), rng.standard_normal((1, 8, 30)))
    gradcheck_fn(lambda t: F.unfold(t, 3, padding=1, stride=2), rng.standard_normal((1, 2, 5, 4)))


TRANSPOSE_ERRORS = [
    (lambda: F.conv_transpose2d(gradcore.randn(1, 3, 5, 5), gradcore.randn(4, 2, 3, 3)), RuntimeError,
     r"expected input\[1, 3, 5, 5\] to have 4 channels, but got 3"),
    (lambda: F.conv_transpose2d(gradcore.randn(1, 3, 5, 5), gradcore.randn(3, 2, 3, 3), output_padding=1), RuntimeError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(gradcore.randn(1, 3, 1, 1), gradcore.randn(3, 2, 1, 1), padding=1), RuntimeError,
     "Output size is too small"),
    (lambda: F.conv_transpose2d(gradcore.randn(1, 4, 5, 5), gradcore.randn(4, 2, 3, 3), groups=3), RuntimeError,
     "divisible by 3 at dimension 0"),
    (lambda: F.conv_transpose2d(gradcore.randn(1, 3, 5, 5), gradcore.randn(3, 2, 3, 3), gradcore.randn(3)), RuntimeError,
     "expected bias to be 1-dimensional with 2 elements"),
    (lambda: F.conv_transpose2d(gradcore.randn(5, 5), gradcore.randn(5, 2, 3, 3)), RuntimeError, "3D .unbatched. or 4D"),
    (lambda: F.unfold(gradcore.randn(1, 3, 4, 4), 5), RuntimeError, "sliding blocks as .0, 0., but its components"),
    (lambda: F.unfold(gradcore.randn(3, 4), 2), RuntimeError, "Expected 3D or 4D"),
    (lambda: F.fold(gradcore.randn(1, 5, 9), (4, 4), 2), RuntimeError, "divisible by the product of kernel_size"),
    (lambda: F.fold(gradcore.randn(1, 8, 8), (4, 4), 2), RuntimeError, "sliding blocks 3 \\* 3 = 9, but got input.size"),
]


@pytest.mark.parametrize("i", range(len(TRANSPOSE_ERRORS)))
def test_transpose_unfold_fold_errors_like_pytorch(i):
    call, exc, match = TRANSPOSE_ERRORS[i]
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[1], CONFIGS[2], CONFIGS[7],
                                 ((5, 16, 20, 19), (32, 3, 3), 1, 1, 1, 2, True)],  # large enough for threads
                         ids=["plain", "grouped", "depthwise", "empty", "threaded"])
def test_image_parallel_kernel_matches_its_generic_twin(cfg, threads, monkeypatch):
    # The CPU runs conv2d's forward and backward image by image (cpu/conv.cpp); the op sequence in
    # ops/conv.cpp (batch im2col, batched GEMMs, col2im: what CUDA runs) is its slow twin.
    (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias = cfg
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // groups, kh, kw))
    b = rng.standard_normal(O) if bias else None
    res = []
    prev = gradcore.get_num_threads()
    gradcore.set_num_threads(threads)
    try:
        for generic in ("0", "1"):
            monkeypatch.setenv("GRADCORE_CONV_GENERIC", generic)
            ts = [gradcore.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if bias else ())]
            out = F.conv2d(ts[0], ts[1], ts[2] if bias else None, stride, padding, dilation, groups)
            (out * out).sum().backward()
            res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    finally:
        gradcore.set_num_threads(prev)
    for a, b_ in zip(*res):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("layer,args,shape", [
    ("Conv2d", (3, 4, 3), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, (3, 2)), (2, 3, 7, 6)),
    ("Conv1d", (3, 4, 5), (2, 3, 9)),
], ids=["2d", "2d_rect", "1d"])
@pytest.mark.parametrize("padding", [1, "same"])
def test_padding_modes_match_pytorch(layer, args, shape, mode, padding):
    torch = pytest.importorskip("torch")
    if padding == 1 and layer == "Conv2d" and args[2] == (3, 2):
        padding = (1, 2)
    kw = dict(padding=padding, padding_mode=mode, dilation=2 if padding == "same" else 1)
    theirs = getattr(torch.nn, layer)(*args, **kw).double()
    ours = getattr(nn, layer)(*args, **kw).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal(shape)
    res = []
    for m, mod in ((gradcore, ours), (torch, theirs)):
        t = m.tensor(x, requires_grad=True)
        out = mod(t)
        (out * out).sum().backward()
        res.append((out.detach().numpy(), t.grad.numpy(), mod.weight.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
