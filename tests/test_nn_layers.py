"""nn layers and loss modules: forward and backward against PyTorch with copied weights (to 1e-5),
NumPy references and finite differences without torch, BatchNorm1d running statistics over steps,
and the layers' error messages."""
import math

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
from helpers import assert_close, gradcheck_fn
from nn_helpers import compare_with_torch

rng = np.random.default_rng(0)


def copy_weights(tmod, gmod):
    """Loads a torch module's state dict into the gradcore module (via load_state_dict)."""
    gmod.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})
    return gmod


def check_module_vs_torch(gmod, tmod, *arrays, rtol=1e-5, atol=1e-6):
    """Same forward output, input gradients and parameter gradients as torch (weights already equal)."""
    compare_with_torch(gmod, tmod, *arrays, rtol=rtol, atol=atol)
    tparams = dict(tmod.named_parameters())
    for name, p in gmod.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), rtol=rtol, atol=atol)


# ---- Linear ----

@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,), (1, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_vs_torch(shape, bias):
    torch = pytest.importorskip("torch")
    g, t = nn.Linear(3, 7, bias=bias), torch.nn.Linear(3, 7, bias=bias)
    check_module_vs_torch(copy_weights(t, g), t, rng.standard_normal(shape).astype(np.float32))


def test_linear_float64_vs_torch():
    torch = pytest.importorskip("torch")
    g = nn.Linear(129, 7, dtype=gradcore.float64)
    assert g.weight.dtype == gradcore.float64
    t = torch.nn.Linear(129, 7, dtype=torch.float64)
    check_module_vs_torch(copy_weights(t, g), t, rng.standard_normal((9, 129)), rtol=1e-10, atol=1e-12)


def test_linear_vs_numpy_and_gradcheck():
    lin = nn.Linear(4, 3).double()
    x = rng.standard_normal((5, 4))
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert_close(lin(gradcore.tensor(x)), x @ w.T + b, rtol=1e-12)
    gradcheck_fn(lin, x)
    lin.zero_grad()  # gradcheck's backward calls reached the weights too
    out = lin(gradcore.tensor(x)).sum()
    out.backward()
    assert_close(lin.weight.grad, np.ones((3, 5)) @ x, rtol=1e-12)
    assert_close(lin.bias.grad, np.full(3, 5.0), rtol=1e-12)


def test_linear_errors_name_the_layer_and_shapes():
    lin = nn.Linear(784, 256)
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=784, out_features=256, bias=True\) got an input "
                                           r"of shape \[32, 100\]") as e:
        lin(gradcore.randn(32, 100))
    assert "784" in str(e.value) and "100" in str(e.value)
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(RuntimeError):
        lin(gradcore.randn(2, 784, dtype=gradcore.float64))


# ---- activations and shape layers ----

def _activation_pairs(ns):
    return [ns.ReLU(), ns.LeakyReLU(0.3), ns.GELU(), ns.GELU("tanh"), ns.Softplus(2.0, 5.0), ns.Sigmoid(), ns.Tanh(),
            ns.Softmax(dim=1), ns.LogSoftmax(dim=-1), ns.Flatten(), ns.Flatten(0, 1), ns.Identity(),
            ns.Dropout(0.5).eval(), ns.SiLU(), ns.Sequential(ns.Softplus(), ns.SiLU(inplace=True)),
            ns.Mish(), ns.Hardtanh(), ns.Hardtanh(-2.0, 0.5), ns.ReLU6(),
            ns.Sequential(ns.Softplus(), ns.ReLU6(inplace=True)), ns.Softsign(),
            ns.LogSigmoid()]


@pytest.mark.parametrize("i", range(len(_activation_pairs(nn))))
def test_activation_modules_vs_torch(i):
    torch = pytest.importorskip("torch")
    g, t = _activation_pairs(nn)[i], _activation_pairs(torch.nn)[i]
    assert repr(g) == repr(t)
    check_module_vs_torch(g, t, (rng.standard_normal((4, 3, 5)) * 2).astype(np.float32), atol=1e-5)


