"""F.scaled_dot_product_attention, nn.MultiheadAttention and nn.TransformerEncoderLayer against
PyTorch: values, gradients, state dicts and errors."""
import numpy as np
import pytest

import gradcore
import gradcore.nn as gnn
import gradcore.nn.functional as GF
from helpers import assert_close
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


# ---- MultiheadAttention ----

TDT = {np.float32: torch.float32, np.float64: torch.float64}
GDT = {np.float32: gradcore.float32, np.float64: gradcore.float64}


def _mha_pair(dtype, seed=0, **kw):
    torch.manual_seed(seed)
    tm = torch.nn.MultiheadAttention(**kw, dtype=TDT[dtype])
    gm = gnn.MultiheadAttention(**kw, dtype=GDT[dtype])
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    gm.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return gm, tm


def _run_mha(gm, tm, arrays, dtype, grads, **kw):
    """Runs both modules on the same inputs (masks given as arrays in kw); compares the output, the
    weights and the gradients of inputs and parameters."""
    gs = [gradcore.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    gkw = {k: gradcore.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    if len(gs) == 1:
        gs, ts = gs * 3, ts * 3
    go, gw = gm(*gs, **gkw)
    to, tw = tm(*ts, **tkw)
    tol = TOL[dtype]
    assert_close(go, to.detach().numpy(), **tol)
    if tw is None:
        assert gw is None
    else:
        assert tuple(gw.shape) == tuple(tw.shape)
        assert_close(gw, tw.detach().numpy(), **tol)
    w = np.random.default_rng(9).standard_normal(tuple(to.shape)).astype(dtype)
    loss_g = (go * gradcore.tensor(w)).sum()
    loss_t = (to * torch.tensor(w)).sum()
    if tw is not None:
        w2 = np.random.default_rng(10).standard_normal(tuple(tw.shape)).astype(dtype)
        loss_g = loss_g + (gw * gradcore.tensor(w2)).sum()
        loss_t = loss_t + (tw * torch.tensor(w2)).sum()
    loss_g.backward()
    loss_t.backward()
    for g, t, r in zip(gs, ts, grads):
        if r:
            assert_close(g.grad, t.grad.numpy(), **tol)
    tparams = dict(tm.named_parameters())
    for name, p in gm.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), **tol)
    return go, gw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_cross_attention(dtype, batch_first, need_weights, average):
    rng = _rng(11)
    gm, tm = _mha_pair(dtype, embed_dim=8, num_heads=2, batch_first=batch_first)
    N, L, S = 3, 4, 5
    shp = (lambda n: (N, n, 8)) if batch_first else (lambda n: (n, N, 8))
    arrays = [rng.standard_normal(shp(n)).astype(dtype) for n in (L, S, S)]
    # non-zero biases
    for gp, tp in zip(gm.parameters(), tm.parameters()):
        with torch.no_grad():
            tp.add_(0.1)
        with gradcore.no_grad():
            gp.add_(0.1)
    _run_mha(gm, tm, arrays, dtype, [True] * 3, need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_self_attention_masks(dtype, need_weights):
    rng = _rng(12)
    gm, tm = _mha_pair(dtype, embed_dim=12, num_heads=3)
    L, N = 5, 2
    x = rng.standard_normal((L, N, 12)).astype(dtype)
    kpm = np.zeros((N, L), bool)
    kpm[0, -2:] = True
    attn_bool = np.triu(np.ones((L, L), bool), 1)
    attn_float = rng.standard_normal((N * 3, L, L)).astype(dtype)
    for kw in ({"key_padding_mask": kpm}, {"attn_mask": attn_bool}, {"attn_mask": attn_float},
               {"key_padding_mask": kpm, "attn_mask": attn_bool},
               {"key_padding_mask": kpm.astype(dtype) * -3.0, "attn_mask": attn_float[:1, :, :][0]},
               {"attn_mask": attn_bool, "is_causal": True}):
        gm.zero_grad()
        tm.zero_grad()
        _run_mha(gm, tm, [x], dtype, [True], need_weights=need_weights, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("add_bias_kv,add_zero_attn", [(False, False), (True, False), (False, True), (True, True)])
def test_mha_kdim_vdim_bias_kv(dtype, bias, add_bias_kv, add_zero_attn):
    rng = _rng(13)
    gm, tm = _mha_pair(dtype, embed_dim=8, num_heads=4, kdim=3, vdim=5, bias=bias, add_bias_kv=add_bias_kv,
                       add_zero_attn=add_zero_attn, batch_first=True)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((2, 4, 8), (2, 6, 3), (2, 6, 5))]
    kpm = np.zeros((2, 6), bool)
    kpm[1, 0] = True
    for need_weights in (True, False):
        gm.zero_grad()
        tm.zero_grad()
        _run_mha(gm, tm, arrays, dtype, [True] * 3, need_weights=need_weights, key_padding_mask=kpm)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("add_bias_kv", [False, True])
def test_mha_same_dims_bias_kv(dtype, add_bias_kv):
    rng = _rng(14)
    gm, tm = _mha_pair(dtype, embed_dim=6, num_heads=2, add_bias_kv=add_bias_kv, add_zero_attn=True)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((3, 2, 6), (4, 2, 6), (4, 2, 6))]
    _run_mha(gm, tm, arrays, dtype, [True] * 3, attn_mask=rng.standard_normal((3, 4)).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(dtype, batch_first, need_weights):
    rng = _rng(15)
    gm, tm = _mha_pair(dtype, embed_dim=8, num_heads=2, batch_first=batch_first)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((4, 8), (6, 8), (6, 8))]
    kpm = np.zeros(6, bool)
    kpm[2] = True
    go, gw = _run_mha(gm, tm, arrays, dtype, [True] * 3, need_weights=need_weights, key_padding_mask=kpm,
                      average_attn_weights=False)
    assert tuple(go.shape) == (4, 8)
    if need_weights:
        assert tuple(gw.shape) == (2, 4, 6)


