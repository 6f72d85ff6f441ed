"""The fused scaled_dot_product_attention kernel (csrc/cpu/attention.cpp) against PyTorch 2.13 and
against its slow twin, the composition of matmul/softmax/where (_composed_attention): values and
gradients over shapes that cross the kernel's 16-row and 64-key blocks, masks, causal, scale,
dropout determinism and keep rate, float64 gradcheck, 16-bit dtypes, errors, and the same bits from
the kernel's copy for every ISA level."""
import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as GF
from gradcore.autograd import gradcheck
from gradcore.nn._functional_attention import _composed_attention
from helpers import assert_close, assert_isa_levels_agree
from nn_helpers import compare_with_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}

# (q, k, v) shapes: L != S, E != Ev, odd sizes, sizes across the 16-row / 64-key blocks, 3-D, 4-D,
# and head dims that leave every remainder of the GEMM's 4-row tiles and 1- to 4-vector strips at
# 2, 4, 8 and 16 lanes (E = 50 = 3 * 16 + 2, Ev = 37 = 2 * 16 + 5).
SHAPES = [((1, 1, 1), (1, 1, 1), (1, 1, 1)),
          ((2, 5, 3), (2, 7, 3), (2, 7, 4)),
          ((2, 33, 8), (2, 65, 8), (2, 65, 5)),
          ((2, 3, 70, 16), (2, 3, 130, 16), (2, 3, 130, 9)),
          ((1, 2, 64, 32), (1, 2, 64, 32), (1, 2, 64, 32)),
          ((1, 2, 97, 50), (1, 2, 131, 50), (1, 2, 131, 37))]


def _qkv(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("causal,scale", [(False, None), (True, None), (False, 0.7), (True, 0.2)])
def test_values_and_grads_vs_torch(dtype, shapes, causal, scale):
    compare_with_torch(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale),
                       lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale),
                       *_qkv(shapes, dtype), **TOL[dtype])


@pytest.mark.parametrize("mshape", [(70, 130), (3, 70, 130), (2, 1, 70, 130), (2, 3, 1, 130), (1, 130), (70, 1)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_broadcast_masks_vs_torch(mshape, kind):
    shapes = SHAPES[3]
    rng = np.random.default_rng(3)
    if kind == "bool":
        mask = rng.random(mshape) > 0.3
        mask[..., 0] = True
    else:
        mask = rng.standard_normal(mshape)
        mask[rng.random(mshape) > 0.8] = -np.inf
        mask[..., 0] = 0.0
    compare_with_torch(lambda q, k, v, m: GF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                       lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                       *_qkv(shapes, np.float64), mask, grads=[True, True, True, False], **TOL[np.float64])


def test_fully_masked_rows_give_zero_like_torch():
    q, k, v = _qkv(SHAPES[2], np.float64)
    mask = np.ones((33, 65), bool)
    mask[[0, 5, 32]] = False
    go, _ = compare_with_torch(lambda q, k, v, m: GF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                               lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                               q, k, v, mask, grads=[True, True, True, False], **TOL[np.float64])
    assert np.all(go.detach().numpy()[:, [0, 5, 32]] == 0)


@pytest.mark.parametrize("shapes", SHAPES[1:4])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_composed_twin(shapes, causal):
    arrays = _qkv(shapes, np.float64, seed=5)
    outs, grads = [], []
    for fn in (GF.scaled_dot_product_attention, _composed_attention):
        ts = [gradcore.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*ts, None, 0.0, causal, None) if fn is _composed_attention else fn(*ts, is_causal=causal)
        (out * out).sum().backward()
        outs.append(out.detach().numpy())
        grads.append([t.grad.numpy() for t in ts])
    assert_close(outs[0], outs[1], rtol=1e-11, atol=1e-11)
    for a, b in zip(*grads):
        assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_grad_node_and_float_mask_requiring_grad():
    q, k, v = (gradcore.tensor(a, requires_grad=True) for a in _qkv(SHAPES[1], np.float64))
    assert GF.scaled_dot_product_attention(q, k, v).grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    # a mask that requires grad takes the composed path, which gives its gradient
    m = np.random.default_rng(1).standard_normal((5, 7))
    gm, tm = gradcore.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True)
    GF.scaled_dot_product_attention(q, k, v, attn_mask=gm).sum().backward()
    tq, tk, tv = (torch.tensor(t.detach().numpy()) for t in (q, k, v))
    TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm).sum().backward()
    assert_close(gm.grad, tm.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("use_mask", [False, True])
def test_gradcheck_float64(causal, use_mask):
    rng = np.random.default_rng(7)
    q, k, v = (gradcore.tensor(a, requires_grad=True) for a in _qkv(((2, 5, 3), (2, 6, 3), (2, 6, 4)), np.float64))
    mask = gradcore.tensor(rng.random((5, 6)) > 0.3) if use_mask and not causal else None
    assert gradcheck(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal),
                     (q, k, v))


def test_gradcheck_with_dropout():
    q, k, v = (gradcore.tensor(a, requires_grad=True) for a in _qkv(((1, 4, 3), (1, 6, 3), (1, 6, 2)), np.float64))

    def fn(q, k, v):
        gradcore.manual_seed(11)   # the same dropout mask at every evaluation
        return GF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert gradcheck(fn, (q, k, v))


