"""cross_entropy and nll_loss: forward against the NumPy references of test_softmax.py, gradients
against float64 finite differences, the fused single node, parallel and spatial paths, numerical
stability, and parity with PyTorch when it is importable (their errors: test_softmax.py)."""
import itertools
import math

import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn, to_np
from test_softmax import RNG, ce, nll, np_cross_entropy, np_log_softmax, np_softmax


# ------------------------------------------------------------------------- cross_entropy

C = 4
RANK_SHAPES = {1: (C,), 2: (5, C), 4: (2, C, 3, 2)}


def make_targets(rank, kind, ignore_index):
    shape = RANK_SHAPES[rank]
    if kind == "prob":
        p = RNG.random(shape) + 0.1
        return p / p.sum(axis=0 if rank == 1 else 1, keepdims=True)
    tshape = () if rank == 1 else (shape[0],) + shape[2:]
    t = RNG.integers(0, C, tshape)
    if rank == 1:
        return np.array(3 if ignore_index == 1 else 1)
    t.reshape(-1)[0] = 1  # class 1 is present, and ignored when ignore_index == 1
    t.reshape(-1)[-1] = 1
    return t


CE_GRID = [c for c in itertools.product(["none", "mean", "sum"], [False, True], [-100, 1], [0.0, 0.2],
                                        ["index", "prob"], [1, 2, 4])
           if not (c[4] == "prob" and c[2] != -100)]


