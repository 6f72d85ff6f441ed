"""The native layer_norm and rms_norm ops (csrc/ops/layer_norm.cpp) against PyTorch: values and
gradients of the input, weight and bias in float32 / float64 (row lengths that end in vector
tails and that pass the kernel's 1024-element blocks, non-contiguous inputs, no affine, several
threads), float64 finite differences, the 16-bit dtypes (against PyTorch and bit for bit against
the float32 kernel on widened values), every ISA level bit for bit, the composed slow twin, empty
inputs, the node names and the errors."""

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as GF
from helpers import assert_isa_levels_agree, gradcheck_fn
from nn_helpers import compare_with_torch, same_error

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
ROW_LENGTHS = [1, 7, 16, 17, 33, 128, 1031, 2500]


def _arrays(shape, nshape, affine, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(shape) * 3 + 1).astype(dtype)]
    if affine in ("weight", "both"):
        arrays.append(rng.standard_normal(nshape).astype(dtype))
    if affine == "both":
        arrays.append(rng.standard_normal(nshape).astype(dtype))
    return arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", ROW_LENGTHS)
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
def test_layer_norm_matches_torch(dtype, n, affine):
    arrays = _arrays((5, n), (n,), affine, dtype)
    compare_with_torch(lambda x, *wb: GF.layer_norm(x, (n,), *wb),
                       lambda x, *wb: TF.layer_norm(x, (n,), *wb), *arrays, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", ROW_LENGTHS)
@pytest.mark.parametrize("affine", ["none", "weight"])
def test_rms_norm_matches_torch(dtype, n, affine):
    arrays = _arrays((5, n), (n,), affine, dtype, seed=1)
    compare_with_torch(lambda x, *w: GF.rms_norm(x, (n,), *w, eps=1e-6),
                       lambda x, *w: TF.rms_norm(x, (n,), *w, eps=1e-6), *arrays, **TOL[dtype])


@pytest.mark.parametrize("threads", [1, 2])
def test_many_rows_across_threads(threads):
    old = gradcore.get_num_threads()
    gradcore.set_num_threads(threads)
    try:
        arrays = _arrays((4, 300, 96), (96,), "both", np.float32, seed=2)  # past the parallel grain
        compare_with_torch(lambda x, w, b: GF.layer_norm(x, (96,), w, b, eps=1e-3),
                           lambda x, w, b: TF.layer_norm(x, (96,), w, b, eps=1e-3), *arrays, rtol=1e-4, atol=1e-4)
        compare_with_torch(lambda x, w: GF.rms_norm(x, (96,), w), lambda x, w: TF.rms_norm(x, (96,), w),
                           *arrays[:2], rtol=1e-4, atol=1e-4)
    finally:
        gradcore.set_num_threads(old)


def test_several_normalized_dims_and_non_contiguous_input():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 5, 4)).astype(np.float32)
    w, b = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    gx, tx = gradcore.tensor(base, requires_grad=True), torch.tensor(base, requires_grad=True)
    gw, tw = gradcore.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    gb, tb = gradcore.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    go = GF.layer_norm(gx.transpose(0, 1), (6, 4), gw, gb)  # [5, 6, 4], not contiguous
    to = TF.layer_norm(tx.transpose(0, 1), (6, 4), tw, tb)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    gy = rng.standard_normal((5, 6, 4)).astype(np.float32)
    go.backward(gradcore.tensor(gy))
    to.backward(torch.tensor(gy))
    for g, t in ((gx, tx), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)
    g2 = GF.rms_norm(gx[:, ::2], (3, 4))  # a strided slice
    t2 = TF.rms_norm(tx[:, ::2], (3, 4))
    np.testing.assert_allclose(g2.detach().numpy(), t2.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", ["layer_norm", "rms_norm"])
def test_float64_finite_differences(fn):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 2, 5)), rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    if fn == "layer_norm":
        gradcheck_fn(lambda x, w, b: GF.layer_norm(x, (2, 5), w, b, eps=1e-3), x, w, b)
        gradcheck_fn(lambda x: GF.layer_norm(x, (5,)), x)
    else:
        gradcheck_fn(lambda x, w: GF.rms_norm(x, (2, 5), w, eps=1e-3), x, w)
        gradcheck_fn(lambda x: GF.rms_norm(x, (5,)), x)


