"""nn.RNN / LSTM / GRU and the cells against PyTorch with copied weights (outputs and every
gradient), state dicts both ways, float64 gradchecks of the fused op, the fused gate kernels
against the same recurrences composed of plain gradcore ops, and PyTorch's errors."""
import warnings

import numpy as np
import pytest

import gradcore
import gradcore.nn as gnn
from gradcore import _C
from helpers import assert_isa_levels_agree

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
KINDS = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}), "LSTM": ("LSTM", {}),
         "GRU": ("GRU", {})}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
GC_DTYPE = {np.float32: gradcore.float32, np.float64: gradcore.float64}


def _np(t):
    return t.detach().numpy()


def _close(a, b, dtype, what):
    np.testing.assert_allclose(_np(a), _np(b), err_msg=what, **TOL[dtype])


def _pair(kind, dtype, **kw):
    """The same layer in both libraries: PyTorch's, and ours loaded from its state dict."""
    cls, extra = KINDS[kind]
    torch.manual_seed(0)
    t = getattr(torch.nn, cls)(**extra, **kw).to(TORCH_DTYPE[dtype])
    g = getattr(gnn, cls)(**extra, **kw).to(GC_DTYPE[dtype])
    g.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return g, t


def _leaf(a, lib):
    return lib.tensor(a, requires_grad=True)


def _run_both(g, t, x, states, dtype, seed=1):
    """Forward both, backward a random weighting of every output; compares outputs and the
    gradients of the input, the states and every parameter."""
    gx, tx = _leaf(x, gradcore), _leaf(x, torch)
    gs = [_leaf(s, gradcore) for s in states]
    ts = [_leaf(s, torch) for s in states]
    is_lstm = isinstance(t, (torch.nn.LSTM, torch.nn.LSTMCell))
    if isinstance(t, torch.nn.modules.rnn.RNNCellBase):
        arg_g = (tuple(gs) if is_lstm else gs[0]) if gs else None
        arg_t = (tuple(ts) if is_lstm else ts[0]) if ts else None
        go, to = g(gx, arg_g), t(tx, arg_t)
        go, to = (list(go), list(to)) if is_lstm else ([go], [to])
    else:
        arg_g = (tuple(gs) if is_lstm else gs[0]) if gs else None
        arg_t = (tuple(ts) if is_lstm else ts[0]) if ts else None
        (gout, gh), (tout, th) = g(gx, arg_g), t(tx, arg_t)
        go = [gout] + (list(gh) if is_lstm else [gh])
        to = [tout] + (list(th) if is_lstm else [th])
    rng = np.random.default_rng(seed)
    gl, tl = 0, 0
    for i, (a, b) in enumerate(zip(go, to)):
        _close(a, b, dtype, f"output {i}")
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        gl = gl + (a * gradcore.tensor(w)).sum()
        tl = tl + (b * torch.tensor(w)).sum()
    gl.backward()
    tl.backward()
    _close(gx.grad, tx.grad, dtype, "input grad")
    for i, (a, b) in enumerate(zip(gs, ts)):
        _close(a.grad, b.grad, dtype, f"state {i} grad")
    gp = dict(g.named_parameters())
    for name, p in t.named_parameters():
        _close(gp[name].grad, p.grad, dtype, f"grad of {name}")