@pytest.mark.parametrize("reduction,weighted,ignore_index,eps,kind,rank", CE_GRID)
def test_cross_entropy_grid(reduction, weighted, ignore_index, eps, kind, rank):
    x = RNG.standard_normal(RANK_SHAPES[rank]) * 2
    t = make_targets(rank, kind, ignore_index)
    w = RNG.random(C) + 0.5 if weighted else None
    wt = None if w is None else gradcore.tensor(w)
    ref = np_cross_entropy(x, t, w, reduction, ignore_index, eps)
    tt = gradcore.tensor(t)
    out = ce(gradcore.tensor(x), tt, wt, reduction, ignore_index, eps)
    assert out.shape == ref.shape
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    out32 = ce(gradcore.tensor(x, dtype=gradcore.float32), gradcore.tensor(t, dtype=gradcore.float32)
               if kind == "prob" else tt, None if w is None else gradcore.tensor(w, dtype=gradcore.float32),
               reduction, ignore_index, eps)
    assert out32.dtype == gradcore.float32
    assert_close(out32, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    # gradients: logits always; soft targets and their weights are differentiable too
    gradcheck_fn(lambda a: ce(a, tt, wt, reduction, ignore_index, eps), x)
    if kind == "prob":
        gradcheck_fn(lambda a, b: ce(a, b, wt, reduction, ignore_index, eps), x, t)
        if weighted:
            gradcheck_fn(lambda a, b, c: ce(a, b, c, reduction, ignore_index, eps), x, t, w)


def test_cross_entropy_is_one_fused_node():
    x = gradcore.tensor(RNG.standard_normal((3, 5)), requires_grad=True)
    loss = ce(x, gradcore.tensor([0, 4, 2]), eps=0.1)
    assert loss.grad_fn.name() == "CrossEntropyBackward0"
    assert nll(gradcore.log_softmax(x, 1), gradcore.tensor([0, 4, 2])).grad_fn.name() == "NllLossBackward0"


def test_cross_entropy_non_contiguous_logits_and_targets():
    xt = RNG.standard_normal((6, 9))  # [C, N] stored, used transposed
    t_all = RNG.integers(0, 6, 18)
    t = t_all[::2]
    x = gradcore.tensor(xt).transpose(0, 1)
    tgt = gradcore.tensor(t_all)._slice(0, 0, 18, 2)
    assert not x.is_contiguous() and not tgt.is_contiguous()
    assert_close(ce(x, tgt, reduction="none"), np_cross_entropy(xt.T, t, reduction="none"), rtol=1e-12)
    gradcheck_fn(lambda a: ce(a.transpose(0, 1), tgt, eps=0.3), xt)


def test_cross_entropy_mixed_probability_dtype():
    x = gradcore.tensor(RNG.standard_normal((3, 4)), dtype=gradcore.float32, requires_grad=True)
    p = gradcore.tensor(RNG.random((3, 4)), dtype=gradcore.float64)
    loss = ce(x, p)
    assert loss.dtype == gradcore.float64
    loss.backward()
    assert x.grad.dtype == gradcore.float32
    assert_close(loss, np_cross_entropy(to_np(x).astype(np.float64), to_np(p)), rtol=1e-6)


def test_cross_entropy_one_dim_input_target_of_size_one():
    x = RNG.standard_normal(5)
    out = ce(gradcore.tensor(x), gradcore.tensor([2]), reduction="none")
    assert out.shape == ()  # as PyTorch: a 1-D input gives a 0-dim per-sample loss
    assert_close(out, np_cross_entropy(x, np.array(2), reduction="none"), rtol=1e-12)


def test_cross_entropy_all_ignored_and_empty():
    x = gradcore.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    t = gradcore.tensor([-100, -100, -100])
    loss = ce(x, t, eps=0.1)
    assert math.isnan(loss.item())
    loss.backward()
    assert (to_np(x.grad) == 0).all()
    assert ce(x, t, reduction="sum").item() == 0.0
    assert_close(ce(x, t, reduction="none"), np.zeros(3))
    e = gradcore.zeros((0, 4), requires_grad=True)
    et = gradcore.zeros((0,), dtype=gradcore.int64)
    assert math.isnan(ce(e, et).item())
    assert ce(e, et, reduction="sum").item() == 0.0
    assert ce(e, et, reduction="none").shape == (0,)
    assert math.isnan(ce(e, gradcore.zeros((0, 4))).item())
    ce(e, et, reduction="sum").backward()
    assert e.grad.shape == (0, 4)


def test_cross_entropy_zero_weights_give_nan_like_pytorch():
    x = gradcore.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    loss = ce(x, gradcore.tensor([0, 1]), gradcore.zeros(3))
    assert math.isnan(loss.item())
    loss.backward()
    assert np.isnan(to_np(x.grad)).all()
    # the targets' classes weigh nothing, the smoothing term alone would not: still NaN
    loss = ce(x, gradcore.tensor([0, 0]), gradcore.tensor([0.0, 1.0, 1.0]), eps=0.3)
    assert math.isnan(loss.item())


def test_cross_entropy_large_batch_parallel_path():
    x = RNG.standard_normal((3000, 17)) * 3
    t = RNG.integers(0, 17, 3000)
    t[::7] = 5
    w = RNG.random(17) + 0.1
    xt = gradcore.tensor(x, requires_grad=True)
    loss = ce(xt, gradcore.tensor(t), gradcore.tensor(w), ignore_index=5, eps=0.15)
    assert_close(loss, np_cross_entropy(x, t, w, "mean", 5, 0.15), rtol=1e-10)
    loss.backward()
    # slow twin: the unfused composition of softmax and the smoothed one-hot
    valid = t != 5
    p = np_softmax(x, 1)
    onehot = np.eye(17)[np.where(valid, t, 0)]
    W = w[np.where(valid, t, 0)][valid].sum()
    g = 0.85 * w[t][:, None] * (p - onehot) + 0.15 / 17 * (p * w.sum() - w)
    g[~valid] = 0
    assert_close(xt.grad, g / W, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [gradcore.float32, gradcore.float64])
def test_cross_entropy_spatial_tiles(dtype):
    # [N, C, H, W] logits: tiles of adjacent pixels (full and partial), against the unfused twin
    xs = RNG.standard_normal((3, 6, 50, 41)) * 3
    ts = RNG.integers(0, 6, (3, 50, 41))
    ts[:, ::3, ::5] = 2  # ignored
    w = RNG.random(6) + 0.2
    xt = gradcore.tensor(xs, dtype=dtype, requires_grad=True)
    x64 = to_np(xt).astype(np.float64)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == gradcore.float64 else dict(rtol=2e-5, atol=1e-6)
    rows = ce(xt, gradcore.tensor(ts), gradcore.tensor(w, dtype=dtype), "none", 2, 0.2)
    assert_close(rows, np_cross_entropy(x64, ts, w, "none", 2, 0.2).astype(to_np(rows).dtype), **tol)
    gout = RNG.standard_normal(ts.shape)
    rows.backward(gradcore.tensor(gout, dtype=dtype))
    p = np.moveaxis(np_softmax(x64, 1), 1, -1)  # [N, H, W, C]
    valid = ts != 2
    tc = np.where(valid, ts, 0)
    onehot = np.eye(6)[tc]
    g = 0.8 * w[tc][..., None] * (p - onehot) + 0.2 / 6 * (p * w.sum() - w)
    g = np.where(valid[..., None], g * gout[..., None], 0.0)
    assert_close(xt.grad, np.moveaxis(g, -1, 1).astype(to_np(xt.grad).dtype), **tol)
    loss = ce(xt, gradcore.tensor(ts), reduction="sum", ignore_index=2)
    assert_close(loss, np.asarray(np_cross_entropy(x64, ts, None, "sum", 2)).astype(to_np(loss).dtype), rtol=1e-5)


@pytest.mark.parametrize("dtype", [gradcore.float32, gradcore.float64])
def test_cross_entropy_stability_large_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 3], [5e3, -5e3, 1e4]])
    xt = gradcore.tensor(x, dtype=dtype, requires_grad=True)
    t = np.array([1, 2, 2])
    loss = ce(xt, gradcore.tensor(t), eps=0.1)
    ref = np_cross_entropy(x, t, eps=0.1)
    assert np.isfinite(loss.item())
    assert_close(loss, ref.astype(to_np(loss).dtype), rtol=1e-5)
    loss.backward()
    g = to_np(xt.grad)
    assert np.isfinite(g).all()
    p = np_softmax(x, 1)
    smoothed = np.eye(3)[t] * 0.9 + 0.1 / 3
    assert_close(g, ((p - smoothed) / 3).astype(g.dtype), rtol=1e-5, atol=1e-6)
    soft = gradcore.tensor(np_softmax(x * 1e-4, 1), dtype=dtype)
    assert np.isfinite(ce(xt, soft).item())