def _composed_layer_norm(x, n, w, b, eps):
    dims = tuple(range(-n, 0))
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, correction=0, keepdim=True)
    return (x - mean) * (var + eps).rsqrt() * w + b


def _composed_rms_norm(x, n, w, eps):
    return x * ((x * x).mean(tuple(range(-n, 0)), keepdim=True) + eps).rsqrt() * w


def test_fused_kernels_match_the_composed_twin():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((7, 3, 45)) * 2 - 1, rng.standard_normal((3, 45)), rng.standard_normal((3, 45))
    gy = rng.standard_normal(x.shape)
    for fused, composed in ((lambda x, w, b: GF.layer_norm(x, (3, 45), w, b, eps=1e-4),
                             lambda x, w, b: _composed_layer_norm(x, 2, w, b, 1e-4)),
                            (lambda x, w, b: GF.rms_norm(x, (3, 45), w, eps=1e-4) + b,
                             lambda x, w, b: _composed_rms_norm(x, 2, w, 1e-4) + b)):
        results = []
        for f in (fused, composed):
            ts = [gradcore.tensor(a, requires_grad=True) for a in (x, w, b)]
            out = f(*ts)
            out.backward(gradcore.tensor(gy))
            results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
        for a, e in zip(*results):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)


HALF = {"bfloat16": (gradcore.bfloat16, torch.bfloat16), "float16": (gradcore.float16, torch.float16)}


@pytest.mark.parametrize("name", list(HALF))
@pytest.mark.parametrize("param_dtype", ["same", "float32"])
def test_half_dtypes(name, param_dtype):
    gd, td = HALF[name]
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 37)).astype(np.float32)
    w, b, gy = rng.standard_normal(37), rng.standard_normal(37), rng.standard_normal((9, 37))
    gp, tp = (gd, td) if param_dtype == "same" else (gradcore.float32, torch.float32)

    def run(widen):
        gradcore._C._force_half_widening(widen)
        try:
            gx = gradcore.tensor(x).to(gd).requires_grad_()
            gw = gradcore.tensor(w).to(gp).requires_grad_()
            gb = gradcore.tensor(b).to(gp).requires_grad_()
            out = GF.layer_norm(gx, (37,), gw, gb)
            out.backward(gradcore.tensor(gy).to(gd))
            rms = GF.rms_norm(gx, (37,), gw)
            return [t.detach().float().numpy() for t in (out, gx.grad, gw.grad, gb.grad, rms)], out, gw.grad
        finally:
            gradcore._C._force_half_widening(False)

    native, out, gw_grad = run(False)
    assert out.dtype == gd and gw_grad.dtype == gp
    for a, e in zip(native, run(True)[0]):  # the native 16-bit path is the float32 kernel on widened values
        np.testing.assert_array_equal(a, e)
    tx = torch.tensor(x).to(td).requires_grad_()
    tw = torch.tensor(w).to(tp).requires_grad_()
    tb = torch.tensor(b).to(tp).requires_grad_()
    to = TF.layer_norm(tx, (37,), tw, tb)
    to.backward(torch.tensor(gy).to(td))
    trms = TF.rms_norm(tx, (37,), tw)
    tol = dict(rtol=2e-2, atol=5e-2) if name == "bfloat16" else dict(rtol=5e-3, atol=1e-2)
    for a, t in zip(native, (to, tx.grad, tw.grad, tb.grad, trms)):
        np.testing.assert_allclose(a, t.detach().float().numpy(), **tol)