def test_mha_state_dict_round_trip_and_init():
    gm = gnn.MultiheadAttention(16, 4, add_bias_kv=True)
    np.testing.assert_array_equal(gm.in_proj_bias.detach().numpy(), 0)
    np.testing.assert_array_equal(gm.out_proj.bias.detach().numpy(), 0)
    bound = np.sqrt(6.0 / (16 + 48))    # xavier_uniform_ on (48, 16)
    w = gm.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    tm = torch.nn.MultiheadAttention(16, 4, add_bias_kv=True)
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in gm.state_dict().items()})
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), gm.state_dict()[k].detach().numpy())
    assert gm.bias_k is not None and tuple(gm.bias_k.shape) == (1, 1, 16)
    assert gnn.MultiheadAttention(4, 2).bias_k is None


def test_mha_eval_dropout_and_train_dropout():
    gm = gnn.MultiheadAttention(8, 2, dropout=0.5)
    x = gradcore.randn(5, 2, 8)
    gm.eval()
    a, _ = gm(x, x, x)
    b, _ = gm(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    gm.train()
    c, _ = gm(x, x, x, need_weights=False)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


def _mha_errors(build_kw, arrays, **kw):
    def run(lib, mod):
        m = mod(**build_kw)
        conv = torch.tensor if lib is torch else gradcore.tensor
        t = [conv(a) for a in arrays]
        kk = {k: conv(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        return m(*t, **kk)
    with pytest.raises(Exception) as te:
        run(torch, torch.nn.MultiheadAttention)
    with pytest.raises(Exception) as ge:
        run(gradcore, gnn.MultiheadAttention)
    assert type(ge.value) is type(te.value), (ge.value, te.value)


@pytest.mark.parametrize("case", ["embed", "kv_shape", "4d", "mixed_dims", "mask2d", "mask3d", "mask4d",
                                  "causal_no_mask", "kpm_shape", "int_mask"])
def test_mha_errors(case):
    rng = _rng(16)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    q, k, v = f(4, 2, 8), f(5, 2, 8), f(5, 2, 8)
    kw = {}
    if case == "embed":
        q, k, v = f(4, 2, 6), f(5, 2, 6), f(5, 2, 6)
    elif case == "kv_shape":
        v = f(6, 2, 8)
    elif case == "4d":
        q = f(1, 4, 2, 8)
    elif case == "mixed_dims":
        k = f(5, 8)
    elif case == "mask2d":
        kw = {"attn_mask": np.zeros((4, 4), bool)}
    elif case == "mask3d":
        kw = {"attn_mask": np.zeros((3, 4, 5), np.float32)}
    elif case == "mask4d":
        kw = {"attn_mask": np.zeros((1, 4, 4, 5), np.float32)}
    elif case == "causal_no_mask":
        kw = {"is_causal": True}
    elif case == "kpm_shape":
        kw = {"key_padding_mask": np.zeros((2, 4), bool)}
    elif case == "int_mask":
        kw = {"attn_mask": np.zeros((4, 5), np.int64)}
    _mha_errors({"embed_dim": 8, "num_heads": 2}, [q, k, v], **kw)


def test_mha_constructor_errors():
    for kw in ({"embed_dim": 0, "num_heads": 2}, {"embed_dim": 4, "num_heads": 0}, {"embed_dim": 6, "num_heads": 4}):
        with pytest.raises(Exception) as te:
            torch.nn.MultiheadAttention(**kw)
        with pytest.raises(Exception) as ge:
            gnn.MultiheadAttention(**kw)
        assert type(ge.value) is type(te.value)


# ---- TransformerEncoderLayer ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer(dtype, batch_first, norm_first, activation):
    rng = _rng(20)
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation=activation,
              batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(0)
    tm = torch.nn.TransformerEncoderLayer(**kw, dtype=TDT[dtype])
    gm = gnn.TransformerEncoderLayer(**kw, dtype=GDT[dtype])
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    gm.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8)).astype(dtype)
    kpm = np.zeros((3, 5), bool)
    kpm[1, -1] = True
    causal = np.triu(np.full((5, 5), -np.inf, dtype), 1)
    for fkw in ({}, {"src_key_padding_mask": kpm}, {"src_mask": causal, "is_causal": True}):
        gx, tx = gradcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        gk = {k: gradcore.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fkw.items()}
        tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fkw.items()}
        gm.zero_grad()
        tm.zero_grad()
        go, to = gm(gx, **gk), tm(tx, **tk)
        assert_close(go, to.detach().numpy(), **TOL[dtype])
        w = rng.standard_normal(tuple(to.shape)).astype(dtype)
        (go * gradcore.tensor(w)).sum().backward()
        (to * torch.tensor(w)).sum().backward()
        assert_close(gx.grad, tx.grad.numpy(), **TOL[dtype])
        tparams = dict(tm.named_parameters())
        for name, p in gm.named_parameters():
            assert_close(p.grad, tparams[name].grad.numpy(), **TOL[dtype])


def test_encoder_layer_defaults_and_errors():
    gm = gnn.TransformerEncoderLayer(8, 2)
    tm = torch.nn.TransformerEncoderLayer(8, 2)
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert gm.linear1.out_features == 2048 and gm.dropout.p == 0.1 and gm.norm1.eps == 1e-5
    assert gm.activation_relu_or_gelu == tm.activation_relu_or_gelu == 1
    assert gnn.TransformerEncoderLayer(8, 2, activation=gnn.GELU()).activation_relu_or_gelu == 2
    assert len(gnn.TransformerEncoderLayer(8, 2, bias=False).state_dict()) == len(
        torch.nn.TransformerEncoderLayer(8, 2, bias=False).state_dict())
    with pytest.raises(RuntimeError):
        torch.nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(RuntimeError):
        gnn.TransformerEncoderLayer(8, 2, activation="tanh")
    gm.eval()
    x = gradcore.randn(4, 2, 8)
    np.testing.assert_array_equal(gm(x).detach().numpy(), gm(x).detach().numpy())