def test_activation_modules_without_torch():
    x = rng.standard_normal((3, 4, 2))
    T = gradcore.tensor
    assert_close(nn.ReLU()(T(x)), np.maximum(x, 0))
    assert_close(nn.LeakyReLU(0.1)(T(x)), np.where(x > 0, x, 0.1 * x))
    assert_close(nn.Sigmoid()(T(x)), 1 / (1 + np.exp(-x)))
    assert_close(nn.Tanh()(T(x)), np.tanh(x))
    e = np.exp(x - x.max(1, keepdims=True))
    assert_close(nn.Softmax(dim=1)(T(x)), e / e.sum(1, keepdims=True))
    assert_close(nn.LogSoftmax(dim=1)(T(x)), np.log(e / e.sum(1, keepdims=True)))
    assert nn.Flatten()(T(x)).shape == (3, 8)
    assert nn.Flatten(0, 1)(T(x)).shape == (12, 2)
    t = T(x)
    assert nn.Identity(54, unused=True)(t) is t
    bad = nn.GELU("fast")  # PyTorch checks `approximate` when the layer runs
    with pytest.raises(RuntimeError, match="approximate"):
        bad(t)


def test_dropout_module_train_and_eval():
    d = nn.Dropout(p=0.4)
    x = gradcore.ones(100, 100)
    y = d(x).numpy()
    assert abs((y == 0).mean() - 0.4) < 0.02 and np.allclose(y[y != 0], 1 / 0.6)
    d.eval()
    assert d(x) is x
    assert d.train() is d and d.training
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    seq = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    seq.eval()
    assert not seq[1].training
    inp = gradcore.randn(2, 3)
    assert_close(seq(inp), seq[0](inp))


# ---- BatchNorm1d ----

BN_CASES = [
    ("2d", (8, 4), {}),
    ("3d", (6, 4, 5), {}),
    ("cumulative", (8, 4), {"momentum": None}),
    ("no_affine", (5, 4, 3), {"affine": False}),
    ("no_running", (8, 4), {"track_running_stats": False}),
    ("eps_momentum", (7, 4), {"eps": 1e-3, "momentum": 0.5}),
]


