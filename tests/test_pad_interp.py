"""F.pad and F.interpolate (nn/functional.py: index_select / cat composites) and their layers
(nn/modules/padding.py, upsampling.py): values and gradients against PyTorch where it is importable,
exact nearest-neighbour indices over a sweep of sizes and scales, float64 gradchecks, hand-worked
references, PyTorch's errors, reprs, and the same computations on a GPU against the CPU."""
import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from helpers import gradcheck_fn

rng = np.random.default_rng(2025)
cuda = pytest.mark.cuda
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def _run(m, fn, x, w, device="cpu"):
    """fn(m, x) and the gradient of sum(fn(m, x) * w) with respect to x."""
    kw = {"device": device} if m is gradcore else {}
    t = m.tensor(x, requires_grad=True, **kw)
    out = fn(m, t)
    (out * m.tensor(w, **kw)).sum().backward()
    return out.detach().cpu().numpy(), t.grad.cpu().numpy()


def _check_vs_torch(fn, shape, dtype):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(dtype)
    ref = fn(torch, torch.tensor(x))
    w = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    (out, grad), (t_out, t_grad) = _run(gradcore, fn, x, w), _run(torch, fn, x, w)
    assert out.shape == t_out.shape and out.dtype == t_out.dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(out, t_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, t_grad, rtol=tol, atol=tol)


# ---- pad ----

# (input shape, pad); every mode that PyTorch accepts for the pair runs against it.
PAD_CASES = [
    ((2, 3, 5), (1, 2)),
    ((2, 3, 5), (4, 4)),  # reflect's largest pad: size - 1
    ((2, 3, 5), (-1, 3)),  # a crop on one side, a pad on the other
    ((2, 3, 5), (-2, -1)),
    ((3, 5), (2, 0)),  # unbatched
    ((2, 3, 4, 5), (1, 2, 3, 0)),
    ((3, 4, 5), (0, 3, -1, 2)),
    ((2, 3, 4, 5), (4, 4, 3, 3)),
    ((1, 2, 3, 4, 5), (1, 1, 2, 2, 1, 0)),
    ((2, 3, 4, 5, 6), (1, 0, 2, 1, -1, 3)),
    ((0, 3, 5), (1, 1)),  # empty batch
    ((2, 3, 4, 5), (-1, -1, -1, -3)),  # an empty output dim beside a non-empty one
    ((2, 3, 4, 5), (1, 1)),  # constant only: any number of padded dims
    ((2, 3, 4, 5), (0, 0, 0, 0, 0, 0, 2, 1)),
    ((2, 3, 4, 5), (-5, 0, 1, 1)),
    ((4,), (2, 3)),
    ((2, 3, 5), (-3, 2)),  # circular wraps what the crop keeps
]
PAD_MODES = ["constant", "reflect", "replicate", "circular"]


def _pad_fn(pads, mode, value=None):
    return lambda m, t: m.nn.functional.pad(t, pads, mode=mode, value=value)


def _torch_accepts(fn, shape):
    torch = pytest.importorskip("torch")
    try:
        fn(torch, torch.zeros(shape))
    except (RuntimeError, NotImplementedError):
        return False
    return True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("shape,pads", PAD_CASES, ids=[f"pad{i}" for i in range(len(PAD_CASES))])
def test_pad_matches_pytorch(shape, pads, mode, dtype):
    fn = _pad_fn(pads, mode, 2.5 if mode == "constant" else None)
    if not _torch_accepts(fn, shape):
        import torch
        with pytest.raises((RuntimeError, NotImplementedError)) as info:
            fn(gradcore, gradcore.zeros(shape))
        with pytest.raises(info.type):  # the same exception type as PyTorch
            fn(torch, torch.zeros(shape))
        return
    _check_vs_torch(fn, shape, dtype)