LAYER_CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bidirectional=True, batch_first=True),
    dict(num_layers=3, batch_first=True),
    dict(num_layers=2, bias=False),
    dict(num_layers=2, bidirectional=True, bias=False, batch_first=True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cfg", range(len(LAYER_CONFIGS)))
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_matches_torch(dtype, kind, cfg, with_state):
    kw = dict(input_size=5, hidden_size=11, **LAYER_CONFIGS[cfg])
    g, t = _pair(kind, dtype, **kw)
    T, B = 4, 3
    rng = np.random.default_rng(cfg)
    x = rng.standard_normal((B, T, 5) if kw.get("batch_first") else (T, B, 5)).astype(dtype)
    D = 2 if kw.get("bidirectional") else 1
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((kw["num_layers"] * D, B, 11)).astype(dtype) for _ in range(n_states)]
    _run_both(g, t, x, states if with_state else [], dtype)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_layer(kind, batch_first, with_state):
    g, t = _pair(kind, np.float64, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                 batch_first=batch_first)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    states = [rng.standard_normal((4, 4)) for _ in range(2 if kind == "LSTM" else 1)]
    _run_both(g, t, x, states if with_state else [], np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_matches_torch(dtype, kind, batched, bias, with_state):
    cls, extra = KINDS[kind]
    torch.manual_seed(0)
    t = getattr(torch.nn, cls + "Cell")(6, 9, bias=bias, **extra).to(TORCH_DTYPE[dtype])
    g = getattr(gnn, cls + "Cell")(6, 9, bias=bias, **extra).to(GC_DTYPE[dtype])
    g.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    rng = np.random.default_rng(3)
    lead = (4,) if batched else ()
    x = rng.standard_normal(lead + (6,)).astype(dtype)
    states = [rng.standard_normal(lead + (9,)).astype(dtype) for _ in range(2 if kind == "LSTM" else 1)]
    _run_both(g, t, x, states if with_state else [], dtype)


def _load_into_torch_and_compare(g, t):
    """gradcore module ``g``'s state dict has torch module ``t``'s keys and shapes, loads into
    ``t``, and then both give the same output (batch-second input of 4 features)."""
    sd = g.state_dict()
    assert list(sd) == list(t.state_dict())
    for k, v in t.state_dict().items():
        assert tuple(sd[k].shape) == tuple(v.shape), k
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    _close(g(gradcore.tensor(x))[0], t(torch.tensor(x))[0], np.float32,
           "output after loading gradcore's state dict into torch")


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_both_ways(kind):
    cls, extra = KINDS[kind]
    gradcore.manual_seed(3)
    g = getattr(gnn, cls)(4, 6, num_layers=2, bidirectional=True, **extra)
    t = getattr(torch.nn, cls)(4, 6, num_layers=2, bidirectional=True, **extra)
    _load_into_torch_and_compare(g, t)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_init_is_uniform_in_one_over_sqrt_hidden(cls):
    gradcore.manual_seed(0)
    m = getattr(gnn, cls)(30, 64)
    bound = 1 / np.sqrt(64)
    vals = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert vals.min() >= -bound and vals.max() <= bound
    assert vals.min() < -0.9 * bound and vals.max() > 0.9 * bound
    assert abs(vals.mean()) < 0.05 * bound


def test_reprs_match_torch():
    cases = [("RNN", (3, 4), dict(num_layers=2, nonlinearity="relu", bias=False)),
             ("LSTM", (3, 4), dict(batch_first=True, dropout=0.5, num_layers=2, bidirectional=True)),
             ("GRU", (3, 4), {}), ("RNNCell", (3, 4), dict(nonlinearity="relu")), ("LSTMCell", (3, 4), dict(bias=False)),
             ("GRUCell", (3, 4), {})]
    for cls, args, kw in cases:
        assert repr(getattr(gnn, cls)(*args, **kw)) == repr(getattr(torch.nn, cls)(*args, **kw))


# ---- the fused op: gradcheck, and against the recurrence composed of plain ops ----

def _reference_layer(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse):
    """The recurrence step by step with gradcore's ordinary ops (the unfused composition)."""
    H = w_hh.shape[1]
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        xw = x[t] @ w_ih.T + (b_ih if b_ih is not None else 0)
        hw = h @ w_hh.T + (b_hh if b_hh is not None else 0)
        if mode == "LSTM":
            pre = xw + hw
            i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
            c = i.sigmoid() * g.tanh() + f.sigmoid() * c
            h = o.sigmoid() * c.tanh()
        elif mode == "GRU":
            r = (xw[:, :H] + hw[:, :H]).sigmoid()
            z = (xw[:, H:2 * H] + hw[:, H:2 * H]).sigmoid()
            n = (xw[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
            h = (1 - z) * n + z * h
        else:
            h = (xw + hw).tanh() if mode == "RNN_TANH" else (xw + hw).relu()
        outs[t] = h
    return gradcore.stack(outs, 0), h, c


def _op_inputs(mode, dtype, T, B, I, H, bias, rng, scale=1.0):
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    arrays = [rng.standard_normal((T, B, I)) * scale, rng.standard_normal((B, H)),
              rng.standard_normal((B, H)) if mode == "LSTM" else None,
              rng.standard_normal((G * H, I)) * 0.5, rng.standard_normal((G * H, H)) * 0.5]
    arrays += [rng.standard_normal(G * H) * 0.5, rng.standard_normal(G * H) * 0.5] if bias else [None, None]
    return [None if a is None else gradcore.tensor(a.astype(dtype), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("mode", list(KINDS))
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_op_gradcheck_float64(mode, reverse):
    rng = np.random.default_rng(4)
    ins = _op_inputs(mode, np.float64, 3, 2, 3, 4, True, rng)
    present = [i for i, a in enumerate(ins) if a is not None]

    def fn(*args):
        full = list(ins)
        for i, a in zip(present, args):
            full[i] = a
        out, h, c = _C._nn.rnn_layer(mode, *full, reverse)
        return (out, h) if c is None else (out, h, c)

    assert gradcore.autograd.gradcheck(fn, tuple(ins[i] for i in present), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("mode", list(KINDS))
def test_cell_op_gradcheck_float64(mode):
    rng = np.random.default_rng(5)
    ins = _op_inputs(mode, np.float64, 1, 3, 4, 5, True, rng)
    ins[0] = gradcore.tensor(ins[0].detach().numpy()[0], requires_grad=True)  # (batch, input): one step
    present = [i for i, a in enumerate(ins) if a is not None]

    def fn(*args):
        full = list(ins)
        for i, a in zip(present, args):
            full[i] = a
        _, h, c = _C._nn.rnn_layer(mode, *full)
        return h if c is None else (h, c)

    assert gradcore.autograd.gradcheck(fn, tuple(ins[i] for i in present), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", list(KINDS))
@pytest.mark.parametrize("H", [1, 8, 13, 32])   # below, at and off the SIMD width: vector and scalar units
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_matches_unfused_composition(dtype, mode, H, reverse, bias):
    rng = np.random.default_rng(H)
    ins = _op_inputs(mode, dtype, 5, 3, 7, H, bias, rng, scale=3.0)   # scale 3: the gates saturate too
    fused = _C._nn.rnn_layer(mode, *ins, reverse)
    ref_ins = [None if a is None else gradcore.tensor(a.detach().numpy(), requires_grad=True) for a in ins]
    ref = _reference_layer(mode, *ref_ins, reverse)
    losses = []
    for outs in (fused, ref):
        loss = 0
        for k, o in enumerate(outs):
            if o is not None:
                w = np.random.default_rng(k).standard_normal(tuple(o.shape)).astype(dtype)
                loss = loss + (o * gradcore.tensor(w)).sum()
        losses.append(loss)
    for a, b in zip(fused, ref):
        if a is not None:
            _close(a, b, dtype, "fused output")
    losses[0].backward()
    losses[1].backward()
    for i, (a, b) in enumerate(zip(ins, ref_ins)):
        if a is not None:
            _close(a.grad, b.grad, dtype, f"grad of operand {i}")


def test_saturation_and_nan():
    rng = np.random.default_rng(0)
    for mode in KINDS:
        ins = _op_inputs(mode, np.float32, 3, 2, 4, 9, True, rng, scale=200.0)
        out, h, c = _C._nn.rnn_layer(mode, *ins)
        assert np.isfinite(out.detach().numpy()).all()
        x = ins[0].detach().numpy().copy()
        x[1, 0, 0] = np.nan
        out, _, _ = _C._nn.rnn_layer(mode, gradcore.tensor(x), *ins[1:])
        o = out.detach().numpy()
        assert np.isnan(o[1:, 0]).all() and np.isfinite(o[0]).all() and np.isfinite(o[:, 1]).all()


def test_one_node_per_layer_and_direction():
    m = gnn.LSTM(3, 4)
    out, (h, c) = m(gradcore.randn(5, 2, 3))
    assert out.grad_fn.name() == "LstmLayerBackward0"
    cell = gnn.GRUCell(3, 4)
    assert cell(gradcore.randn(2, 3)).grad_fn.name() == "GruLayerBackward0"


# ---- dropout, training mode ----

def test_dropout_between_layers_only_in_training():
    gradcore.manual_seed(0)
    m = gnn.LSTM(4, 8, num_layers=3, dropout=0.5)
    x = gradcore.randn(6, 2, 4)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    np.testing.assert_array_equal(_np(a), _np(b))
    m.train()
    gradcore.manual_seed(1)
    c = m(x)[0]
    gradcore.manual_seed(1)
    d = m(x)[0]
    np.testing.assert_array_equal(_np(c), _np(d))
    assert not np.allclose(_np(a), _np(c))
    single = gnn.GRU(4, 8, num_layers=1)
    single.train()
    np.testing.assert_array_equal(_np(single(x)[0]), _np(single(x)[0]))   # no dropout after the last layer


def test_dropout_with_one_layer_warns_like_torch():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        gnn.RNN(3, 4, dropout=0.2)
    assert any("num_layers greater than 1" in str(x.message) for x in w)


def test_flatten_parameters_and_all_weights():
    m = gnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert m.flatten_parameters() is None
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert [[tuple(p.shape) for p in ws] for ws in m.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in t.all_weights]


# ---- errors, of PyTorch's types ----

def _raises_like_torch(fn_g, fn_t):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(type(et.value)) as eg:
        fn_g()
    return str(eg.value)


@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_errors(kind):
    g, t = _pair(kind, np.float32, input_size=3, hidden_size=4, num_layers=2)
    lstm = kind == "LSTM"

    def states(lib, shape, n=2 if lstm else 1):
        s = [lib.zeros(*shape) for _ in range(n)]
        return tuple(s) if lstm else s[0]

    msg = _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 7)), lambda: t(torch.zeros(5, 2, 7)))
    assert "Expected 3, got 7" in msg
    _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 3, 1)), lambda: t(torch.zeros(5, 2, 3, 1)))
    msg = _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 3), states(gradcore, (1, 2, 4))),
                             lambda: t(torch.zeros(5, 2, 3), states(torch, (1, 2, 4))))
    assert "(2, 2, 4)" in msg and "[1, 2, 4]" in msg
    _raises_like_torch(lambda: g(gradcore.zeros(5, 3), states(gradcore, (2, 1, 4))),
                       lambda: t(torch.zeros(5, 3), states(torch, (2, 1, 4))))
    _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 3), states(gradcore, (2, 4))),
                       lambda: t(torch.zeros(5, 2, 3), states(torch, (2, 4))))
    _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 3, dtype=gradcore.float64)),
                       lambda: t(torch.zeros(5, 2, 3, dtype=torch.float64)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_errors(kind):
    cls, extra = KINDS[kind]
    g, t = getattr(gnn, cls + "Cell")(3, 4, **extra), getattr(torch.nn, cls + "Cell")(3, 4, **extra)
    lstm = kind == "LSTM"

    def state(lib, *shape):
        return (lib.zeros(*shape), lib.zeros(*shape)) if lstm else lib.zeros(*shape)

    _raises_like_torch(lambda: g(gradcore.zeros(2, 5)), lambda: t(torch.zeros(2, 5)))
    _raises_like_torch(lambda: g(gradcore.zeros(2, 3, 1)), lambda: t(torch.zeros(2, 3, 1)))
    _raises_like_torch(lambda: g(gradcore.zeros(2, 3), state(gradcore, 3, 4)), lambda: t(torch.zeros(2, 3), state(torch, 3, 4)))
    _raises_like_torch(lambda: g(gradcore.zeros(2, 3), state(gradcore, 2, 5)), lambda: t(torch.zeros(2, 3), state(torch, 2, 5)))
    _raises_like_torch(lambda: g(gradcore.zeros(2, 3), state(gradcore, 1, 2, 4)),
                       lambda: t(torch.zeros(2, 3), state(torch, 1, 2, 4)))


def test_constructor_errors():
    for args, kw in [((3, 4), dict(dropout=1.5)), ((3, 4), dict(num_layers=0)), ((0, 4), {}), ((3, 0), {}),
                     ((3, 4), dict(bias=1)), ((3.0, 4), {}), ((3, 4), dict(proj_size=5)),
                     ((3, 4), dict(proj_size=4)), ((3, 4), dict(proj_size=-1))]:
        _raises_like_torch(lambda: gnn.LSTM(*args, **kw), lambda: torch.nn.LSTM(*args, **kw))
    _raises_like_torch(lambda: gnn.RNN(3, 4, nonlinearity="gelu"), lambda: torch.nn.RNN(3, 4, nonlinearity="gelu"))
    for name in ("RNN", "GRU"):  # projections are LSTM's only: ValueError, even for proj_size=0
        for size in (0, 2):
            _raises_like_torch(lambda: getattr(gnn, name)(3, 4, proj_size=size),
                               lambda: getattr(torch.nn, name)(3, 4, proj_size=size))


def test_op_errors_name_the_shapes():
    w_ih, w_hh = gradcore.zeros(8, 3), gradcore.zeros(8, 2)
    with pytest.raises(RuntimeError, match="weight_hh"):
        _C._nn.rnn_layer("LSTM", gradcore.zeros(4, 1, 3), gradcore.zeros(1, 2), gradcore.zeros(1, 2), w_ih,
                         gradcore.zeros(6, 2), None, None)
    with pytest.raises(RuntimeError, match="cell state"):
        _C._nn.rnn_layer("LSTM", gradcore.zeros(4, 1, 3), gradcore.zeros(1, 2), None, w_ih, w_hh, None, None)
    with pytest.raises(RuntimeError, match="at least one step"):
        _C._nn.rnn_layer("LSTM", gradcore.zeros(0, 1, 3), gradcore.zeros(1, 2), gradcore.zeros(1, 2), w_ih, w_hh,
                         None, None)
    with pytest.raises(NotImplementedError):
        _C._nn.rnn_layer("RNN_TANH", gradcore.zeros(4, 1, 3, dtype=gradcore.int64), gradcore.zeros(1, 2),
                         None, gradcore.zeros(2, 3), gradcore.zeros(2, 2), None, None)
    with pytest.raises(ValueError, match="unknown mode"):
        _C._nn.rnn_layer("LSTMX", gradcore.zeros(4, 1, 3), gradcore.zeros(1, 2), None, w_ih, w_hh, None, None)


def test_training_steps_track_torch():
    """A few Adam steps of an LSTM language-model head in both libraries stay together."""
    g, t = _pair("LSTM", np.float64, input_size=4, hidden_size=6, num_layers=2, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 4))
    y = rng.standard_normal((3, 7, 6))
    og = gradcore.optim.Adam(g.parameters(), lr=1e-2)
    ot = torch.optim.Adam(t.parameters(), lr=1e-2)
    for _ in range(3):
        for m, opt, lib in ((g, og, gradcore), (t, ot, torch)):
            opt.zero_grad()
            loss = ((m(lib.tensor(x))[0] - lib.tensor(y)) ** 2).mean()
            loss.backward()
            opt.step()
    for (name, p), q in zip(t.named_parameters(), g.parameters()):
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-9, atol=1e-11, err_msg=name)



