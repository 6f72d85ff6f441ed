"""smooth_l1_loss, huber_loss, kl_div (functions and modules) against PyTorch: values and
gradients for input and target in float32 and float64, every reduction, broadcasting, the
deprecated size_average/reduce flags, errors and warnings; plus cross_entropy's and
BCE-with-logits' options combined."""
import warnings

import numpy as np
import pytest

import gradcore
import gradcore.nn as gnn
import gradcore.nn.functional as GF

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _pair(a, grad=True):
    g = gradcore.tensor(a)
    t = torch.tensor(a)
    if grad and np.issubdtype(a.dtype, np.floating):
        g.requires_grad_(True)
        t.requires_grad_(True)
    return g, t


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _compare(gfn, tfn, arrays, dtype, grads=True, seed=0, ngrad=None, tol=None):
    tol = tol or TOL[dtype]
    arrays = [np.asarray(a) for a in arrays]
    pairs = [_pair(a.astype(dtype) if a.dtype.kind == "f" else a, grads and (ngrad is None or i < ngrad))
             for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = gfn(*[p[0] for p in pairs])
        exp = tfn(*[p[1] for p in pairs])
    assert tuple(got.shape) == tuple(exp.shape)
    assert str(got.dtype).split(".")[-1] == str(exp.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(got), _np(exp), equal_nan=True, **tol)
    if grads and exp.requires_grad:
        w = np.random.default_rng(seed).standard_normal(tuple(exp.shape)).astype(dtype)
        (got * gradcore.tensor(w)).sum().backward()
        (exp * torch.tensor(w)).sum().backward()
        for g, t in pairs:
            if t.requires_grad:
                assert (g.grad is None) == (t.grad is None)
                if t.grad is not None:
                    np.testing.assert_allclose(_np(g.grad), _np(t.grad), equal_nan=True, **tol)
    return got


REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
SHAPES = [((5,), (5,)), ((3, 4), (3, 4)), ((2, 3, 4), (2, 3, 4)), ((), ()), ((3, 4), (4,)), ((3, 1), (1, 4))]


def _data(shape_x, shape_t, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape_x) * scale, rng.standard_normal(shape_t) * scale


# ---- smooth_l1_loss ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.5, 0.0])
@pytest.mark.parametrize("shapes", SHAPES)
def test_smooth_l1(dtype, reduction, beta, shapes):
    x, t = _data(*shapes)
    _compare(lambda a, b: GF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
             lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, t], dtype)
    _compare(lambda a, b: gnn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b),
             lambda a, b: tnn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b), [x, t], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_smooth_l1_huber_kinks(dtype):
    # differences exactly 0 and exactly +-beta / +-delta
    x = np.array([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0])
    t = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 3.0])
    for beta in (1.0, 0.5, 0.0):
        _compare(lambda a, b: GF.smooth_l1_loss(a, b, reduction="none", beta=beta),
                 lambda a, b: TF.smooth_l1_loss(a, b, reduction="none", beta=beta), [x, t], dtype)
    for delta in (1.0, 0.5):
        _compare(lambda a, b: GF.huber_loss(a, b, reduction="none", delta=delta),
                 lambda a, b: TF.huber_loss(a, b, reduction="none", delta=delta), [x, t], dtype)


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, True),
                                                 (True, False)])
def test_legacy_flags(size_average, reduce):
    x, t = _data((3, 4), (3, 4))
    for gfn, tfn in ((GF.smooth_l1_loss, TF.smooth_l1_loss), (GF.kl_div, TF.kl_div)):
        _compare(lambda a, b: gfn(a, b, size_average=size_average, reduce=reduce, reduction="foo"),
                 lambda a, b: tfn(a, b, size_average=size_average, reduce=reduce, reduction="foo"),
                 [x, np.abs(t)], np.float64)
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            gfn(gradcore.tensor(x), gradcore.tensor(t), size_average=size_average, reduce=reduce)
    _compare(lambda a, b: gnn.SmoothL1Loss(size_average, reduce)(a, b),
             lambda a, b: tnn.SmoothL1Loss(size_average, reduce)(a, b), [x, t], np.float64)
    _compare(lambda a, b: gnn.KLDivLoss(size_average, reduce)(a, b),
             lambda a, b: tnn.KLDivLoss(size_average, reduce)(a, b), [x, np.abs(t)], np.float64)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        gnn.SmoothL1Loss(size_average, reduce)