def test_pad_hand_worked():
    x = gradcore.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    assert F.pad(x, (2, 1), mode="reflect").tolist() == [[[3, 2, 1, 2, 3, 4, 3]]]
    assert F.pad(x, (2, 1), mode="replicate").tolist() == [[[1, 1, 1, 2, 3, 4, 4]]]
    assert F.pad(x, (2, 1), mode="circular").tolist() == [[[3, 4, 1, 2, 3, 4, 1]]]
    assert F.pad(x, (-1, 2), mode="circular").tolist() == [[[2, 3, 4, 2, 3]]]  # wraps the kept [2, 3, 4]
    assert F.pad(x, (1, -2), value=9.0).tolist() == [[[9, 1, 2]]]
    assert F.pad(x, (-1, -1)).tolist() == [[[2, 3]]]
    img = gradcore.arange(6.0).reshape(1, 2, 3)
    assert F.pad(img, (1, 0, 0, 1), mode="reflect").tolist() == [[[1, 0, 1, 2], [4, 3, 4, 5], [1, 0, 1, 2]]]
    assert F.pad(img, (0, 0, 1, 0)).tolist() == [[[0, 0, 0], [0, 1, 2], [3, 4, 5]]]
    # The gradient of a replicated edge collects every copy of it.
    t = gradcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    F.pad(t.reshape(1, 3), (2, 3), mode="replicate").sum().backward()
    assert t.grad.tolist() == [3, 1, 4]
    # Integer and bool tensors pad with the value cast to their dtype, as PyTorch does.
    ints = F.pad(gradcore.tensor([[1, 2]]), (1, 1), value=1.7)
    assert ints.dtype == gradcore.int64 and ints.tolist() == [[1, 1, 2, 1]]
    assert F.pad(gradcore.tensor([True]), (1, 0), value=0).tolist() == [False, True]
    # The result is a new tensor even when nothing is padded.
    same = F.pad(x, (0, 0))
    same.mul_(0)
    assert x.tolist() == [[[1, 2, 3, 4]]]


@pytest.mark.parametrize("mode,pads,shape", [
    ("reflect", (2, 1, 1, 2), (1, 2, 4, 3)),
    ("replicate", (1, 3, -1, 2), (2, 1, 4, 3)),
    ("circular", (2, 1, 0, 3), (1, 2, 3, 4)),
    ("constant", (1, -1, 2, 0, 1, 1), (2, 2, 3, 3)),
    ("reflect", (1, 2, 2, 1, 1, 0), (1, 1, 2, 3, 3)),
])
def test_pad_gradcheck_float64(mode, pads, shape):
    gradcheck_fn(lambda t: F.pad(t, pads, mode=mode), rng.standard_normal(shape))


PAD_ERRORS = [
    (lambda x: F.pad(x, (1,)), RuntimeError, "Padding length must be divisible by 2"),
    (lambda x: F.pad(x, (1,) * 10), RuntimeError, "padding length 10 and input of dimension 4"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), NotImplementedError, "Unrecognised padding mode wrap"),
    (lambda x: F.pad(x, (1, 1), mode="reflect"), NotImplementedError, "Padding size 2 is not supported for 4D input"),
    (lambda x: F.pad(x[0], (1, 1) * 3, mode="replicate"), NotImplementedError, "size 6 is not supported for 3D input"),
    (lambda x: F.pad(x[0, 0, 0], (1, 1), mode="circular"), NotImplementedError, "not supported for 1D input"),
    (lambda x: F.pad(x, (5, 0, 1, 1), mode="reflect"), RuntimeError, r"padding \(5, 0\) at dimension 3 of input \[2, 3, 4, 5\]"),
    (lambda x: F.pad(x, (1, 1, 1, 4), mode="reflect"), RuntimeError, r"padding \(1, 4\) at dimension 2"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=0.0), RuntimeError, "doesn't take in value argument"),
    (lambda x: F.pad(x[0], (-3, -3, 0, 0), mode="replicate"), RuntimeError, r"input \(H: 4, W: 5\) is too small"),
    (lambda x: F.pad(x[0, 0], (-5, 0), mode="reflect"), RuntimeError, r"input \(W: 5\) is too small. Calculated output W: 0"),
    (lambda x: F.pad(x[0], (6, 0), mode="circular"), RuntimeError, "wrapping around more than once"),
    (lambda x: F.pad(x, (-3, -3, 0, 0), mode="circular"), RuntimeError, "resulting in an empty dimension"),
    (lambda x: F.pad(x[:, :0], (1, 1, 1, 1), mode="reflect"), RuntimeError, "other non-zero dimensions"),
    (lambda x: F.pad(x, (-3, -3)), RuntimeError, "crops 6 elements from dimension 3"),
    (lambda x: F.pad(x, (1.0, 1)), TypeError, "must be tuple of ints, but found element of type float at pos 0"),
    (lambda x: F.pad(x, gradcore.tensor([1, 1])), TypeError, "must be tuple of ints, not Tensor"),
    (lambda x: F.pad([1.0, 2.0], (1, 1)), TypeError, "must be Tensor, not list"),
]