def test_dropout_determinism_and_keep_rate():
    q, k, v = _qkv(((2, 40, 8), (2, 50, 8), (2, 50, 50)), np.float32, seed=2)
    v = np.tile(np.eye(50, dtype=np.float32), (2, 1, 1))   # out = the dropped weights themselves
    qt, kt, vt = (gradcore.tensor(a) for a in (q, k, v))
    gradcore.manual_seed(123)
    a = GF.scaled_dot_product_attention(qt, kt, vt, dropout_p=0.25).numpy()
    b = GF.scaled_dot_product_attention(qt, kt, vt, dropout_p=0.25).numpy()
    gradcore.manual_seed(123)
    c = GF.scaled_dot_product_attention(qt, kt, vt, dropout_p=0.25).numpy()
    assert np.array_equal(a, c) and not np.array_equal(a, b)
    weights = GF.scaled_dot_product_attention(qt, kt, vt).numpy()
    kept = a != 0
    assert abs(kept.mean() - 0.75) < 0.02
    assert_close(a[kept], weights[kept] / 0.75, rtol=1e-5, atol=1e-7)
    assert np.all(GF.scaled_dot_product_attention(qt, kt, vt, dropout_p=1.0).numpy() == 0)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_16bit_computes_in_float32(dtype):
    arrays = _qkv(SHAPES[3], np.float32, seed=4)
    gd, td = getattr(gradcore, dtype), getattr(torch, dtype)
    gs = [gradcore.tensor(a).to(gd).requires_grad_() for a in arrays]
    ts = [torch.tensor(a).to(td).requires_grad_() for a in arrays]
    go = GF.scaled_dot_product_attention(*gs, is_causal=True)
    to = TF.scaled_dot_product_attention(*ts, is_causal=True)
    assert go.dtype == gd
    tol = dict(rtol=2e-2, atol=2e-2)
    assert_close(go.float(), to.float().detach().numpy(), **tol)
    go.float().sum().backward()
    to.float().sum().backward()
    for g, t in zip(gs, ts):
        assert_close(g.grad.float(), t.grad.float().numpy(), **tol)


def test_gqa_and_broadcast_batch_vs_torch():
    arrays = _qkv(((2, 4, 9, 8), (2, 2, 11, 8), (2, 2, 11, 5)), np.float64, seed=9)
    compare_with_torch(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True),
                       lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True),
                       *arrays, **TOL[np.float64])
    arrays = _qkv(((3, 1, 9, 8), (1, 2, 11, 8), (1, 2, 11, 5)), np.float64, seed=9)
    compare_with_torch(GF.scaled_dot_product_attention, TF.scaled_dot_product_attention, *arrays, **TOL[np.float64])


def test_errors():
    q, k, v = (gradcore.tensor(a) for a in _qkv(SHAPES[1], np.float32))
    with pytest.raises(RuntimeError, match="is_causal"):
        GF.scaled_dot_product_attention(q, k, v, attn_mask=gradcore.ones(5, 7, dtype=gradcore.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        GF.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(RuntimeError):   # key's head dim differs from query's
        GF.scaled_dot_product_attention(q, gradcore.randn(2, 7, 4), v)
    with pytest.raises(RuntimeError):   # value's length differs from key's
        GF.scaled_dot_product_attention(q, k, gradcore.randn(2, 6, 4))
    with pytest.raises(RuntimeError):   # a mask that does not broadcast to (2, 5, 7)
        GF.scaled_dot_product_attention(q, k, v, attn_mask=gradcore.zeros(4, 7))
    with pytest.raises(RuntimeError):
        GF.scaled_dot_product_attention(q[0, 0], k, v)
    with pytest.raises(TypeError):
        GF.scaled_dot_product_attention(q, k, None)
    with pytest.raises(RuntimeError):
        gradcore._C.functions._fused_sdpa(q, k, v, gradcore.zeros(5, 7, dtype=gradcore.float64))


ISA_SCRIPT = r"""
import sys
import numpy as np
import gradcore as g
import gradcore.nn.functional as F
rng = np.random.default_rng(12)
res = []
for dtype in (g.float32, g.float64):
    for causal, mask, p in ((False, None, 0.0), (True, None, 0.0), (False, rng.standard_normal((97, 131)), 0.0),
                            (False, None, 0.2)):
        q, k, v = (g.tensor(rng.standard_normal(s), dtype=dtype).requires_grad_()
                   for s in ((2, 97, 50), (2, 131, 50), (2, 131, 37)))
        m = None if mask is None else g.tensor(mask, dtype=dtype)
        g.manual_seed(5)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p, is_causal=causal)
        (out * out).sum().backward()
        res += [out.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()]
np.savez(sys.argv[1], *res)
"""


def test_every_isa_level_gives_the_same_bits(tmp_path):
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path)


def test_threads_split_batch_entries_and_give_the_same_bits():
    arrays = _qkv(((4, 2, 97, 50), (4, 2, 131, 50), (4, 2, 131, 37)), np.float32, seed=13)
    w = gradcore.tensor(np.random.default_rng(14).standard_normal((4, 2, 97, 37)).astype(np.float32))
    old, res = gradcore.get_num_threads(), []
    try:
        for n in (1, 2):
            gradcore.set_num_threads(n)
            ts = [gradcore.tensor(a, requires_grad=True) for a in arrays]
            out = GF.scaled_dot_product_attention(*ts, is_causal=True)
            out.backward(w)
            res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    finally:
        gradcore.set_num_threads(old)
    for a, b in zip(*res):
        assert np.array_equal(a, b)
