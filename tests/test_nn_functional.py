"""nn.functional against NumPy references and finite differences (no torch needed) and against
PyTorch where importable; nn.init distributions; gradient clipping."""
import math

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from helpers import assert_close, gradcheck_fn
from nn_helpers import compare_with_torch

rng = np.random.default_rng(0)
_erf = np.vectorize(math.erf)


def _log_softmax_np(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# ---- activations ----

ACTIVATIONS = [
    ("relu", lambda x: F.relu(x), lambda x: np.maximum(x, 0)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("gelu", lambda x: F.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("softplus", lambda x: F.softplus(x, beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    ("sigmoid", lambda x: F.sigmoid(x), lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", lambda x: F.tanh(x), np.tanh),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda x: np.exp(_log_softmax_np(x, 1))),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), lambda x: _log_softmax_np(x, -1)),
]


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_vs_numpy_and_gradcheck(name, fn, ref):
    x = rng.standard_normal((4, 7)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from kinks
    assert_close(fn(gradcore.tensor(x)), ref(x), rtol=1e-6, atol=1e-7)
    gradcheck_fn(fn, x)
    x32 = x.astype(np.float32)
    out = fn(gradcore.tensor(x32))
    assert out.dtype == gradcore.float32
    assert_close(out, ref(x32.astype(np.float64)), rtol=1e-5, atol=1e-6)


TORCH_ACTIVATIONS = [
    ("relu", lambda m, x: m.relu(x)),
    ("leaky_relu", lambda m, x: m.leaky_relu(x, 0.1)),
    ("gelu", lambda m, x: m.gelu(x)),
    ("gelu_tanh", lambda m, x: m.gelu(x, approximate="tanh")),
    ("softplus", lambda m, x: m.softplus(x, beta=0.5, threshold=3.0)),
    ("sigmoid", lambda m, x: m.sigmoid(x)),
    ("tanh", lambda m, x: m.tanh(x)),
    ("softmax0", lambda m, x: m.softmax(x, dim=0)),
    ("log_softmax", lambda m, x: m.log_softmax(x, dim=-1)),
]


@pytest.mark.parametrize("name,fn", TORCH_ACTIVATIONS, ids=[a[0] for a in TORCH_ACTIVATIONS])
@pytest.mark.parametrize("shape", [(5, 129), (1, 1, 3), (7,)])
def test_activation_vs_torch(name, fn, shape):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    compare_with_torch(lambda t: fn(F, t), lambda t: fn(torch.nn.functional, t), x, atol=1e-5)


def test_inplace_activations():
    x = gradcore.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x and x.tolist() == [0, 2]
    leaf = gradcore.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    y = leaf * 1
    out = F.leaky_relu(y, 0.5, inplace=True)
    assert out is y and out.tolist() == [-0.5, 0.0, 2.0]
    out.sum().backward()
    assert leaf.grad.tolist() == [0.5, 0.5, 1.0]  # as PyTorch: the slope at 0


def test_softmax_implicit_dim_warns():
    x = gradcore.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(x)
    assert_close(out.sum(1), np.ones(2, np.float32))
    with pytest.warns(UserWarning):
        assert F.log_softmax(gradcore.randn(4)).shape == (4,)
    assert F.softmax(x, 1, dtype=gradcore.float64).dtype == gradcore.float64
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(x, approximate="fast")


def test_linear_vs_numpy_and_gradcheck():
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    assert_close(F.linear(gradcore.tensor(x), gradcore.tensor(w), gradcore.tensor(b)), x @ w.T + b)
    assert_close(F.linear(gradcore.tensor(x), gradcore.tensor(w)), x @ w.T)
    gradcheck_fn(F.linear, x, w, b)
    gradcheck_fn(lambda x, w: F.linear(x, w), rng.standard_normal((2, 3, 3)), w)


# ---- dropout ----

def test_dropout_statistics_and_scaling():
    x = gradcore.ones(200, 500)
    y = F.dropout(x, p=0.3)
    a = y.numpy()
    zero_frac = (a == 0).mean()
    assert abs(zero_frac - 0.3) < 0.01  # 100k Bernoulli draws: sd ~ 0.0015
    assert np.allclose(a[a != 0], 1 / 0.7)
    assert abs(a.mean() - 1.0) < 0.02


def test_dropout_modes_and_gradient():
    x = gradcore.randn(50, 40, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    assert zeros.abs().sum().item() == 0
    y = F.dropout(x, 0.25)
    y.sum().backward()
    kept = y.detach().numpy() != 0
    assert_close(x.grad, np.where(kept, 1 / 0.75, 0.0).astype(np.float32))
    gradcore.manual_seed(3)
    a = F.dropout(gradcore.ones(100), 0.5).numpy()
    gradcore.manual_seed(3)
    assert (F.dropout(gradcore.ones(100), 0.5).numpy() == a).all()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, p)
    with pytest.raises(RuntimeError, match="floating-point"):
        F.dropout(gradcore.ones(3, dtype=gradcore.int64), 0.5)
    z = gradcore.ones(10)
    assert F.dropout(z, 0.5, inplace=True) is z


# ---- batch norm ----

def test_batch_norm_functional_vs_numpy():
    x = rng.standard_normal((6, 3, 5))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = gradcore.zeros(3, dtype=gradcore.float64), gradcore.ones(3, dtype=gradcore.float64)
    out = F.batch_norm(gradcore.tensor(x), rm, rv, gradcore.tensor(w), gradcore.tensor(b), training=True,
                       momentum=0.2)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    ref = (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5) * w[:, None] + b[:, None]
    assert_close(out, ref)
    assert_close(rm, 0.2 * mean)
    assert_close(rv, 0.8 + 0.2 * x.var(axis=(0, 2), ddof=1))
    ev = F.batch_norm(gradcore.tensor(x), rm, rv, training=False)
    assert_close(ev, (x - rm.numpy()[:, None]) / np.sqrt(rv.numpy()[:, None] + 1e-5))
    gradcheck_fn(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x[:, :, :2], w, b)
    gradcheck_fn(lambda x: F.batch_norm(x, None, None, training=True), rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(gradcore.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean has 4 elements but the input has 3 channels"):
        F.batch_norm(gradcore.randn(2, 3), gradcore.zeros(4), gradcore.ones(4))


# ---- losses ----

LOSS_FNS = [F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits, F.binary_cross_entropy]


@pytest.mark.parametrize("fn", LOSS_FNS + [F.cross_entropy, F.nll_loss], ids=lambda f: f.__name__)
def test_bad_reduction_raises(fn):
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        fn(gradcore.rand(3, 2), gradcore.rand(3, 2), reduction="avg")


def _np_reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_losses_vs_numpy_and_gradcheck(reduction):
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    p, t = rng.uniform(0.05, 0.95, (4, 5)), rng.uniform(0, 1, (4, 5))
    w, pw = rng.uniform(0.5, 2, (5,)), rng.uniform(0.5, 3, (5,))
    T = gradcore.tensor
    assert_close(F.mse_loss(T(x), T(y), reduction=reduction), _np_reduce((x - y) ** 2, reduction))
    assert_close(F.l1_loss(T(x), T(y), reduction=reduction), _np_reduce(np.abs(x - y), reduction))
    sig = 1 / (1 + np.exp(-x))
    bce_logits = -(pw * t * np.log(sig) + (1 - t) * np.log(1 - sig)) * w
    assert_close(F.binary_cross_entropy_with_logits(T(x), T(t), T(w), reduction=reduction, pos_weight=T(pw)),
                 _np_reduce(bce_logits, reduction))
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * w
    assert_close(F.binary_cross_entropy(T(p), T(t), T(w), reduction=reduction), _np_reduce(bce, reduction))
    gradcheck_fn(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y)
    gradcheck_fn(lambda a: F.l1_loss(a, T(y), reduction=reduction), x)
    gradcheck_fn(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=T(pw)), x, t)
    gradcheck_fn(lambda a, b: F.binary_cross_entropy(a, b, T(w), reduction=reduction), p, t)


def test_bce_with_logits_is_stable_and_exact_at_zero():
    x = gradcore.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], requires_grad=True)
    y = gradcore.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert np.isfinite(loss.detach().numpy()).all()
    assert_close(loss, [1000.0, 0.0, math.log(2), 0.0, 1000.0], atol=1e-6)
    loss.sum().backward()
    assert_close(x.grad, [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-6)  # sigmoid(x) - y, also at x = 0
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(gradcore.zeros(3), gradcore.zeros(3, 1))


def test_bce_clamps_log_and_checks_range():
    p = gradcore.tensor([0.0, 1.0, 0.5], requires_grad=True)
    t = gradcore.tensor([1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    assert_close(loss, [100.0, 100.0, math.log(2)])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(gradcore.tensor([1.5]), gradcore.tensor([1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(gradcore.rand(3), gradcore.rand(3, 1))


def test_mse_broadcast_warns():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(gradcore.zeros(3, 1), gradcore.zeros(3))


def _np_cross_entropy(x, y, w, ignore_index, eps, reduction):
    n, c = x.shape
    logp = _log_softmax_np(x, 1)
    w = np.ones(c) if w is None else w
    keep = y != ignore_index
    ys = np.where(keep, y, 0)
    nll = np.where(keep, -w[ys] * logp[np.arange(n), ys], 0.0)
    smooth = np.where(keep, -(w * logp).sum(1), 0.0)
    if reduction == "none":
        return (1 - eps) * nll + eps / c * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / c * smooth.sum()
    denom = w[ys][keep].sum()
    return ((1 - eps) * nll.sum() + eps / c * smooth.sum()) / denom


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted,ignore,eps", [(False, -100, 0.0), (True, 2, 0.0), (True, -100, 0.2),
                                                 (False, 1, 0.1)])
def test_cross_entropy_and_nll_vs_numpy(reduction, weighted, ignore, eps):
    x = rng.standard_normal((6, 4))
    y = np.array([0, 1, 2, 3, 2, 1])
    w = rng.uniform(0.5, 2, 4) if weighted else None
    T = gradcore.tensor
    wt = None if w is None else T(w)
    out = F.cross_entropy(T(x), T(y), wt, ignore_index=ignore, reduction=reduction, label_smoothing=eps)
    assert_close(out, _np_cross_entropy(x, y, w, ignore, eps, reduction))
    gradcheck_fn(lambda a: F.cross_entropy(a, T(y), wt, ignore_index=ignore, reduction=reduction,
                                           label_smoothing=eps), x)
    if eps == 0:
        logp = F.log_softmax(T(x), 1)
        assert_close(F.nll_loss(logp, T(y), wt, ignore_index=ignore, reduction=reduction), out)


def test_cross_entropy_probability_targets_vs_numpy():
    x = rng.standard_normal((5, 3))
    t = rng.uniform(size=(5, 3))
    t /= t.sum(1, keepdims=True)
    out = F.cross_entropy(gradcore.tensor(x), gradcore.tensor(t))
    assert_close(out, -(t * _log_softmax_np(x, 1)).sum(1).mean())
    gradcheck_fn(lambda a: F.cross_entropy(a, gradcore.tensor(t), label_smoothing=0.3), x)
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(gradcore.tensor(x), gradcore.tensor(t), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses_vs_torch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 5)).astype(np.float32)
    t = rng.uniform(size=(8, 5)).astype(np.float32)
    p = rng.uniform(0.01, 0.99, (8, 5)).astype(np.float32)
    w5 = rng.uniform(0.5, 2, 5).astype(np.float32)
    labels = np.array([0, 4, 2, 2, 1, 3, 0, 4])
    labels_3d = rng.integers(0, 5, (8, 3))
    x3d = rng.standard_normal((8, 5, 3)).astype(np.float32)
    kw = {"reduction": reduction}
    compare_with_torch(lambda a, b: F.mse_loss(a, b, **kw), lambda a, b: tf.mse_loss(a, b, **kw), x, y)
    compare_with_torch(lambda a, b: F.l1_loss(a, b, **kw), lambda a, b: tf.l1_loss(a, b, **kw), x, y)
    def bce_logits(m):
        return lambda a, b, w, pw: m.binary_cross_entropy_with_logits(a, b, w, pos_weight=pw, **kw)

    compare_with_torch(bce_logits(F), bce_logits(tf), x * 5, t, w5, w5 + 1, grads=[True, True, False, False])
    compare_with_torch(lambda a, b, w: F.binary_cross_entropy(a, b, w, **kw),
                       lambda a, b, w: tf.binary_cross_entropy(a, b, w, **kw), p, t, w5, grads=[True, True, False])
    for smoothing in (0.0, 0.15):
        for ignore in (-100, 2):
            ce = {"ignore_index": ignore, "label_smoothing": smoothing, **kw}
            compare_with_torch(lambda a, b, w: F.cross_entropy(a, b, w, **ce),
                               lambda a, b, w: tf.cross_entropy(a, b, w, **ce), x, labels, w5, grads=[True, False, False])
            compare_with_torch(lambda a, b: F.cross_entropy(a, b, **ce), lambda a, b: tf.cross_entropy(a, b, **ce),
                               x3d, labels_3d)
        compare_with_torch(lambda a, b: F.cross_entropy(a, b, label_smoothing=smoothing, **kw),
                           lambda a, b: tf.cross_entropy(a, b, label_smoothing=smoothing, **kw), x, t / t.sum(1, keepdims=True))
    compare_with_torch(lambda a, b, w: F.nll_loss(F.log_softmax(a, 1), b, w, ignore_index=3, **kw),
                       lambda a, b, w: tf.nll_loss(tf.log_softmax(a, 1), b, w, ignore_index=3, **kw),
                       x, labels, w5, grads=[True, False, False])


# ---- init ----

def test_calculate_gain_and_fans():
    assert nn.init.calculate_gain("linear") == 1 and nn.init.calculate_gain("sigmoid") == 1
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(2 / 6))
    assert nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        nn.init.calculate_gain("leaky_relu", "x")
    assert nn.init._calculate_fan_in_and_fan_out(gradcore.empty(5, 3)) == (3, 5)
    assert nn.init._calculate_fan_in_and_fan_out(gradcore.empty(4, 2, 3, 3)) == (18, 36)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(gradcore.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(gradcore.empty(2, 2), mode="fan_avg")


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for nl, p in [("linear", None), ("conv2d", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                  ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))


def _uniform_ok(a, bound):
    """All samples inside [-bound, bound], spread across it, with U(-b, b)'s std b / sqrt(3)."""
    assert a.min() >= -bound and a.max() <= bound
    assert a.min() < -0.95 * bound and a.max() > 0.95 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)
    assert abs(a.mean()) < 0.03 * bound


def test_init_distributions():
    w = nn.Parameter(gradcore.empty(400, 250))
    assert nn.init.kaiming_uniform_(w, a=math.sqrt(5)) is w
    _uniform_ok(w.detach().numpy(), 1 / math.sqrt(250))
    assert w.requires_grad and w.is_leaf
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    _uniform_ok(w.detach().numpy(), math.sqrt(2) * math.sqrt(3 / 400))
    nn.init.kaiming_normal_(w)
    a = w.detach().numpy()
    assert abs(a.std() - math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(250)) < 0.01 * a.std() * 3
    nn.init.xavier_uniform_(w, gain=2.0)
    _uniform_ok(w.detach().numpy(), 2.0 * math.sqrt(6 / 650))
    nn.init.xavier_normal_(w)
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 650)) < 0.03 * math.sqrt(2 / 650)
    nn.init.uniform_(w, -2, 3)
    b = w.detach().numpy()
    assert b.min() >= -2 and b.max() <= 3 and abs(b.mean() - 0.5) < 0.05
    nn.init.normal_(w, mean=1.0, std=0.5)
    b = w.detach().numpy()
    assert abs(b.mean() - 1.0) < 0.01 and abs(b.std() - 0.5) < 0.01
    assert nn.init.constant_(w, 0.25).detach().numpy().max() == 0.25 and w.detach().numpy().min() == 0.25
    assert nn.init.ones_(w).sum().item() == 100000
    assert nn.init.zeros_(w).abs().sum().item() == 0
    assert w.grad_fn is None and w.requires_grad


def test_init_generator_and_empty():
    g1 = gradcore.Generator().manual_seed(7)
    g2 = gradcore.Generator().manual_seed(7)
    a = nn.init.kaiming_uniform_(gradcore.empty(3, 4), generator=g1).numpy()
    b = nn.init.kaiming_uniform_(gradcore.empty(3, 4), generator=g2).numpy()
    assert (a == b).all()
    c = nn.init.xavier_normal_(gradcore.empty(3, 4), generator=gradcore.Generator().manual_seed(7)).numpy()
    assert (nn.init.xavier_normal_(gradcore.empty(3, 4), generator=gradcore.Generator().manual_seed(7)).numpy()
            == c).all()
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(gradcore.empty(0, 3))


def test_linear_default_init():
    gradcore.manual_seed(0)
    lin = nn.Linear(300, 500)
    bound = 1 / math.sqrt(300)
    _uniform_ok(lin.weight.detach().numpy(), bound)
    bias = lin.bias.detach().numpy()
    assert bias.min() >= -bound and bias.max() <= bound and bias.std() > 0.5 * bound / math.sqrt(3)
    gradcore.manual_seed(0)
    again = nn.Linear(300, 500)
    assert (again.weight.detach().numpy() == lin.weight.detach().numpy()).all()
    with pytest.warns(UserWarning, match="zero-element"):  # PyTorch allows a zero-width layer, with a warning
        assert nn.Linear(0, 4).weight.shape == (4, 0)


# ---- gradient clipping ----

def _params_with_grads(seed):
    r = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (), (2, 2, 2)]
    arrays = [r.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [r.standard_normal(s).astype(np.float32) * 3 for s in shapes]
    ps = []
    for a, g in zip(arrays, grads):
        p = nn.Parameter(gradcore.tensor(a))
        p.grad = gradcore.tensor(g)
        ps.append(p)
    return ps, grads


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_vs_numpy(norm_type):
    ps, grads = _params_with_grads(0)
    flat = np.concatenate([g.reshape(-1) for g in grads]).astype(np.float64)
    total = np.abs(flat).max() if math.isinf(norm_type) else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    out = nn.utils.clip_grad_norm_(ps, max_norm=1.5, norm_type=norm_type)
    assert isinstance(out, gradcore.Tensor) and out.dim() == 0
    assert out.item() == pytest.approx(total, rel=1e-5)
    coef = min(1.0, 1.5 / (total + 1e-6))
    for p, g in zip(ps, grads):
        assert_close(p.grad, g * coef, rtol=1e-5, atol=1e-6)
    # below the threshold nothing changes
    ps, grads = _params_with_grads(1)
    nn.utils.clip_grad_norm_(ps, max_norm=1e6, norm_type=norm_type)
    for p, g in zip(ps, grads):
        assert_close(p.grad, g)


def test_get_total_norm_and_clip_grads_with_norm_vs_torch():
    torch = pytest.importorskip("torch")
    for norm_type in (2.0, 1.0, math.inf):
        ps, grads = _params_with_grads(4)
        tps = [torch.nn.Parameter(torch.tensor(p.detach().numpy())) for p in ps]
        for tp, g in zip(tps, grads):
            tp.grad = torch.tensor(g)
        ours = nn.utils.get_total_norm([p.grad for p in ps], norm_type)
        theirs = torch.nn.utils.get_total_norm([tp.grad for tp in tps], norm_type)
        assert ours.dim() == 0 and ours.item() == pytest.approx(theirs.item(), rel=1e-5)
        assert nn.utils.clip_grads_with_norm_(ps, 1.0, ours) is None
        torch.nn.utils.clip_grads_with_norm_(tps, 1.0, theirs)
        for p, tp in zip(ps, tps):
            assert_close(p.grad, tp.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert nn.utils.get_total_norm([]).item() == 0.0
    single = gradcore.tensor([3.0, 4.0])
    assert nn.utils.get_total_norm(single).item() == pytest.approx(5.0)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.get_total_norm([gradcore.tensor([1.0, float("nan")])], error_if_nonfinite=True)


def test_clip_grad_norm_vs_torch():
    torch = pytest.importorskip("torch")
    for norm_type in (2.0, 1.0, math.inf, 0.5):
        ps, grads = _params_with_grads(2)
        tps = [torch.nn.Parameter(torch.tensor(p.detach().numpy())) for p in ps]
        for tp, g in zip(tps, grads):
            tp.grad = torch.tensor(g)
        ours = nn.utils.clip_grad_norm_(ps, 2.0, norm_type)
        theirs = torch.nn.utils.clip_grad_norm_(tps, 2.0, norm_type)
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
        for p, tp in zip(ps, tps):
            assert_close(p.grad, tp.grad.numpy(), rtol=1e-5, atol=1e-6)
    ps, grads = _params_with_grads(3)
    tps = [torch.nn.Parameter(torch.tensor(p.detach().numpy())) for p in ps]
    for tp, g in zip(tps, grads):
        tp.grad = torch.tensor(g)
    nn.utils.clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        assert_close(p.grad, tp.grad.numpy())


def test_clip_grad_edge_cases():
    p = nn.Parameter(gradcore.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0  # no grads at all
    p.grad = gradcore.tensor([3.0, 4.0, 0.0])
    total = nn.utils.clip_grad_norm_(p, 1.0)  # a single tensor is accepted
    assert total.item() == pytest.approx(5.0)
    assert_close(p.grad, np.array([3, 4, 0]) / (5 + 1e-6), rtol=1e-6)
    p.grad = gradcore.tensor([math.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    lin = nn.Linear(3, 2)
    lin.weight.grad = gradcore.full((2, 3), 5.0)
    nn.utils.clip_grad_value_(lin.parameters(), 0.5)  # a generator of parameters works too
    assert lin.weight.grad.numpy().max() == 0.5
