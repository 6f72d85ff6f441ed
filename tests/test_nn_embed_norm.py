"""F.embedding / nn.Embedding, F.layer_norm / nn.LayerNorm, F.rms_norm / nn.RMSNorm against PyTorch:
values, gradients, state dicts, reprs and errors."""
import numpy as np
import pytest

import gradcore
import gradcore.nn as gnn
import gradcore.nn.functional as GF
from nn_helpers import compare_with_torch, same_error

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _grad_pair(g, t, w):
    (g * gradcore.tensor(w)).sum().backward()
    (t * torch.tensor(w)).sum().backward()


# ---- embedding ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_shape", [(7,), (3, 4), (2, 3, 4), ()])
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1, -4])
def test_embedding_values_and_grads(dtype, idx_shape, padding_idx):
    rng = _rng(1)
    weight = rng.standard_normal((10, 5)).astype(dtype)
    idx = rng.integers(0, 10, size=idx_shape)
    if idx.size:
        idx.flat[0] = (padding_idx or 0) % 10   # a padding position, and repeats below
        idx.flat[-1] = idx.flat[0]
    compare_with_torch(lambda i, w: GF.embedding(i, w, padding_idx=padding_idx),
                       lambda i, w: TF.embedding(i, w, padding_idx=padding_idx),
                       idx, weight, grads=[False, True], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_padding_row_forward_and_zero_grad(dtype):
    w = _rng(2).standard_normal((6, 3)).astype(dtype)
    gw = gradcore.tensor(w, requires_grad=True)
    idx = gradcore.tensor(np.array([[2, 2, 5], [2, 1, 2]]))
    out = GF.embedding(idx, gw, padding_idx=2)
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], w[2])   # stored row, not zeros
    (out * 3.0).sum().backward()
    np.testing.assert_array_equal(gw.grad.numpy()[2], np.zeros(3, dtype))
    np.testing.assert_array_equal(gw.grad.numpy()[1], np.full(3, 3.0, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_scale_grad_by_freq(dtype, padding_idx):
    rng = _rng(3)
    weight = rng.standard_normal((8, 4)).astype(dtype)
    idx = np.array([[1, 1, 3], [3, 3, 7]])
    compare_with_torch(lambda i, w: GF.embedding(i, w, padding_idx=padding_idx, scale_grad_by_freq=True),
                       lambda i, w: TF.embedding(i, w, padding_idx=padding_idx, scale_grad_by_freq=True),
                       idx, weight, grads=[False, True], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (0.5, 1.0), (2.0, 3.0)])
def test_embedding_max_norm(dtype, max_norm, norm_type):
    rng = _rng(4)
    weight = (rng.standard_normal((9, 4)) * 2).astype(dtype)
    idx = np.array([[0, 2, 2], [5, 8, 0]])
    gw = gradcore.tensor(weight, requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    go = GF.embedding(gradcore.tensor(idx), gw, max_norm=max_norm, norm_type=norm_type)
    to = TF.embedding(torch.tensor(idx), tw, max_norm=max_norm, norm_type=norm_type)
    tol = TOL[dtype]
    np.testing.assert_allclose(gw.detach().numpy(), tw.detach().numpy(), **tol)   # renormalised in place
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), **tol)
    _grad_pair(go, to, rng.standard_normal(tuple(to.shape)).astype(dtype))
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), **tol)


