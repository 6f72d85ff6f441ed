"""TransformerEncoder, Unflatten/unflatten, nn.utils.rnn.pad_sequence and init.trunc_normal_,
checked against PyTorch."""
import numpy as np
import pytest

import gradcore as g
import gradcore.nn as gnn

torch = pytest.importorskip("torch")


def _copy_state(dst, src):
    dst.load_state_dict({k: g.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mask", [None, "causal", "bool_causal", "padding"])
def test_transformer_encoder_matches_torch(batch_first, norm_first, mask):
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=batch_first, norm_first=norm_first,
                                          dtype=torch.float64)
    tenc = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(16, dtype=torch.float64),
                                       enable_nested_tensor=False).eval()
    genc = gnn.TransformerEncoder(gnn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=batch_first,
                                                              norm_first=norm_first, dtype=g.float64),
                                  2, norm=gnn.LayerNorm(16, dtype=g.float64)).eval()
    assert list(genc.state_dict()) == list(tenc.state_dict())
    _copy_state(genc, tenc)
    x = np.random.default_rng(1).standard_normal((3, 5, 16) if batch_first else (5, 3, 16))
    kw_t, kw_g = {}, {}
    if mask == "causal":
        m = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
        kw_t, kw_g = {"mask": m}, {"mask": g.tensor(m.numpy())}
    elif mask == "bool_causal":
        m = torch.ones(5, 5, dtype=torch.bool).triu(1)
        kw_t, kw_g = {"mask": m, "is_causal": True}, {"mask": g.tensor(m.numpy()), "is_causal": True}
    elif mask == "padding":
        m = torch.zeros(3, 5, dtype=torch.bool)
        m[0, 3:] = True
        kw_t, kw_g = {"src_key_padding_mask": m}, {"src_key_padding_mask": g.tensor(m.numpy())}
    tx, gx = torch.tensor(x, requires_grad=True), g.tensor(x, requires_grad=True)
    want, got = tenc(tx, **kw_t), genc(gx, **kw_g)
    if mask == "padding":  # PyTorch zeroes padded positions only on its nested-tensor fast path
        keep = ~m.numpy() if batch_first else ~m.numpy().T
        np.testing.assert_allclose(got.detach().numpy()[keep], want.detach().numpy()[keep], rtol=1e-9, atol=1e-10)
        return
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-9, atol=1e-10)
    want.square().sum().backward()
    got.square().sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_transformer_encoder_layers_are_independent_copies():
    layer = gnn.TransformerEncoderLayer(8, 2, 16)
    enc = gnn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and enc.layers[0] is not layer
    ps = [p for p in enc.parameters()]
    assert len({id(p) for p in ps}) == len(ps) == 3 * len(list(layer.parameters()))
    with pytest.raises(TypeError):
        gnn.TransformerEncoder("layer", 2)


def test_unflatten():
    x = np.arange(24.0).reshape(2, 12)
    for dim, sizes in [(1, (3, 4)), (-1, (2, -1, 3)), (0, (1, 2))]:
        got = g.tensor(x).unflatten(dim, sizes)
        want = torch.tensor(x).unflatten(dim, sizes)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(gnn.Unflatten(dim, sizes)(g.tensor(x)).numpy(), want.numpy())
    for m in (g, torch):
        with pytest.raises(RuntimeError):
            m.tensor(x).unflatten(1, (5, 2))
    with pytest.raises(TypeError):
        gnn.Unflatten(1, 3)
    assert repr(gnn.Unflatten(1, (3, 4))) == repr(torch.nn.Unflatten(1, (3, 4)))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((n, 3)) for n in (4, 1, 6)]
    gs = [g.tensor(s, requires_grad=True) for s in seqs]
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    got = gnn.utils.rnn.pad_sequence(gs, batch_first=batch_first, padding_value=-1.0, padding_side=side)
    want = torch.nn.utils.rnn.pad_sequence(ts, batch_first=batch_first, padding_value=-1.0, padding_side=side)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    w = rng.standard_normal(tuple(want.shape))
    (got * g.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    for a, b in zip(gs, ts):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    with pytest.raises(ValueError):
        gnn.utils.rnn.pad_sequence(gs, padding_side="middle")
    with pytest.raises(RuntimeError):
        gnn.utils.rnn.pad_sequence([g.ones(2, 3), g.ones(2, 4)])


def test_trunc_normal():
    t = gnn.init.trunc_normal_(g.empty(200000), mean=0.5, std=2.0, a=-1.0, b=3.0,
                               generator=g.Generator().manual_seed(0))
    assert t.min().item() >= -1.0 and t.max().item() <= 3.0
    ref = torch.nn.init.trunc_normal_(torch.empty(200000), mean=0.5, std=2.0, a=-1.0, b=3.0)
    assert abs(t.mean().item() - ref.mean().item()) < 0.02
    assert abs(t.std().item() - ref.std().item()) < 0.02
    a = gnn.init.trunc_normal_(g.empty(1000), generator=g.Generator().manual_seed(3))
    b = gnn.init.trunc_normal_(g.empty(1000), generator=g.Generator().manual_seed(3))
    assert a.tolist() == b.tolist()
    p = gnn.Parameter(g.zeros(10))
    gnn.init.trunc_normal_(p, std=0.02)
    assert p.requires_grad and p.abs().max().item() <= 2.0
    with pytest.warns(UserWarning, match="2 std"):
        gnn.init.trunc_normal_(g.empty(10), mean=10.0)