@pytest.mark.parametrize("call,exc,match", PAD_ERRORS, ids=[f"err{i}" for i in range(len(PAD_ERRORS))])
def test_pad_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(gradcore.zeros(2, 3, 4, 5))


PAD_LAYERS = [
    ("ZeroPad1d", (2,)), ("ZeroPad2d", ((1, 2, 0, 3),)), ("ZeroPad3d", (1,)),
    ("ConstantPad1d", ((1, 3), -1.5)), ("ConstantPad2d", (2, 3.0)), ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 0.5)),
    ("ReflectionPad1d", (2,)), ("ReflectionPad2d", ((1, 2, 2, 0),)), ("ReflectionPad3d", (1,)),
    ("ReplicationPad1d", ([3, 1],)), ("ReplicationPad2d", (2,)), ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),)),
    ("CircularPad1d", (2,)), ("CircularPad2d", ((1, 0, 2, 3),)), ("CircularPad3d", (1,)),
]


@pytest.mark.parametrize("name,args", PAD_LAYERS, ids=[c[0] for c in PAD_LAYERS])
def test_pad_layers_match_pytorch(name, args):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding and list(ours.state_dict()) == []
    dims = int(name[-2])
    x = rng.standard_normal((2, 3) + (4,) * dims)
    np.testing.assert_array_equal(ours(gradcore.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    if name.startswith("Circular"):
        with pytest.raises(ValueError, match=f"expected {dims + 1}D or {dims + 2}D input \\(got {dims}D input\\)"):
            ours(gradcore.zeros((4,) * dims))


# ---- interpolate ----

# (mode, input shape, size or scale arguments)
INTERP_CASES = [
    ("nearest", (2, 3, 7), dict(size=12)),
    ("nearest", (2, 3, 7), dict(size=3)),
    ("nearest", (2, 3, 5, 6), dict(size=(9, 4))),
    ("nearest", (2, 3, 5, 6), dict(scale_factor=(1.7, 0.6))),
    ("nearest", (2, 3, 5, 6), dict(scale_factor=2)),
    ("nearest", (1, 2, 3, 4, 5), dict(size=(5, 3, 7))),
    ("nearest-exact", (2, 3, 7), dict(scale_factor=1.3)),
    ("nearest-exact", (2, 3, 5, 6), dict(size=(11, 3))),
    ("nearest-exact", (1, 2, 3, 4, 5), dict(scale_factor=(2.5, 1.0, 0.5))),
    ("linear", (2, 3, 7), dict(size=13)),
    ("linear", (2, 3, 7), dict(size=4)),
    ("linear", (2, 3, 7), dict(scale_factor=2.3)),
    ("linear", (2, 3, 7), dict(scale_factor=1.1)),  # same size: PyTorch copies, whatever the scale
    ("linear", (3, 1, 1), dict(size=5)),
    ("bilinear", (2, 3, 5, 6), dict(size=(9, 4))),
    ("bilinear", (2, 3, 5, 6), dict(size=(1, 11))),
    ("bilinear", (2, 3, 5, 6), dict(scale_factor=(1.7, 0.6))),
    ("bilinear", (2, 3, 5, 6), dict(scale_factor=(1.7, 0.6), recompute_scale_factor=True)),
    ("bilinear", (0, 3, 5, 6), dict(size=8)),
    ("bicubic", (2, 3, 5, 6), dict(size=(9, 4))),
    ("bicubic", (2, 3, 5, 6), dict(scale_factor=0.45)),
    ("trilinear", (1, 2, 3, 4, 5), dict(size=(5, 3, 7))),
    ("trilinear", (1, 2, 3, 4, 5), dict(scale_factor=1.5)),
    ("area", (2, 3, 7), dict(size=4)),
    ("area", (2, 3, 5, 6), dict(scale_factor=0.5)),
]


# align_corners is for the interpolating modes only; None means False there.
INTERP_PARAMS = [(mode, shape, kw, ac) for mode, shape, kw in INTERP_CASES
                 for ac in ((None,) if mode in ("nearest", "nearest-exact", "area") else (None, True))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,kw,align_corners", INTERP_PARAMS,
                         ids=[f"{p[0]}{i}" for i, p in enumerate(INTERP_PARAMS)])
def test_interpolate_matches_pytorch(mode, shape, kw, align_corners, dtype):
    _check_vs_torch(lambda m, t: m.nn.functional.interpolate(t, mode=mode, align_corners=align_corners, **kw),
                    shape, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rank", [3, 4, 5])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_match_pytorch_exactly(mode, rank, dtype):
    """PyTorch's index rules differ by rank and dtype and sit on float ties (e.g. 41 * (4 / 82)); the
    input holds its own positions, so the output is the index table."""
    torch = pytest.importorskip("torch")
    cases = [(i, o, None) for i in range(1, 24) for o in range(1, 50)]
    cases += [(i, int(i * s), s) for i in range(1, 24) for s in (0.3, 0.7, 1.1, 1.5, 2.0, 2.1, 3.3, 1 / 3, 1 / 7)]
    for i, o, s in cases:
        if o < 1:
            continue
        spatial = [1] * (rank - 3) + [i]
        x = np.arange(i, dtype=dtype).reshape([1, 1] + spatial)
        kw = dict(size=spatial[:-1] + [o]) if s is None else dict(scale_factor=[1.0] * (rank - 3) + [s])
        ours = F.interpolate(gradcore.tensor(x), mode=mode, **kw).numpy().reshape(-1)
        theirs = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kw).numpy().reshape(-1)
        np.testing.assert_array_equal(ours, theirs, err_msg=f"in={i} out={o} scale={s}")


@pytest.mark.parametrize("align_corners", [False, True])
def test_linear_modes_over_a_size_sweep_match_pytorch(align_corners):
    torch = pytest.importorskip("torch")
    for i in range(1, 9):
        for o in range(1, 14):
            x = rng.standard_normal((1, 2, i, i + 2))
            for mode in ("bilinear", "bicubic"):
                kw = dict(size=(o, o + 1), mode=mode, align_corners=align_corners)
                ours = F.interpolate(gradcore.tensor(x), **kw).numpy()
                theirs = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
                np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10, err_msg=f"{mode} {i}->{o}")


def test_interpolate_hand_worked():
    x = gradcore.tensor([[[0.0, 10.0, 20.0]]])
    assert F.interpolate(x, size=6).tolist() == [[[0, 0, 10, 10, 20, 20]]]
    assert F.interpolate(x, size=5, mode="linear", align_corners=True).tolist() == [[[0, 5, 10, 15, 20]]]
    # align_corners=False: src = (dst + 0.5) * 3/6 - 0.5, clamped at 0 -> 0, 0.25, 0.75, 1.25, 1.75, 2.25
    np.testing.assert_allclose(F.interpolate(x, size=6, mode="linear").numpy(), [[[0, 2.5, 7.5, 12.5, 17.5, 20]]])
    assert F.interpolate(x, size=2, mode="nearest-exact").tolist() == [[[0, 20]]]
    assert F.interpolate(x, size=2, mode="nearest").tolist() == [[[0, 10]]]
    img = gradcore.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_allclose(F.interpolate(img, size=3, mode="bilinear", align_corners=True).numpy(),
                               [[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]])
    # Each output's gradient goes to its neighbours with the interpolation weights.
    t = gradcore.tensor([[[0.0, 1.0]]], requires_grad=True)
    F.interpolate(t, size=3, mode="linear", align_corners=True).sum().backward()
    assert t.grad.tolist() == [[[1.5, 1.5]]]
    same = F.interpolate(x, size=3, mode="linear")  # a new tensor even when nothing changes
    same.mul_(0)
    assert x.tolist() == [[[0, 10, 20]]]


@pytest.mark.parametrize("mode,kw", [("bilinear", dict(size=(4, 3))), ("bicubic", dict(scale_factor=1.6)),
                                     ("linear", dict(size=7, align_corners=True)),
                                     ("trilinear", dict(size=(3, 2, 4))), ("nearest-exact", dict(size=(2, 5)))])
def test_interpolate_gradcheck_float64(mode, kw):
    shape = {"linear": (1, 2, 4), "trilinear": (1, 1, 2, 3, 2)}.get(mode, (1, 2, 3, 3))
    gradcheck_fn(lambda t: F.interpolate(t, mode=mode, **kw), rng.standard_normal(shape))


INTERP_ERRORS = [
    (dict(size=3, scale_factor=2), ValueError, "only one of size or scale_factor should be defined"),
    (dict(), ValueError, "either size or scale_factor should be defined"),
    (dict(size=3, align_corners=True), ValueError, "align_corners option can only be set with the interpolating"),
    (dict(size=3, mode="linear"), NotImplementedError, "Got 4D input, but linear mode needs 3D input"),
    (dict(size=3, mode="trilinear"), NotImplementedError, "Got 4D input, but trilinear mode needs 5D input"),
    (dict(size=3, mode="wave"), NotImplementedError, r"Only 3D, 4D and 5D input Tensors supported \(got 4D\)"),
    (dict(size=(3,)), ValueError, "Input and output must have the same number of spatial dimensions"),
    (dict(size=(3, 4.0)), TypeError, "expected size to be one of int or Tuple"),
    (dict(scale_factor=(2, 2, 2)), ValueError, "Input and scale_factor must have the same number of spatial"),
    (dict(size=3, recompute_scale_factor=True), ValueError, "recompute_scale_factor is not meaningful"),
    (dict(size=(0, 4)), RuntimeError, r"sizes should be greater than 0, but got input \(H: 5, W: 7\) output \(H: 0, W: 4\)"),
    (dict(scale_factor=0.1, mode="bilinear"), RuntimeError, r"output \(H: 0, W: 0\)"),
    (dict(size=3, antialias=True), ValueError, "Anti-alias option is restricted to bilinear, bicubic, and lanczos"),
    (dict(size=3, mode="bilinear", antialias=True), NotImplementedError, "antialias=True is not implemented"),
    (dict(size=3, mode="lanczos"), ValueError, "Lanczos mode requires antialias=True"),
]


@pytest.mark.parametrize("kw,exc,match", INTERP_ERRORS, ids=[f"err{i}" for i in range(len(INTERP_ERRORS))])
def test_interpolate_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        F.interpolate(gradcore.zeros(2, 3, 5, 7), **kw)


def test_interpolate_errors_on_shapes_and_dtypes():
    with pytest.raises(NotImplementedError, match=r"\(got 2D\) for the modes"):
        F.interpolate(gradcore.zeros(3, 4), size=2)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D input"):
        F.interpolate(gradcore.zeros(1, 3, 4), size=2, mode="bilinear")
    with pytest.raises(RuntimeError, match=r"Non-empty 4D data tensor expected but got a tensor with sizes \[2, 0, 4, 5\]"):
        F.interpolate(gradcore.zeros(2, 0, 4, 5), size=3, mode="bilinear")
    with pytest.raises(NotImplementedError, match="needs a floating-point input"):
        F.interpolate(gradcore.zeros(1, 1, 4, dtype=gradcore.int64), size=3, mode="linear")
    with pytest.raises(NotImplementedError, match="5D input in mode='area' is not implemented"):
        F.interpolate(gradcore.zeros(1, 1, 2, 2, 2), size=1, mode="area")
    ints = F.interpolate(gradcore.tensor([[[1, 2]]]), scale_factor=2)  # nearest only reads: any dtype
    assert ints.dtype == gradcore.int64 and ints.tolist() == [[[1, 1, 2, 2]]]


UPSAMPLE_LAYERS = [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=(3, 8), mode="bilinear")),
    ("Upsample", dict(scale_factor=(2, 1.5), mode="bicubic", align_corners=True)),
    ("Upsample", dict(size=7, mode="nearest-exact")),
    ("UpsamplingNearest2d", dict(scale_factor=3)),
    ("UpsamplingNearest2d", dict(size=(2, 9))),
    ("UpsamplingBilinear2d", dict(size=5)),
    ("UpsamplingBilinear2d", dict(scale_factor=2.5)),
]


