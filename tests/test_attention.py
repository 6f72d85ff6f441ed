"""F.scaled_dot_product_attention, nn.MultiheadAttention and nn.TransformerEncoderLayer against
PyTorch: values, gradients, state dicts and errors."""
import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as GF
from nn_helpers import compare_with_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-10)}
DTYPES = [np.float32, np.float64]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _qkv(rng, dtype, qshape, kshape, vshape):
    return [rng.standard_normal(s).astype(dtype) for s in (qshape, kshape, vshape)]


# ---- scaled_dot_product_attention ----

SHAPES = [((3, 4), (5, 4), (5, 6)),                       # 2-D
          ((2, 3, 4), (2, 5, 4), (2, 5, 6)),              # 3-D
          ((2, 3, 4, 8), (2, 3, 7, 8), (2, 3, 7, 5)),     # 4-D
          ((2, 1, 4, 8), (1, 3, 6, 8), (1, 3, 6, 8))]     # broadcast batch dims


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_no_mask(dtype, shapes, scale):
    arrays = _qkv(_rng(1), dtype, *shapes)
    compare_with_torch(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, scale=scale),
                       lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, scale=scale),
                       *arrays, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES[1:3])
@pytest.mark.parametrize("mask_batch", [False, True])
def test_sdpa_bool_mask(dtype, shapes, mask_batch):
    rng = _rng(2)
    q, k, v = _qkv(rng, dtype, *shapes)
    L, S = shapes[0][-2], shapes[1][-2]
    mshape = shapes[0][:-2] + (L, S) if mask_batch else (L, S)
    mask = rng.random(mshape) > 0.4
    mask[..., 0] = True
    if mask_batch:
        mask.reshape(-1, L, S)[0, 1, :] = False    # a fully masked row gives 0
    compare_with_torch(lambda q, k, v, m: GF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                       lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                       q, k, v, mask, grads=[True, True, True, False], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES[1:3])
def test_sdpa_float_mask(dtype, shapes):
    rng = _rng(3)
    q, k, v = _qkv(rng, dtype, *shapes)
    mask = rng.standard_normal((shapes[0][-2], shapes[1][-2])).astype(dtype)
    mask[0, 1] = -np.inf
    compare_with_torch(lambda q, k, v, m: GF.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.5),
                       lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.5),
                       q, k, v, mask, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("L,S", [(4, 4), (3, 6), (6, 3)])
def test_sdpa_causal(dtype, L, S):
    q, k, v = _qkv(_rng(4), dtype, (2, 2, L, 8), (2, 2, S, 8), (2, 2, S, 5))
    compare_with_torch(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, is_causal=True),
                       lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True),
                       q, k, v, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_gqa(dtype):
    q, k, v = _qkv(_rng(5), dtype, (2, 4, 3, 8), (2, 2, 5, 8), (2, 2, 5, 6))
    compare_with_torch(lambda q, k, v: GF.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                       lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                       q, k, v, **TOL[dtype])


def test_sdpa_dropout_statistics_and_rng():
    q = gradcore.zeros(1, 200, 4)   # uniform weights 1/S
    k = gradcore.zeros(1, 50, 4)
    v = gradcore.ones(1, 50, 1)
    gradcore.manual_seed(7)
    a = GF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    gradcore.manual_seed(7)
    b = GF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())     # draws from gradcore's generator
    c = GF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert not np.array_equal(a.numpy(), c.numpy())
    # each output = (kept count) / (S * (1 - p)); its mean is 1
    out = a.numpy().ravel()
    assert abs(out.mean() - 1.0) < 0.03
    kept = np.round(out * 50 * 0.7)
    np.testing.assert_allclose(kept, out * 35, atol=1e-4)
    assert abs(kept.mean() / 50 - 0.7) < 0.02


def _both_errors(gfn, tfn, arrays):
    with pytest.raises(Exception) as te:
        tfn(*[torch.tensor(a) for a in arrays])
    with pytest.raises(Exception) as ge:
        gfn(*[gradcore.tensor(a) for a in arrays])
    assert type(ge.value) is type(te.value), (ge.value, te.value)
    return ge.value, te.value


@pytest.mark.parametrize("case", ["E", "S", "dtype", "mask_shape", "mask_dtype", "1d", "causal_and_mask", "gqa"])
def test_sdpa_errors(case):
    rng = _rng(6)
    q, k, v = _qkv(rng, np.float32, (2, 3, 4), (2, 5, 4), (2, 5, 6))
    kw, extra = {}, []
    if case == "E":
        k = k[:, :, :3]
    elif case == "S":
        v = v[:, :4]
    elif case == "dtype":
        v = v.astype(np.float64)
    elif case == "mask_shape":
        extra = [np.zeros((4, 5), np.float32)]
    elif case == "mask_dtype":
        extra = [np.zeros((3, 5), np.int64)]
    elif case == "1d":
        q, k, v = q[0, 0], k[0, 0], v[0, 0]
    elif case == "causal_and_mask":
        extra, kw = [np.ones((3, 5), bool)], {"is_causal": True}
    elif case == "gqa":
        q, k, v = _qkv(rng, np.float32, (1, 4, 3, 4), (1, 3, 5, 4), (1, 3, 5, 4))
        kw = {"enable_gqa": True}
    g, t = _both_errors(lambda *a: GF.scaled_dot_product_attention(*a[:3], *(a[3:] and [a[3]]), **kw),
                        lambda *a: TF.scaled_dot_product_attention(*a[:3], *(a[3:] and [a[3]]), **kw),
                        [q, k, v] + extra)
    if case in ("dtype", "mask_dtype", "1d", "causal_and_mask"):
        assert str(g) == str(t)