# ---- LSTM with projections (proj_size) ----

PROJ_CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, batch_first=True, bias=False),
    dict(num_layers=1, bidirectional=True, batch_first=True),
]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", range(len(PROJ_CONFIGS)))
@pytest.mark.parametrize("with_state", [False, True])
def test_proj_size_matches_torch(dtype, cfg, with_state):
    kw = dict(input_size=5, hidden_size=11, proj_size=4, **PROJ_CONFIGS[cfg])
    g, t = _pair("LSTM", dtype, **kw)
    T, B = 4, 3
    rng = np.random.default_rng(cfg)
    x = rng.standard_normal((B, T, 5) if kw.get("batch_first") else (T, B, 5)).astype(dtype)
    L = kw["num_layers"] * (2 if kw.get("bidirectional") else 1)
    states = [rng.standard_normal((L, B, 4)).astype(dtype), rng.standard_normal((L, B, 11)).astype(dtype)]
    _run_both(g, t, x, states if with_state else [], dtype)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_proj_size_unbatched_and_shapes():
    g, t = _pair("LSTM", np.float64, input_size=3, hidden_size=6, proj_size=2, num_layers=2)
    x = np.random.default_rng(0).standard_normal((5, 3))
    _run_both(g, t, x, [], np.float64)
    out, (h, c) = g(gradcore.tensor(x))
    assert tuple(out.shape) == (5, 2) and tuple(h.shape) == (2, 2) and tuple(c.shape) == (2, 6)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_proj_size_state_dict_both_ways_and_repr():
    gradcore.manual_seed(3)
    g = gnn.LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3)
    t = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3)
    _load_into_torch_and_compare(g, t)
    assert repr(g) == repr(t)
    assert [[tuple(p.shape) for p in ws] for ws in g.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in t.all_weights]