ISA_SCRIPT = """
import sys
import numpy as np
import gradcore as g
rng = np.random.default_rng(7)
outs = []
for n in (7, 128, 1031):
    x = g.tensor(rng.standard_normal((6, n)).astype(np.float32), requires_grad=True)
    w = g.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
    b = g.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
    y = g.nn.functional.layer_norm(x, (n,), w, b) + g.nn.functional.rms_norm(x, (n,), w)
    y.backward(g.tensor(rng.standard_normal((6, n)).astype(np.float32)))
    outs += [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
np.savez(sys.argv[1], *outs)
"""


def test_every_isa_level_gives_the_same_bits(tmp_path):
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path, equal_nan=False)


def test_empty_inputs():
    for shape, nshape in (((0, 4), (4,)), ((3, 0), (0,))):
        gx, tx = gradcore.zeros(shape, requires_grad=True), torch.zeros(shape, requires_grad=True)
        gw, tw = gradcore.ones(nshape, requires_grad=True), torch.ones(nshape, requires_grad=True)
        gb, tb = gradcore.zeros(nshape, requires_grad=True), torch.zeros(nshape, requires_grad=True)
        go, to = GF.layer_norm(gx, nshape, gw, gb), TF.layer_norm(tx, nshape, tw, tb)
        assert tuple(go.shape) == tuple(to.shape)
        go.sum().backward()
        to.sum().backward()
        for g, t in ((gx, tx), (gw, tw), (gb, tb)):
            np.testing.assert_array_equal(g.grad.numpy(), t.grad.numpy())


def test_node_names_and_no_grad():
    x = gradcore.randn(2, 3, requires_grad=True)
    assert GF.layer_norm(x, (3,)).grad_fn.name() == "NativeLayerNormBackward0"
    assert GF.rms_norm(x, (3,)).grad_fn.name() == "FusedRmsNormBackward0"
    with gradcore.no_grad():
        assert GF.layer_norm(x, (3,)).grad_fn is None
    w = gradcore.ones(3, requires_grad=True)
    GF.layer_norm(x.detach(), (3,), w).sum().backward()  # only the weight wants a gradient
    assert w.grad is not None and tuple(w.grad.shape) == (3,)


@pytest.mark.parametrize("fn", ["layer_norm", "rms_norm"])
def test_errors(fn):
    gf, tf = getattr(GF, fn), getattr(TF, fn)
    gx, tx = gradcore.zeros(5, 3), torch.zeros(5, 3)
    for args in (((4,),), ((3,), "w4"), ((5, 3, 1),), ((),), ([2, 5, 3],), (3,)):
        gargs = tuple(gradcore.ones(4) if a == "w4" else a for a in args)
        targs = tuple(torch.ones(4) if a == "w4" else a for a in args)
        ge, te = same_error(lambda: gf(gx, *gargs), lambda: tf(tx, *targs))
        if isinstance(ge, RuntimeError):
            assert str(ge) == str(te)
    same_error(lambda: gf(gradcore.zeros(5, 3, dtype=gradcore.int64), (3,)),
                lambda: tf(torch.zeros(5, 3, dtype=torch.int64), (3,)))
    same_error(lambda: gf([1.0, 2.0], (2,)), lambda: tf([1.0, 2.0], (2,)))


def test_layer_norm_mixed_dtype_errors():
    for xd, wd in (("float32", "float64"), ("bfloat16", "float16"), ("float64", "float32")):
        ge, te = same_error(
            lambda: GF.layer_norm(gradcore.zeros(2, 3, dtype=getattr(gradcore, xd)), (3,),
                                  gradcore.ones(3, dtype=getattr(gradcore, wd))),
            lambda: TF.layer_norm(torch.zeros(2, 3, dtype=getattr(torch, xd)), (3,),
                                  torch.ones(3, dtype=getattr(torch, wd))))
        assert "mixed dtype" in str(ge)