def test_cross_entropy_saved_tensor_checks():
    x = gradcore.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = x * 1.0
    loss = ce(y, gradcore.tensor([0, 1, 2]))
    loss.backward(retain_graph=True)
    once = to_np(x.grad).copy()
    loss.backward()
    assert_close(x.grad, 2 * once)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    y2 = x * 1.0
    loss2 = ce(y2, gradcore.tensor([0, 1, 2]))
    with gradcore.no_grad():
        y2.add_(1.0)
    with pytest.raises(RuntimeError, match="inplace"):
        loss2.backward()


# ------------------------------------------------------------------------------ nll_loss

NLL_GRID = list(itertools.product(["none", "mean", "sum"], [False, True], [-100, 1], [1, 2, 4]))


@pytest.mark.parametrize("reduction,weighted,ignore_index,rank", NLL_GRID)
def test_nll_loss_grid(reduction, weighted, ignore_index, rank):
    x = np_log_softmax(RNG.standard_normal(RANK_SHAPES[rank]), 0 if rank == 1 else 1)
    t = make_targets(rank, "index", ignore_index)
    w = RNG.random(C) + 0.5 if weighted else None
    wt = None if w is None else gradcore.tensor(w)
    tt = gradcore.tensor(t)
    ref = np_cross_entropy(x, t, w, reduction, ignore_index, log_probs=True)
    out = nll(gradcore.tensor(x), tt, wt, reduction, ignore_index)
    assert out.shape == ref.shape
    assert_close(out, ref, rtol=1e-12, atol=1e-13)
    gradcheck_fn(lambda a: nll(a, tt, wt, reduction, ignore_index), x)