@pytest.mark.parametrize("reverse", [False, True])
def test_proj_op_gradcheck_float64(reverse):
    rng = np.random.default_rng(6)
    T, B, I, H, P = 3, 2, 3, 5, 2
    arrays = [rng.standard_normal((T, B, I)), rng.standard_normal((B, P)), rng.standard_normal((B, H)),
              rng.standard_normal((4 * H, I)) * 0.5, rng.standard_normal((4 * H, P)) * 0.5,
              rng.standard_normal(4 * H) * 0.5, rng.standard_normal(4 * H) * 0.5, rng.standard_normal((P, H)) * 0.5]
    ins = [gradcore.tensor(a, requires_grad=True) for a in arrays]

    def fn(x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
        return _C._nn.rnn_layer("LSTM", x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, w_hr)

    assert gradcore.autograd.gradcheck(fn, tuple(ins), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_proj_size_errors_like_torch():
    g, t = _pair("LSTM", np.float32, input_size=3, hidden_size=4, proj_size=2)
    for shapes in [((1, 2, 4), (1, 2, 4)), ((1, 2, 2), (1, 2, 2))]:
        msg = _raises_like_torch(lambda: g(gradcore.zeros(5, 2, 3), tuple(gradcore.zeros(*s) for s in shapes)),
                                 lambda: t(torch.zeros(5, 2, 3), tuple(torch.zeros(*s) for s in shapes)))
        assert "Expected hidden[" in msg
    w_ih, w_hh, w_hr = gradcore.zeros(16, 3), gradcore.zeros(16, 2), gradcore.zeros(2, 4)
    x, h, c = gradcore.zeros(5, 1, 3), gradcore.zeros(1, 2), gradcore.zeros(1, 4)
    with pytest.raises(RuntimeError, match="weight_hr"):
        _C._nn.rnn_layer("LSTM", x, h, c, w_ih, w_hh, None, None, False, gradcore.zeros(2, 5))
    with pytest.raises(RuntimeError, match="weight_hh"):
        _C._nn.rnn_layer("LSTM", x, h, c, w_ih, gradcore.zeros(16, 3), None, None, False, w_hr)
    with pytest.raises(RuntimeError, match="proj_size"):
        _C._nn.rnn_layer("LSTM", x, gradcore.zeros(1, 4), c, w_ih, w_hh, None, None, False, w_hr)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        _C._nn.rnn_layer("GRU", x, h, None, gradcore.zeros(6, 3), gradcore.zeros(6, 2), None, None, False, w_hr)


# ---- the gate kernels at every ISA level ----

ISA_SCRIPT = r"""
import sys
import numpy as np
import gradcore
from gradcore import _C
rng = np.random.default_rng(7)

def dyadic(*shape):   # multiples of 1/4 below 2: every product and sum of the GEMMs here is exact
    return rng.integers(-7, 8, shape).astype(np.float32) / 4

res = []
for mode, G in (("RNN_TANH", 1), ("RNN_RELU", 1), ("LSTM", 4), ("GRU", 3)):
    for H in (37, 64):   # a remainder after the vector lanes, and whole vectors
        T, B, I = 4, 3, 5
        arrays = [dyadic(T, B, I), dyadic(B, H), dyadic(B, H) if mode == "LSTM" else None, dyadic(G * H, I) / 4,
                  np.zeros((G * H, H), np.float32), dyadic(G * H), dyadic(G * H)]
        ins = [None if a is None else gradcore.tensor(a, requires_grad=True) for a in arrays]
        outs = [o for o in _C._nn.rnn_layer(mode, *ins) if o is not None]
        sum((o * gradcore.tensor(dyadic(*o.shape))).sum() for o in outs).backward()
        res += [o.detach().numpy() for o in outs]
        res += [a.grad.numpy() for k, a in enumerate(ins) if a is not None and k in (1, 2, 5, 6)]
np.savez(sys.argv[1], *res)
"""


def test_gate_kernels_agree_on_every_isa_level(tmp_path):
    """The gate kernels are one loop compiled for AVX-512, AVX2 and the baseline (picked at run
    time): every level must give the baseline's bits, forward and backward, float32. The GEMMs
    around them differ by ISA, so their operands are chosen to make them exact (W_hh = 0, inputs
    and W_ih on a coarse dyadic grid), and only what the kernels alone decide is compared: the
    outputs and the gradients of the states and biases."""
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path)
