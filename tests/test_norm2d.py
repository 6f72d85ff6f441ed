"""BatchNorm2d/3d (nn/modules/batchnorm.py, one _BatchNorm for every rank) and GroupNorm /
F.group_norm (nn/modules/normalization.py, nn/functional.py): outputs, input and parameter
gradients, running statistics and state_dicts against PyTorch over training steps and in eval mode,
loading PyTorch's state_dict, NumPy references and float64 gradchecks without torch, PyTorch's
errors and reprs, and the same computations on a GPU against the CPU."""
import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from helpers import gradcheck_fn

rng = np.random.default_rng(77)
cuda = pytest.mark.cuda
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def _load_from_torch(tmod, gmod):
    """PyTorch's state_dict into the gradcore module, through NumPy."""
    result = gmod.load_state_dict({k: gradcore.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return gmod


def _step(mod, m, x, w):
    """One forward and backward of sum(mod(x) * w); returns the output and every gradient."""
    for p in mod.parameters():
        p.grad = None
    t = m.tensor(x, requires_grad=True)
    out = mod(t)
    (out * m.tensor(w)).sum().backward()
    grads = {name: p.grad for name, p in mod.named_parameters()}
    return out.detach().numpy(), t.grad.numpy(), {k: v.numpy() for k, v in grads.items()}


def _compare_step(g, t, x, tol):
    import torch
    w = rng.standard_normal(x.shape).astype(x.dtype)
    (go, gx, gp), (to, tx, tp) = _step(g, gradcore, x, w), _step(t, torch, x, w)
    np.testing.assert_allclose(go, to, rtol=tol, atol=tol)
    np.testing.assert_allclose(gx, tx, rtol=tol, atol=tol)
    assert gp.keys() == tp.keys()
    for name in gp:
        np.testing.assert_allclose(gp[name], tp[name], rtol=tol, atol=tol, err_msg=name)


def _compare_state(g, t, tol):
    gs, ts = g.state_dict(), t.state_dict()
    assert list(gs) == list(ts)
    for k in gs:
        np.testing.assert_allclose(gs[k].numpy(), ts[k].numpy(), rtol=tol, atol=tol, err_msg=k)
        assert str(gs[k].dtype).split(".")[-1] == str(ts[k].dtype).split(".")[-1], k


# ---- BatchNorm2d / BatchNorm3d ----

BN_CASES = [
    ("default", {}),
    ("cumulative", {"momentum": None}),
    ("no_affine", {"affine": False}),
    ("no_running", {"track_running_stats": False}),
    ("no_bias", {"bias": False}),
    ("eps_momentum", {"eps": 1e-3, "momentum": 0.5}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer,shape", [("BatchNorm2d", (6, 3, 5, 4)), ("BatchNorm2d", (2, 3, 1, 7)),
                                         ("BatchNorm3d", (3, 3, 2, 4, 3))])
@pytest.mark.parametrize("name,kw", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_batchnorm_matches_pytorch_over_steps(name, kw, layer, shape, dtype):
    torch = pytest.importorskip("torch")
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    g, t = getattr(nn, layer)(3, **kw).to(gradcore.float64 if dtype == np.float64 else gradcore.float32), \
        getattr(torch.nn, layer)(3, **kw).to(tdtype)
    assert repr(g) == repr(t)
    with torch.no_grad():  # non-trivial affine parameters
        if t.weight is not None:
            t.weight.uniform_(0.5, 2.0)
        if t.bias is not None:
            t.bias.uniform_(-1.0, 1.0)
    _load_from_torch(t, g)
    tol = TOL[dtype]
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        _compare_step(g, t, x, tol)
        _compare_state(g, t, tol)
    g.eval()
    t.eval()
    _compare_step(g, t, rng.standard_normal(shape).astype(dtype), tol)
    _compare_state(g, t, tol)
    if g.track_running_stats:
        assert g.num_batches_tracked.item() == 3 and g.num_batches_tracked.dtype == gradcore.int64


def test_batchnorm2d_loads_a_trained_pytorch_state_dict():
    torch = pytest.importorskip("torch")
    t = torch.nn.BatchNorm2d(4, momentum=None)
    with torch.no_grad():
        t.weight.uniform_(0.5, 2.0)
        t.bias.uniform_(-1.0, 1.0)
    for _ in range(5):
        t(torch.tensor(rng.standard_normal((3, 4, 6, 5)) * 2 + 1, dtype=torch.float32))
    t.eval()
    g = _load_from_torch(t, nn.BatchNorm2d(4, momentum=None)).eval()
    assert g.num_batches_tracked.item() == 5
    _compare_step(g, t, rng.standard_normal((1, 4, 3, 3)).astype(np.float32), 1e-5)  # a batch of one is fine in eval
    g.train()
    t.train()
    _compare_step(g, t, rng.standard_normal((2, 4, 3, 3)).astype(np.float32), 1e-5)
    _compare_state(g, t, 1e-6)  # the cumulative average continues from the loaded count


def test_batchnorm2d_without_torch():
    bn = nn.BatchNorm2d(3, momentum=0.25)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    x = rng.standard_normal((4, 3, 5, 2))
    out = bn(gradcore.tensor(x, dtype=gradcore.float32)).detach().numpy()
    mean, var = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.25 * mean.reshape(3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.75 + 0.25 * x.var((0, 2, 3), ddof=1), rtol=1e-5, atol=1e-6)
    bn.eval()
    ev = bn(gradcore.tensor(x[:1], dtype=gradcore.float32)).detach().numpy()
    ref = (x[:1] - bn.running_mean.numpy().reshape(1, 3, 1, 1)) / np.sqrt(bn.running_var.numpy().reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(ev, ref, rtol=1e-4, atol=1e-5)
    cum = nn.BatchNorm2d(2, momentum=None)
    batches = [rng.standard_normal((3, 2, 2, 2)) for _ in range(3)]
    for b in batches:
        cum(gradcore.tensor(b, dtype=gradcore.float32))
    np.testing.assert_allclose(cum.running_mean.numpy(), np.mean([b.mean((0, 2, 3)) for b in batches], axis=0),
                               rtol=1e-5, atol=1e-6)
    free = nn.BatchNorm2d(2, track_running_stats=False).eval().double()  # no running stats: batch stats in eval too
    y = rng.standard_normal((3, 2, 2, 2))
    np.testing.assert_allclose(free(gradcore.tensor(y)).detach().numpy(),
                               (y - y.mean((0, 2, 3), keepdims=True)) / np.sqrt(y.var((0, 2, 3), keepdims=True) + 1e-5),
                               rtol=1e-10, atol=1e-10)
    with pytest.raises(RuntimeError, match="dtype"):  # PyTorch: "mixed dtype (CPU): all inputs must share same datatype"
        nn.BatchNorm2d(2)(gradcore.tensor(y))
    bn64 = nn.BatchNorm2d(2).double()
    with gradcore.no_grad():
        bn64.weight.copy_(gradcore.tensor([1.5, -0.5], dtype=gradcore.float64))
    gradcheck_fn(lambda t: bn64(t), rng.standard_normal((3, 2, 2, 3)))
    gradcheck_fn(lambda t: nn.BatchNorm3d(2).double().eval()(t), rng.standard_normal((2, 2, 2, 1, 3)))


def test_batchnorm_rank_and_channel_errors():
    for layer, x, expected in [(nn.BatchNorm2d(3), gradcore.randn(2, 3, 4), r"expected 4D input \(got 3D input\)"),
                               (nn.BatchNorm2d(3), gradcore.randn(2, 3, 4, 4, 1), r"expected 4D input \(got 5D input\)"),
                               (nn.BatchNorm3d(3), gradcore.randn(2, 3, 4, 4), r"expected 5D input \(got 4D input\)"),
                               (nn.BatchNorm1d(3), gradcore.randn(2, 3, 4, 4), r"expected 2D or 3D input \(got 4D input\)")]:
        with pytest.raises(ValueError, match=expected):
            layer(x)
        assert layer.num_batches_tracked.item() == 0  # a rejected input does not count
    with pytest.raises(RuntimeError, match="expected 3 channels in dim 1, got 4"):
        nn.BatchNorm2d(3)(gradcore.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(gradcore.randn(1, 3, 1, 1))
    assert isinstance(nn.BatchNorm2d(3), nn.modules.batchnorm._BatchNorm)
    assert repr(nn.BatchNorm3d(5, momentum=None, affine=False)) == \
        "BatchNorm3d(5, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)"


# ---- GroupNorm ----

GN_CASES = [
    ((4, 6), 3),
    ((2, 6, 5), 2),
    ((2, 6, 5), 6),  # instance-norm-like: one channel per group
    ((2, 6, 5), 1),  # layer-norm-like: one group
    ((3, 8, 4, 5), 4),
    ((2, 4, 3, 2, 3), 2),
    ((1, 9, 7, 1), 3),
    ((0, 6, 3), 3),  # empty batch
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,groups", GN_CASES, ids=[f"gn{i}" for i in range(len(GN_CASES))])
def test_group_norm_matches_pytorch(shape, groups, affine, dtype):
    torch = pytest.importorskip("torch")
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    wb = [rng.uniform(0.5, 2.0, c).astype(dtype), rng.standard_normal(c).astype(dtype)]
    wb = {"both": wb, "weight": [wb[0], None], "none": [None, None]}[affine]
    res = []
    for m in (gradcore, torch):
        ts = [m.tensor(a, requires_grad=True) if a is not None else None for a in [x] + wb]
        out = m.nn.functional.group_norm(ts[0], groups, ts[1], ts[2], eps=1e-4)
        w = np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(dtype)
        (out * m.tensor(w)).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() if t is not None else None for t in ts])
    tol = TOL[dtype]
    for a, b in zip(*res):
        if b is None:
            assert a is None
            continue
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"eps": 1e-3, "bias": False}])
def test_group_norm_layer_matches_pytorch(kw):
    torch = pytest.importorskip("torch")
    g, t = nn.GroupNorm(2, 6, **kw).double(), torch.nn.GroupNorm(2, 6, **kw).double()
    assert repr(g) == repr(t)
    assert list(g.state_dict()) == list(t.state_dict())
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(0.5, 2.0)
    _load_from_torch(t, g)
    for mode in ("train", "eval"):  # no running statistics: the same in both
        getattr(g, mode)()
        getattr(t, mode)()
        _compare_step(g, t, rng.standard_normal((3, 6, 4, 2)), 1e-10)


def test_group_norm_without_torch():
    x = rng.standard_normal((2, 6, 3, 2))
    w, b = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    groups = x.reshape(2, 3, -1)
    ref = ((groups - groups.mean(-1, keepdims=True)) / np.sqrt(groups.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    ref = ref * w.reshape(6, 1, 1) + b.reshape(6, 1, 1)
    out = F.group_norm(gradcore.tensor(x), 3, gradcore.tensor(w), gradcore.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10)
    layer = nn.GroupNorm(3, 6)
    assert layer.weight.tolist() == [1] * 6 and layer.bias.tolist() == [0] * 6
    assert repr(layer) == "GroupNorm(3, 6, eps=1e-05, affine=True, bias=True)"
    gradcheck_fn(lambda t, wt, bt: F.group_norm(t, 2, wt, bt), rng.standard_normal((2, 4, 3)),
                 rng.uniform(0.5, 2.0, 4), rng.standard_normal(4))
    gradcheck_fn(lambda t: F.group_norm(t, 3), rng.standard_normal((1, 6, 2, 2)))


GN_ERRORS = [
    (lambda: nn.GroupNorm(4, 6), ValueError, r"num_channels \(6\) must be divisible by num_groups \(4\)"),
    (lambda: F.group_norm(gradcore.randn(2, 6, 3), 4), RuntimeError,
     r"divisible by num_groups, but got input of shape \[2, 6, 3\] and num_groups=4"),
    (lambda: nn.GroupNorm(3, 6)(gradcore.randn(2, 5, 3)), RuntimeError, "divisible by num_groups"),
    (lambda: F.group_norm(gradcore.randn(6), 2), RuntimeError, "Expected at least 2 dimensions for input tensor"),
    (lambda: F.group_norm(gradcore.randn(2, 6), 3, gradcore.ones(5)), RuntimeError,
     r"weight to be a vector of size equal to the number of channels in input, but got weight of shape \[5\]"),
    (lambda: F.group_norm(gradcore.randn(2, 6), 3, None, gradcore.ones(2, 3)), RuntimeError, "bias of shape"),
    (lambda: F.group_norm(gradcore.randn(1, 4, 1), 4), ValueError,
     r"Expected more than 1 value per channel when training, got input size \[1, 4, 1\]"),
    (lambda: F.group_norm(gradcore.randn(2, 6), 0), ZeroDivisionError, "num_groups"),
    (lambda: F.group_norm(gradcore.randn(2, 6), -2), RuntimeError, "Expected num groups to be greater than 0, got -2"),
    (lambda: F.group_norm(gradcore.ones(2, 6, dtype=gradcore.int64), 3), NotImplementedError, "floating-point"),
]


@pytest.mark.parametrize("call,exc,match", GN_ERRORS, ids=[f"err{i}" for i in range(len(GN_ERRORS))])
def test_group_norm_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---- on a GPU, against the CPU ----

@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", ["BatchNorm2d", "GroupNorm"])
def test_cuda_norm_layers_match_cpu(layer, dtype):
    gdtype = gradcore.float64 if dtype == np.float64 else gradcore.float32
    make = (lambda: nn.BatchNorm2d(5)) if layer == "BatchNorm2d" else (lambda: nn.GroupNorm(5, 10))
    channels = 5 if layer == "BatchNorm2d" else 10
    cpu, gpu = make().to(gdtype), make().to(gdtype)
    with gradcore.no_grad():
        cpu.weight.copy_(gradcore.tensor(rng.uniform(0.5, 2.0, channels), dtype=gdtype))
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    tol = 2e-5 if dtype == np.float32 else 1e-10
    for mode in ("train", "eval"):
        getattr(cpu, mode)()
        getattr(gpu, mode)()
        x = rng.standard_normal((8, channels, 13, 11)).astype(dtype)
        w = rng.standard_normal(x.shape).astype(dtype)
        results = []
        for mod, device in ((cpu, "cpu"), (gpu, "cuda")):
            for p in mod.parameters():
                p.grad = None
            t = gradcore.tensor(x, device=device, requires_grad=True)
            out = mod(t)
            assert out.device.type == device
            (out * gradcore.tensor(w, device=device)).sum().backward()
            results.append([out.detach().cpu().numpy(), t.grad.cpu().numpy()] +
                           [p.grad.cpu().numpy() for p in mod.parameters()])
        for a, b in zip(*results):
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
    for (k, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=tol, atol=tol, err_msg=k)