@pytest.mark.parametrize("name,shape,kw", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_batchnorm_vs_torch_over_steps(name, shape, kw):
    torch = pytest.importorskip("torch")
    g, t = nn.BatchNorm1d(4, **kw), torch.nn.BatchNorm1d(4, **kw)
    assert list(g.state_dict()) == list(t.state_dict())
    with torch.no_grad():  # non-trivial affine parameters
        if t.weight is not None:
            t.weight.uniform_(0.5, 2.0)
            t.bias.uniform_(-1.0, 1.0)
    copy_weights(t, g)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        for p in list(g.parameters()) + list(t.parameters()):
            p.grad = None
        check_module_vs_torch(g, t, x, atol=1e-5)
        for (gk, gv), (tk, tv) in zip(g.state_dict().items(), t.state_dict().items()):
            assert gk == tk
            assert_close(gv, tv.numpy(), rtol=1e-5, atol=1e-6)
    g.eval()
    t.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    check_module_vs_torch(g, t, x, atol=1e-5)
    if g.track_running_stats:
        assert g.num_batches_tracked.item() == 4 and g.num_batches_tracked.dtype == gradcore.int64


def test_batchnorm_without_torch():
    bn = nn.BatchNorm1d(3, momentum=0.25)
    assert bn.weight.tolist() == [1, 1, 1] and bn.bias.tolist() == [0, 0, 0]
    x = rng.standard_normal((10, 3)).astype(np.float32)
    out = bn(gradcore.tensor(x)).detach().numpy()
    assert_close(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-5)
    assert_close(bn.running_mean, 0.25 * x.mean(0), atol=1e-6)
    assert_close(bn.running_var, 0.75 + 0.25 * x.var(0, ddof=1), atol=1e-6)
    bn.eval()
    ev = bn(gradcore.tensor(x[:1])).detach().numpy()  # a batch of one is fine in eval mode
    assert_close(ev, (x[:1] - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5), atol=1e-5)
    cum = nn.BatchNorm1d(3, momentum=None)
    batches = [rng.standard_normal((4, 3)) for _ in range(3)]
    for b in batches:
        cum(gradcore.tensor(b, dtype=gradcore.float32))
    assert_close(cum.running_mean, np.mean([b.mean(0) for b in batches], axis=0), atol=1e-6)
    bn64 = nn.BatchNorm1d(2).double()
    gradcheck_fn(lambda x: bn64(x), rng.standard_normal((5, 2, 3)))
    bn.reset_running_stats()
    assert bn.running_var.tolist() == [1, 1, 1] and bn.num_batches_tracked.item() == 0


def test_batchnorm_errors():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        bn(gradcore.randn(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="expected 4 channels in dim 1, got 3"):
        bn(gradcore.randn(5, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(gradcore.randn(1, 4))
    assert bn.num_batches_tracked.item() <= 1


# ---- loss modules ----

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_loss_modules_vs_torch(reduction):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.uniform(size=(6, 4)).astype(np.float32)
    p = rng.uniform(0.02, 0.98, (6, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2, 3])
    w = rng.uniform(0.5, 2, 4).astype(np.float32)
    T, TT = gradcore.tensor, torch.tensor
    pairs = [
        (nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), x, y),
        (nn.L1Loss(reduction=reduction), torch.nn.L1Loss(reduction=reduction), x, y),
        (nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction), x, labels),
        (nn.CrossEntropyLoss(T(w), ignore_index=1, reduction=reduction, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(TT(w), ignore_index=1, reduction=reduction, label_smoothing=0.1), x, labels),
        (nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction), x,
         t / t.sum(1, keepdims=True)),
        (nn.NLLLoss(T(w), reduction=reduction), torch.nn.NLLLoss(TT(w), reduction=reduction), x - 3, labels),
        (nn.BCEWithLogitsLoss(reduction=reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction), x * 4, t),
        (nn.BCEWithLogitsLoss(T(w), reduction=reduction, pos_weight=T(w * 2)),
         torch.nn.BCEWithLogitsLoss(TT(w), reduction=reduction, pos_weight=TT(w * 2)), x, t),
        (nn.BCELoss(T(w), reduction=reduction), torch.nn.BCELoss(TT(w), reduction=reduction), p, t),
    ]
    for g, tm, a, b in pairs:
        assert repr(g) == repr(tm)
        assert list(g.state_dict()) == list(tm.state_dict())
        compare_with_torch(g, tm, a, b, atol=1e-5)


def test_loss_modules_reject_bad_reduction():
    for cls in (nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss, nn.NLLLoss, nn.BCEWithLogitsLoss, nn.BCELoss):
        with pytest.raises(ValueError, match="'average' is not a valid value for reduction"):
            cls(reduction="average")
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"


def test_loss_modules_without_torch():
    x = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    T = gradcore.tensor
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert_close(nn.CrossEntropyLoss()(T(x), T(labels)), -logp[np.arange(5), labels].mean())
    assert_close(nn.NLLLoss(reduction="sum")(T(logp), T(labels)), -logp[np.arange(5), labels].sum())
    assert_close(nn.MSELoss()(T(x), T(x * 0)), (x ** 2).mean())
    assert_close(nn.L1Loss(reduction="sum")(T(x), T(x * 0)), np.abs(x).sum())
    t = (x > 0).astype(np.float64)
    assert_close(nn.BCEWithLogitsLoss()(T(x), T(t)), np.mean(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0) - x * t))
    gradcheck_fn(lambda a: nn.CrossEntropyLoss(label_smoothing=0.2)(a, T(labels)), x)


# ---- a whole model ----

def _mlp(ns):
    return ns.Sequential(ns.Flatten(), ns.Linear(12, 16), ns.BatchNorm1d(16), ns.ReLU(), ns.Dropout(0.0),
                         ns.Linear(16, 8), ns.GELU(), ns.Linear(8, 3))


def test_mlp_training_steps_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm, gm = _mlp(torch.nn), _mlp(nn)
    copy_weights(tm, gm)
    assert repr(gm) == repr(tm)
    tloss, gloss = torch.nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
    data = rng.standard_normal((5, 16, 3, 4)).astype(np.float32)
    labels = rng.integers(0, 3, (5, 16))
    lr = 0.1
    for step in range(5):
        gl = gloss(gm(gradcore.tensor(data[step])), gradcore.tensor(labels[step]))
        tl = tloss(tm(torch.tensor(data[step])), torch.tensor(labels[step]))
        assert gl.item() == pytest.approx(tl.item(), rel=1e-5)
        gm.zero_grad()
        tm.zero_grad()
        gl.backward()
        tl.backward()
        nn.utils.clip_grad_norm_(gm.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0)
        with gradcore.no_grad():
            for p in gm.parameters():
                p.sub_(p.grad * lr)
        with torch.no_grad():
            for p in tm.parameters():
                p.sub_(p.grad * lr)
    for (k, gv), tv in zip(gm.state_dict().items(), tm.state_dict().values()):
        assert_close(gv, tv.numpy(), rtol=1e-4, atol=1e-5)
    gm.eval()
    tm.eval()
    x = rng.standard_normal((4, 3, 4)).astype(np.float32)
    assert_close(gm(gradcore.tensor(x)), tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    assert math.isfinite(gl.item())