def test_embedding_module_init_state_dict_and_repr():
    gradcore.manual_seed(0)
    for args, kwargs in [((10, 3), {}), ((10, 3), {"padding_idx": 0}), ((10, 3), {"padding_idx": -2}),
                         ((10, 3), {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True}),
                         ((5, 2), {"sparse": True})]:
        g, t = gnn.Embedding(*args, **kwargs), torch.nn.Embedding(*args, **kwargs)
        assert repr(g) == repr(t)
        assert g.padding_idx == t.padding_idx
        assert list(g.state_dict()) == list(t.state_dict())
        assert tuple(g.weight.shape) == tuple(t.weight.shape)
        if g.padding_idx is not None:
            assert not g.weight.detach().numpy()[g.padding_idx].any()
        g.load_state_dict({k: gradcore.tensor(v.numpy()) for k, v in t.state_dict().items()})
        np.testing.assert_array_equal(g.weight.detach().numpy(), t.weight.detach().numpy())
        t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    w = gnn.Embedding(2000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_from_pretrained(freeze):
    w = _rng(5).standard_normal((6, 4)).astype(np.float32)
    g = gnn.Embedding.from_pretrained(gradcore.tensor(w), freeze=freeze, padding_idx=-1)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=-1)
    assert repr(g) == repr(t) and g.padding_idx == t.padding_idx == 5
    assert g.weight.requires_grad == t.weight.requires_grad == (not freeze)
    np.testing.assert_array_equal(g.weight.detach().numpy(), w)   # padding row kept as given
    idx = np.array([[5, 0, 0], [3, 5, 1]])
    go, to = g(gradcore.tensor(idx)), t(torch.tensor(idx))
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-6)
    if not freeze:
        gup = _rng(6).standard_normal(tuple(to.shape)).astype(np.float32)
        _grad_pair(go, to, gup)
        np.testing.assert_allclose(g.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    else:
        assert go.grad_fn is None and not go.requires_grad
    with pytest.raises(AssertionError):
        gnn.Embedding.from_pretrained(gradcore.tensor(w[0]))


def test_embedding_errors():
    w = np.zeros((5, 3), np.float32)
    gw, tw = gradcore.tensor(w), torch.tensor(w)
    for bad in ([5], [-1], [[0, 7]]):
        ge, te = same_error(lambda: GF.embedding(gradcore.tensor(bad), gw),
                             lambda: TF.embedding(torch.tensor(bad), tw))
        assert str(ge) == str(te) == "index out of range in self"
    same_error(lambda: gnn.Embedding(5, 3)(gradcore.tensor([5])), lambda: torch.nn.Embedding(5, 3)(torch.tensor([5])))
    ge, te = same_error(lambda: GF.embedding(gradcore.tensor([1.0]), gw), lambda: TF.embedding(torch.tensor([1.0]), tw))
    assert str(ge) == str(te)
    same_error(lambda: GF.embedding(gradcore.tensor([1]), gw, padding_idx=5),
                lambda: TF.embedding(torch.tensor([1]), tw, padding_idx=5))
    same_error(lambda: gnn.Embedding(5, 3, padding_idx=-6), lambda: torch.nn.Embedding(5, 3, padding_idx=-6))
    same_error(lambda: GF.embedding(gradcore.tensor([1]), gw[0]), lambda: TF.embedding(torch.tensor([1]), tw[0]))
    with pytest.raises(NotImplementedError, match="sparse"):
        GF.embedding(gradcore.tensor([1]), gw, sparse=True)


# ---- layer_norm / rms_norm ----

NORM_CASES = [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)), ((3, 2, 2, 4), (2, 4))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,nshape", NORM_CASES)
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_layer_norm(dtype, shape, nshape, affine, eps):
    rng = _rng(7)
    arrays = [(rng.standard_normal(shape) * 3 + 1).astype(dtype)]
    if affine != "none":
        arrays.append(rng.standard_normal(nshape).astype(dtype))
    if affine == "both":
        arrays.append(rng.standard_normal(nshape).astype(dtype))
    compare_with_torch(lambda x, *wb: GF.layer_norm(x, nshape, *wb, eps=eps),
                       lambda x, *wb: TF.layer_norm(x, nshape, *wb, eps=eps), *arrays, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,nshape", NORM_CASES)
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("eps", [None, 1e-6, 0.1])
def test_rms_norm(dtype, shape, nshape, affine, eps):
    rng = _rng(8)
    arrays = [(rng.standard_normal(shape) * 2).astype(dtype)]
    if affine:
        arrays.append(rng.standard_normal(nshape).astype(dtype))
    compare_with_torch(lambda x, *w: GF.rms_norm(x, list(nshape), *w, eps=eps),
                       lambda x, *w: TF.rms_norm(x, list(nshape), *w, eps=eps), *arrays, **TOL[dtype])


def test_rms_norm_default_eps_is_finfo_eps():
    x = np.full((2, 3), 1e-4, np.float32)   # mean(x^2) comparable with eps
    g = GF.rms_norm(gradcore.tensor(x), (3,)).numpy()
    t = TF.rms_norm(torch.tensor(x), (3,)).numpy()
    np.testing.assert_allclose(g, t, rtol=1e-6)


MODULE_CASES = [
    ("LayerNorm", (4,), {}), ("LayerNorm", ([2, 3],), {}), ("LayerNorm", (4,), {"elementwise_affine": False}),
    ("LayerNorm", ((2, 3),), {"bias": False, "eps": 1e-3}),
    ("RMSNorm", (4,), {}), ("RMSNorm", ([2, 3],), {"eps": 1e-6}), ("RMSNorm", (4,), {"elementwise_affine": False}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULE_CASES)
def test_norm_modules(name, args, kwargs):
    g, t = getattr(gnn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(g) == repr(t)
    assert g.normalized_shape == t.normalized_shape
    assert list(g.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(g.state_dict()[k].numpy(), v.numpy())   # ones / zeros
    rng = _rng(9)
    sd = {k: torch.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32)) for k, v in t.state_dict().items()}
    t.load_state_dict(sd)
    g.load_state_dict({k: gradcore.tensor(v.numpy()) for k, v in sd.items()})
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    x = rng.standard_normal((3, 2, 3) if g.normalized_shape == (2, 3) else (3, 5, 4)).astype(np.float32)
    gx, tx = gradcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    go, to = g(gx), t(tx)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-6)
    _grad_pair(go, to, rng.standard_normal(x.shape).astype(np.float32))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    for (gn, gp), (tn, tp) in zip(g.named_parameters(), t.named_parameters()):
        assert gn == tn
        np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn", ["layer_norm", "rms_norm"])
def test_norm_errors(fn):
    x = np.zeros((5, 3), np.float32)
    gx, tx = gradcore.tensor(x), torch.tensor(x)
    gf, tf = getattr(GF, fn), getattr(TF, fn)
    ge, te = same_error(lambda: gf(gx, (4,)), lambda: tf(tx, (4,)))
    assert str(ge) == str(te)
    ge, te = same_error(lambda: gf(gx, (3,), gradcore.ones(4)), lambda: tf(tx, (3,), torch.ones(4)))
    assert str(ge) == str(te)
    same_error(lambda: gf(gx, (5, 3, 1)), lambda: tf(tx, (5, 3, 1)))
    same_error(lambda: gf(gx, 3), lambda: tf(tx, 3))
    same_error(lambda: gf(gx, ()), lambda: tf(tx, ()))
    name = "LayerNorm" if fn == "layer_norm" else "RMSNorm"
    same_error(lambda: getattr(gnn, name)(4)(gx), lambda: getattr(torch.nn, name)(4)(tx))


# ---- ParameterList / ParameterDict ----

def _both(fn):
    return fn(gradcore, gnn), fn(torch, torch.nn)


def test_parameter_list():
    def build(lib, nn):
        pl = nn.ParameterList([nn.Parameter(lib.ones(2)), lib.zeros(2, 3, dtype=lib.float64), "x"])
        pl.append(lib.ones(4))
        pl += [lib.ones(1)]
        return pl
    g, t = _both(build)
    assert repr(g).replace("gradcore", "torch") == repr(t)
    assert len(g) == len(t) == 5
    assert list(g.state_dict()) == list(t.state_dict())
    assert isinstance(g[1], gnn.Parameter) and g[1].requires_grad and g[2] == "x"
    assert repr(g[-2:]).replace("gradcore", "torch") == repr(t[-2:])
    g[0] = gradcore.full((2,), 3.0)
    assert isinstance(g[0], gnn.Parameter) and g[0].detach().numpy().tolist() == [3.0, 3.0]
    for bad in (5, -6):
        with pytest.raises(IndexError):
            g[bad]
        with pytest.raises(IndexError):
            t[bad]
    with pytest.raises(TypeError):
        g.extend(gradcore.ones(2))
    with pytest.raises(RuntimeError):
        g()

    def owner(lib, nn):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.ps = nn.ParameterList([lib.ones(2), lib.ones(3)])
        return M()
    gm, tm = _both(owner)
    assert [n for n, _ in gm.named_parameters()] == [n for n, _ in tm.named_parameters()] == ["ps.0", "ps.1"]
    tm.load_state_dict({k: torch.tensor(v.detach().numpy() + 1) for k, v in gm.state_dict().items()})
    gm.load_state_dict({k: gradcore.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    assert gm.ps[1].detach().numpy().tolist() == [2.0, 2.0, 2.0]


def test_parameter_dict():
    def build(lib, nn):
        return nn.ParameterDict({"b": lib.ones(2), "a": nn.Parameter(lib.zeros(3, 1))})
    g, t = _both(build)
    assert repr(g).replace("gradcore", "torch") == repr(t)
    assert list(g.keys()) == list(t.keys()) == ["a", "b"]
    assert list(g.state_dict()) == list(t.state_dict())
    assert "a" in g and "z" not in g and len(g) == 2 and g.get("z") is None
    g["c"] = gradcore.ones(1)
    assert isinstance(g["c"], gnn.Parameter)
    assert g.pop("c").shape == (1,) and "c" not in g and list(g) == ["a", "b"]
    with pytest.raises(TypeError):
        g[1] = gradcore.ones(1)
    gs, ts = _both(lambda lib, nn: nn.ParameterDict([("z", lib.ones(1))]))
    assert repr(gs).replace("gradcore", "torch") == repr(ts)
    merged = g | gs
    assert list(merged.keys()) == ["a", "b", "z"]
    with pytest.raises(RuntimeError):
        g(1)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    g.load_state_dict({k: gradcore.tensor(v.numpy() + 2) for k, v in t.state_dict().items()})
    assert g["b"].detach().numpy().tolist() == [3.0, 3.0]