def test_size_warning_and_errors():
    x, t = gradcore.zeros(3, 4), gradcore.zeros(4)
    for fn in (GF.smooth_l1_loss, GF.huber_loss):
        with pytest.warns(UserWarning, match=r"Using a target size \(gradcore.Size\(\[4\]\)\) that is different "
                                             r"to the input size \(gradcore.Size\(\[3, 4\]\)\)"):
            fn(x, t)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fn(x, gradcore.zeros(3, 4))
        with pytest.raises(RuntimeError), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(gradcore.zeros(3), gradcore.zeros(4))
        with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
            fn(x, x, reduction="foo")
        with pytest.raises(NotImplementedError):
            fn(gradcore.zeros(3, dtype=gradcore.int64), gradcore.zeros(3, dtype=gradcore.int64))
        with pytest.raises(TypeError):
            fn(x, 1.0)
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta."):
        GF.smooth_l1_loss(x, x, beta=-0.5)
    for delta in (0.0, -1.0):
        with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta."):
            GF.huber_loss(x, x, delta=delta)
    with pytest.raises(ValueError, match="Weights and input must have the same size."):
        GF.huber_loss(x, x, weight=gradcore.ones(4))
    with pytest.raises(ValueError, match="Invalid reduction mode: foo"):
        GF.huber_loss(x, x, reduction="foo", weight=gradcore.ones(3, 4))
    with pytest.raises(TypeError, match="delta must be a float or int"):
        gnn.HuberLoss(delta="1")
    with pytest.raises(RuntimeError):
        GF.kl_div(gradcore.zeros(3), gradcore.zeros(4), reduction="sum")
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        GF.kl_div(x, x, reduction="foo")


# ---- huber_loss ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("shapes", SHAPES)
def test_huber(dtype, reduction, delta, shapes):
    x, t = _data(*shapes)
    _compare(lambda a, b: GF.huber_loss(a, b, reduction=reduction, delta=delta),
             lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta), [x, t], dtype)
    _compare(lambda a, b: gnn.HuberLoss(reduction=reduction, delta=delta)(a, b),
             lambda a, b: tnn.HuberLoss(reduction=reduction, delta=delta)(a, b), [x, t], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_weight(dtype, reduction):
    x, t = _data((3, 4), (3, 4))
    w = np.random.default_rng(3).random((3, 4))
    _compare(lambda a, b, c: GF.huber_loss(a, b, reduction=reduction, delta=0.7, weight=c),
             lambda a, b, c: TF.huber_loss(a, b, reduction=reduction, delta=0.7, weight=c), [x, t, w], dtype)


# ---- kl_div ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shapes", SHAPES)
def test_kl_div(dtype, reduction, log_target, shapes):
    rng = np.random.default_rng(5)
    x = np.log(rng.random(shapes[0]) + 0.05)
    t = rng.random(shapes[1])
    if log_target:
        t = np.log(t + 0.05)
    elif t.ndim:
        t.reshape(-1)[::3] = 0.0  # xlogy: 0 * log(0) = 0 (its target gradient NaN, as PyTorch's)
    _compare(lambda a, b: GF.kl_div(a, b, reduction=reduction, log_target=log_target),
             lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [x, t], dtype)
    _compare(lambda a, b: gnn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
             lambda a, b: tnn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b), [x, t], dtype)