def test_nll_after_log_softmax_matches_cross_entropy():
    x = RNG.standard_normal((2, 5, 3))
    t = gradcore.tensor(RNG.integers(0, 5, (2, 3)))
    a = gradcore.tensor(x, requires_grad=True)
    b = gradcore.tensor(x, requires_grad=True)
    la = ce(a, t)
    lb = nll(gradcore.log_softmax(b, 1), t)
    assert_close(la, to_np(lb), rtol=1e-12)
    la.backward()
    lb.backward()
    assert_close(a.grad, to_np(b.grad), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------- torch parity

def torch_ce(torch, x, t, w, reduction, ignore_index, eps):
    return torch.nn.functional.cross_entropy(x, t, weight=w, reduction=reduction, ignore_index=ignore_index,
                                             label_smoothing=eps)


@pytest.mark.parametrize("reduction,weighted,ignore_index,eps,kind,rank", CE_GRID)
def test_cross_entropy_torch_parity(reduction, weighted, ignore_index, eps, kind, rank):
    torch = pytest.importorskip("torch")
    x = (RNG.standard_normal(RANK_SHAPES[rank]) * 2).astype(np.float32)
    t = make_targets(rank, kind, ignore_index)
    if kind == "prob":
        t = t.astype(np.float32)
    w = (RNG.random(C) + 0.5).astype(np.float32) if weighted else None
    g_in = gradcore.tensor(x, requires_grad=True)
    g_t = gradcore.tensor(t, requires_grad=kind == "prob")
    g_w = None if w is None else gradcore.tensor(w, requires_grad=kind == "prob")
    t_in = torch.tensor(x, requires_grad=True)
    t_t = torch.tensor(t, requires_grad=kind == "prob")
    t_w = None if w is None else torch.tensor(w, requires_grad=kind == "prob")
    out = ce(g_in, g_t, g_w, reduction, ignore_index, eps)
    ref = torch_ce(torch, t_in, t_t, t_w, reduction, ignore_index, eps)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(to_np(out), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    grad = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(gradcore.tensor(grad))
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(to_np(g_in.grad), t_in.grad.numpy(), rtol=1e-5, atol=1e-5)
    if kind == "prob":
        np.testing.assert_allclose(to_np(g_t.grad), t_t.grad.numpy(), rtol=1e-5, atol=1e-5)
        if weighted:
            np.testing.assert_allclose(to_np(g_w.grad), t_w.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction,weighted,ignore_index,rank", NLL_GRID)
def test_nll_loss_torch_parity(reduction, weighted, ignore_index, rank):
    torch = pytest.importorskip("torch")
    x = np_log_softmax(RNG.standard_normal(RANK_SHAPES[rank]), 0 if rank == 1 else 1).astype(np.float32)
    t = make_targets(rank, "index", ignore_index)
    w = (RNG.random(C) + 0.5).astype(np.float32) if weighted else None
    g_in = gradcore.tensor(x, requires_grad=True)
    t_in = torch.tensor(x, requires_grad=True)
    out = nll(g_in, gradcore.tensor(t), None if w is None else gradcore.tensor(w), reduction, ignore_index)
    ref = torch.nn.functional.nll_loss(t_in, torch.tensor(t), None if w is None else torch.tensor(w),
                                       reduction=reduction, ignore_index=ignore_index)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(to_np(out), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    grad = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(gradcore.tensor(grad))
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(to_np(g_in.grad), t_in.grad.numpy(), rtol=1e-5, atol=1e-6)