@pytest.mark.parametrize("name,kw", UPSAMPLE_LAYERS, ids=[f"{c[0]}{i}" for i, c in enumerate(UPSAMPLE_LAYERS)])
def test_upsample_layers_match_pytorch(name, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(ours) == repr(theirs)
    assert (ours.size, ours.scale_factor, ours.mode, ours.align_corners) == \
           (theirs.size, theirs.scale_factor, theirs.mode, theirs.align_corners)
    x = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(ours(gradcore.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-10, atol=1e-10)


def test_upsample_layer_without_torch():
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')" and up.recompute_scale_factor is None
    x = gradcore.randn(1, 2, 3, 3)
    np.testing.assert_array_equal(up(x).numpy(), F.interpolate(x, scale_factor=2.0, mode="bilinear").numpy())
    assert repr(nn.UpsamplingBilinear2d(size=5)) == "UpsamplingBilinear2d(size=5, mode='bilinear')"
    assert nn.UpsamplingBilinear2d(size=5).align_corners is True
    with pytest.raises(ValueError, match="either size or scale_factor"):
        nn.Upsample(scale_factor=0)(x)  # a falsy scale_factor is dropped, as in PyTorch


# ---- on a GPU, against the CPU ----

GPU_CASES = [
    (_pad_fn((3, 2, 1, 4), "reflect"), (2, 3, 33, 40)),
    (_pad_fn((5, 0, -1, 2), "replicate"), (3, 4, 17, 9)),
    (_pad_fn((2, 3, 1, 1), "circular"), (2, 3, 8, 8)),
    (_pad_fn((1, -2, 0, 3, 1, 1), "constant", 0.5), (2, 3, 6, 7)),
    (lambda m, t: m.nn.functional.interpolate(t, size=(37, 19), mode="bilinear"), (2, 3, 16, 24)),
    (lambda m, t: m.nn.functional.interpolate(t, scale_factor=1.7, mode="bicubic", align_corners=True), (2, 2, 9, 11)),
    (lambda m, t: m.nn.functional.interpolate(t, scale_factor=2, mode="nearest"), (2, 3, 16, 16)),
    (lambda m, t: m.nn.functional.interpolate(t, size=(5, 9, 3), mode="trilinear"), (1, 2, 4, 6, 5)),
    (lambda m, t: m.nn.functional.interpolate(t, size=50, mode="nearest-exact"), (2, 3, 21)),
]


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(GPU_CASES)))
def test_cuda_matches_cpu(case, dtype):
    fn, shape = GPU_CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    ref = fn(gradcore, gradcore.tensor(x))
    w = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    (out, grad), (c_out, c_grad) = _run(gradcore, fn, x, w, "cuda"), _run(gradcore, fn, x, w, "cpu")
    tol = 2e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, c_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, c_grad, rtol=tol, atol=tol)


@cuda
def test_cuda_layers_keep_the_device():
    x = gradcore.randn(2, 3, 8, 8, device="cuda")
    for layer in (nn.ReflectionPad2d(2), nn.ZeroPad2d((1, 0, 2, 3)), nn.Upsample(scale_factor=2, mode="bilinear")):
        assert layer(x).device.type == "cuda"