def test_kl_div_negative_target_and_warning():
    x = np.array([-1.0, -2.0, -3.0, -0.5])
    t = np.array([0.0, 0.5, -1.0, 1.0])
    _compare(lambda a, b: GF.kl_div(a, b, reduction="none"), lambda a, b: TF.kl_div(a, b, reduction="none"),
             [x, t], np.float64)
    with pytest.warns(UserWarning, match="reduction: 'mean' divides the total loss by both the batch size"):
        GF.kl_div(gradcore.zeros(3), gradcore.ones(3))
    for reduction in ("sum", "batchmean", "none"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            GF.kl_div(gradcore.zeros(3), gradcore.ones(3), reduction=reduction)
    # legacy flags win over reduction='batchmean' for the reduction, yet the division stays
    _compare(lambda a, b: GF.kl_div(a, b, size_average=False, reduction="batchmean"),
             lambda a, b: TF.kl_div(a, b, size_average=False, reduction="batchmean"), [x, np.abs(t)], np.float64)


def test_reprs():
    for g, t in ((gnn.SmoothL1Loss(beta=0.5), tnn.SmoothL1Loss(beta=0.5)),
                 (gnn.HuberLoss(delta=2), tnn.HuberLoss(delta=2)),
                 (gnn.KLDivLoss(reduction="batchmean", log_target=True),
                  tnn.KLDivLoss(reduction="batchmean", log_target=True))):
        assert repr(g) == repr(t)
    m = gnn.KLDivLoss(reduction="batchmean", log_target=True)
    assert (m.reduction, m.log_target) == ("batchmean", True)
    assert (gnn.SmoothL1Loss(beta=0.5).beta, gnn.HuberLoss(delta=2).delta) == (0.5, 2)
    assert GF.smooth_l1_loss is gnn.functional.smooth_l1_loss


# ---- existing: cross_entropy and BCE-with-logits options combined ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3), (4,)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_indices(dtype, reduction, shape, weighted, smoothing):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    c = shape[0] if len(shape) == 1 else shape[1]
    y = rng.integers(0, c, size=() if len(shape) == 1 else (shape[0],) + shape[2:]).astype(np.int64)
    if y.ndim:
        y.reshape(-1)[::4] = 1 if weighted else -100
    ignore = 1 if weighted else -100
    w = rng.random(c) + 0.1 if weighted else None
    args = [x, y] + ([w] if weighted else [])
    _compare(lambda a, b, *c_: GF.cross_entropy(a, b, weight=c_[0] if c_ else None, ignore_index=ignore,
                                                reduction=reduction, label_smoothing=smoothing),
             lambda a, b, *c_: TF.cross_entropy(a, b, weight=c_[0] if c_ else None, ignore_index=ignore,
                                                reduction=reduction, label_smoothing=smoothing), args, dtype, ngrad=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(dtype, reduction, shape, weighted, smoothing):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    p = rng.random(shape)
    p = p / p.sum(1, keepdims=True)
    args = [x, p] + ([rng.random(shape[1]) + 0.1] if weighted else [])
    _compare(lambda a, b, *c_: GF.cross_entropy(a, b, weight=c_[0] if c_ else None, reduction=reduction,
                                                label_smoothing=smoothing),
             lambda a, b, *c_: TF.cross_entropy(a, b, weight=c_[0] if c_ else None, reduction=reduction,
                                                label_smoothing=smoothing), args, dtype, ngrad=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
def test_bce_with_logits_pos_weight(dtype, reduction, shape):
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal(shape) * 3, rng.random(shape)
    w, pw = rng.random(shape[-1]) + 0.1, rng.random(shape[-1]) * 3
    _compare(lambda a, b, c, d: GF.binary_cross_entropy_with_logits(a, b, weight=c, pos_weight=d, reduction=reduction),
             lambda a, b, c, d: TF.binary_cross_entropy_with_logits(a, b, weight=c, pos_weight=d, reduction=reduction),
             [x, y, w, pw], dtype, ngrad=2)


# ---- soft_margin_loss, margin_ranking_loss, poisson_nll_loss, gaussian_nll_loss ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_soft_margin(dtype, reduction, shapes):
    x, t = _data(*shapes)
    t = np.sign(t) + (t == 0)
    if shapes[0] == (3, 1):
        with pytest.raises(RuntimeError, match=r"output with shape \[3, 1\] doesn't match the broadcast shape"):
            GF.soft_margin_loss(gradcore.tensor(x), gradcore.tensor(t))
        return
    _compare(lambda a, b: GF.soft_margin_loss(a, b, reduction=reduction),
             lambda a, b: TF.soft_margin_loss(a, b, reduction=reduction), [x, t], dtype, ngrad=1)
    _compare(lambda a, b: gnn.SoftMarginLoss(reduction=reduction)(a, b),
             lambda a, b: tnn.SoftMarginLoss(reduction=reduction)(a, b), [x, t], dtype, ngrad=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.7])
@pytest.mark.parametrize("shape", [(6,), (3, 4), ()])
def test_margin_ranking(dtype, reduction, margin, shape):
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    y = np.asarray(np.where(rng.random(shape) < 0.5, -1.0, 1.0))
    _compare(lambda p, q, r: GF.margin_ranking_loss(p, q, r, margin=margin, reduction=reduction),
             lambda p, q, r: TF.margin_ranking_loss(p, q, r, margin=margin, reduction=reduction), [a, b, y], dtype)
    _compare(lambda p, q, r: gnn.MarginRankingLoss(margin, reduction=reduction)(p, q, r),
             lambda p, q, r: tnn.MarginRankingLoss(margin, reduction=reduction)(p, q, r), [a, b, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(dtype, reduction, log_input, full):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 5)) if log_input else rng.random((3, 5)) * 4
    t = rng.poisson(2.0, (3, 5)).astype(np.float64) + rng.random((3, 5)) * 0.5
    t[0, 0], t[1, 1] = 0.0, 1.0
    _compare(lambda a, b: GF.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
             lambda a, b: TF.poisson_nll_loss(a, b, log_input, full, reduction=reduction), [x, t], dtype)
    _compare(lambda a, b: gnn.PoissonNLLLoss(log_input, full, reduction=reduction, eps=1e-3)(a, b),
             lambda a, b: tnn.PoissonNLLLoss(log_input, full, reduction=reduction, eps=1e-3)(a, b), [x, t], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
def test_gaussian_nll(dtype, reduction, full, var_shape):
    rng = np.random.default_rng(13)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    v = rng.random(var_shape) + 0.1
    v.reshape(-1)[0] = 1e-9  # clamped at eps; the gradient still flows through
    _compare(lambda a, b, c: GF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
             lambda a, b, c: TF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction), [x, t, v], dtype)
    _compare(lambda a, b, c: gnn.GaussianNLLLoss(full=full, reduction=reduction)(a, b, c),
             lambda a, b, c: tnn.GaussianNLLLoss(full=full, reduction=reduction)(a, b, c), [x, t, v], dtype)
    _compare(lambda a, b: GF.gaussian_nll_loss(a, b, 0.5, full=full, reduction=reduction),
             lambda a, b: TF.gaussian_nll_loss(a, b, 0.5, full=full, reduction=reduction), [x, t], dtype)


def test_more_errors_and_reprs():
    x = gradcore.ones(4, 3)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        GF.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        GF.gaussian_nll_loss(x, x, -x)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        GF.gaussian_nll_loss(x, x, gradcore.ones(3))
    with pytest.raises(ValueError, match="foo is not valid"):
        GF.gaussian_nll_loss(x, x, x, reduction="foo")
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        GF.poisson_nll_loss(x, x, reduction="foo")
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        GF.soft_margin_loss(x, x, reduction="foo")
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
        GF.soft_margin_loss(x, x.clone().requires_grad_())
    with gradcore.no_grad():
        GF.soft_margin_loss(x, x.clone().requires_grad_())
    with pytest.raises(RuntimeError, match="margin_ranking_loss : All input tensors should have same dimension"):
        GF.margin_ranking_loss(gradcore.ones(3), gradcore.ones(3), gradcore.ones(1, 3))
    for fn in (lambda: GF.soft_margin_loss(x, x, size_average=False),
               lambda: GF.margin_ranking_loss(x, x, x, reduce=False),
               lambda: GF.poisson_nll_loss(x, x, size_average=True),
               lambda: gnn.PoissonNLLLoss(size_average=False)):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            fn()
    _compare(lambda a, b: GF.poisson_nll_loss(a, b, size_average=False),
             lambda a, b: TF.poisson_nll_loss(a, b, size_average=False), _data((3,), (3,)), np.float64)
    for g, t in ((gnn.SoftMarginLoss(), tnn.SoftMarginLoss()), (gnn.MarginRankingLoss(0.5), tnn.MarginRankingLoss(0.5)),
                 (gnn.PoissonNLLLoss(full=True), tnn.PoissonNLLLoss(full=True)),
                 (gnn.GaussianNLLLoss(full=True), tnn.GaussianNLLLoss(full=True))):
        assert repr(g) == repr(t)


# ---- cosine_embedding_loss, triplet_margin_loss ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding(dtype, reduction, margin, batched):
    rng = np.random.default_rng(14)
    shape = (6, 5) if batched else (5,)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    y = np.array([1.0, -1.0, 1.0, -1.0, 0.0, -1.0]) if batched else np.array(-1.0)
    _compare(lambda p, q, r: GF.cosine_embedding_loss(p, q, r, margin=margin, reduction=reduction),
             lambda p, q, r: TF.cosine_embedding_loss(p, q, r, margin=margin, reduction=reduction), [a, b, y], dtype,
             ngrad=2)
    _compare(lambda p, q, r: gnn.CosineEmbeddingLoss(margin, reduction=reduction)(p, q, r),
             lambda p, q, r: tnn.CosineEmbeddingLoss(margin, reduction=reduction)(p, q, r), [a, b, y], dtype, ngrad=2)


def test_cosine_embedding_zero_vector():
    a, b, y = np.zeros((2, 3)), np.ones((2, 3)), np.array([1.0, -1.0])
    _compare(lambda p, q, r: GF.cosine_embedding_loss(p, q, r), lambda p, q, r: TF.cosine_embedding_loss(p, q, r),
             [a, b, y], np.float64, ngrad=2, tol=dict(rtol=1e-7, atol=0))  # gradients ~1/sqrt(1e-12): ill-conditioned


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [2, 1, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (4,), (2, 3, 4)])
def test_triplet_margin(dtype, reduction, p, swap, shape):
    rng = np.random.default_rng(15)
    a, pos, neg = (rng.standard_normal(shape) for _ in range(3))
    _compare(lambda x, y, z: GF.triplet_margin_loss(x, y, z, margin=1.5, p=p, swap=swap, reduction=reduction),
             lambda x, y, z: TF.triplet_margin_loss(x, y, z, margin=1.5, p=p, swap=swap, reduction=reduction),
             [a, pos, neg], dtype)
    _compare(lambda x, y, z: gnn.TripletMarginLoss(margin=1.5, p=p, swap=swap, reduction=reduction)(x, y, z),
             lambda x, y, z: tnn.TripletMarginLoss(margin=1.5, p=p, swap=swap, reduction=reduction)(x, y, z),
             [a, pos, neg], dtype)


def test_cosine_triplet_errors_and_reprs():
    one = gradcore.ones
    with pytest.raises(RuntimeError, match=r"1D target tensor expects 2D input tensors, but found inputs with sizes "
                                           r"\[3\] and \[3\]\."):
        GF.cosine_embedding_loss(one(3), one(3), one(1))
    with pytest.raises(RuntimeError, match=r"0D target tensor expects 1D input tensors"):
        GF.cosine_embedding_loss(one(2, 3), one(2, 3), gradcore.tensor(1.0))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        GF.cosine_embedding_loss(one(2, 3), one(2, 3), one(2, 1))
    with pytest.raises(RuntimeError, match="expected to have the same number of dimensions, but got: anchor 2D, "
                                           "positive 2D, and negative 1D inputs"):
        GF.triplet_margin_loss(one(2, 3), one(2, 3), one(3))
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        GF.triplet_margin_loss(one(2, 3), one(2, 3), one(2, 3), margin=0)
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin to be greater than 0, got -1 instead"):
        gnn.TripletMarginLoss(margin=-1)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        GF.triplet_margin_loss(one(2, 3), one(2, 3), one(2, 3), reduce=False)
    for g, t in ((gnn.CosineEmbeddingLoss(0.5), tnn.CosineEmbeddingLoss(0.5)),
                 (gnn.TripletMarginLoss(2.0, swap=True), tnn.TripletMarginLoss(2.0, swap=True))):
        assert repr(g) == repr(t)
