"""Regression and divergence losses of ``nn.functional`` (smooth_l1_loss, huber_loss, kl_div),
composed from differentiable native ops; the autograd graph they build gives the gradients."""
import math
import warnings

from .. import _C
from .._C import Tensor
from .functional import _reduce, _reduction

__all__ = ["cosine_embedding_loss", "gaussian_nll_loss", "huber_loss", "kl_div", "margin_ranking_loss",
           "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss"]

_fns = _C.functions


def _legacy(reduction, size_average, reduce, op):
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags, with its warning."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(None, size_average, reduce, op)
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                      stacklevel=3)
        return reduction
    return _reduction_enum(reduction)


def _reduction_enum(reduction):
    if not isinstance(reduction, str) or reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _check_tensors(op, input, target):
    for arg, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(t).__name__}")


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _check_floating(op, *ts):
    for t in ts:
        if not t.dtype.is_floating_point:
            name = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                    "bool": "Bool"}.get(str(t.dtype).split(".")[-1], str(t.dtype))
            raise NotImplementedError(f'"{op}_cpu" not implemented for \'{name}\'')


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target); beta = 0 is
    the L1 loss."""
    _check_tensors("smooth_l1_loss", input, target)
    _warn_size(input, target)
    reduction = _legacy(reduction, size_average, reduce, "smooth_l1_loss")
    beta = float(beta)
    input, target = _C._autocast("smooth_l1_loss", input), _C._autocast("smooth_l1_loss", target)
    if beta == 0.0:
        _check_floating("l1", input, target)
        return _reduce((input - target).abs(), reduction)
    _check_floating("smooth_l1", input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    ad = d.abs()
    loss = _fns.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 * d^2 where |d| < delta, else delta * (|d| - 0.5 * delta) (d = input - target), times
    ``weight`` (input's shape) when given."""
    _check_tensors("huber_loss", input, target)
    _warn_size(input, target)
    delta = float(delta)
    input, target = _C._autocast("huber_loss", input), _C._autocast("huber_loss", target)
    _check_floating("huber", input, target)
    if weight is None:
        reduction = _reduction_enum(reduction)
    elif weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - target
    ad = d.abs()
    loss = _fns.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence of log-probabilities ``input`` from ``target`` (probabilities, or
    log-probabilities when ``log_target``): target * (log(target) - input), with 0 * log(0) = 0
    as xlogy has it; 'batchmean' sums and divides by the batch size (input.size(0))."""
    _check_tensors("kl_div", input, target)
    if size_average is not None or reduce is not None:
        mode = _legacy(None, size_average, reduce, "kl_div")
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        mode = "sum" if reduction == "batchmean" else _reduction_enum(reduction)
    input, target = _C._autocast("kl_div", input), _C._autocast("kl_div", target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(target, target): 0 where target == 0 (its gradient there is NaN, as PyTorch's)
        loss = _fns.where(target == 0, 0.0, target * target.log()) - target * input
    out = _reduce(loss, mode)
    if reduction == "batchmean" and input.dim() != 0:
        out = out / input.shape[0]
    return out


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), reduced (targets +1 / -1)."""
    _check_tensors("soft_margin_loss", input, target)
    reduction = _legacy(reduction, size_average, reduce, "soft_margin_loss")
    if target.requires_grad and _fns.is_grad_enabled():
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. "
                           "This input cannot have requires_grad True.")
    input, target = _C._autocast("soft_margin_loss", input), _C._autocast("soft_margin_loss", target)
    loss = (-input * target).exp().log1p()
    if loss.shape != input.shape:  # PyTorch writes into an output of input's shape
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast shape "
                           f"{list(loss.shape)}")
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), reduced."""
    reduction = _legacy(reduction, size_average, reduce, "margin_ranking_loss")
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    input1, input2, target = (_C._autocast("margin_ranking_loss", t) for t in (input1, input2, target))
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), else input - target * log(input + eps); ``full``
    adds Stirling's term target * log(target) - target + 0.5 * log(2 pi target) where target > 1."""
    _check_tensors("poisson_nll_loss", input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy(None, size_average, reduce, "poisson_nll_loss")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    input, target = _C._autocast("poisson_nll_loss", input), _C._autocast("poisson_nll_loss", target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + (target * (2 * math.pi)).log() * 0.5
        loss = loss + _fns.where(target <= 1, 0.0, stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 * log(2 pi) when
    ``full``); ``var`` is input's shape, or one dimension short of it, or differs in one size-1
    dimension, or a float. The clamp at eps passes the gradient through as PyTorch's in-place
    no-grad clamp does."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * _fns.ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape)[:-1] == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var + (var.detach().clamp_min(eps) - var.detach())
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1 (0
    otherwise), cos taken over the last dimension with 1e-12 added to each squared magnitude."""
    reduction = _legacy(reduction, size_average, reduce, "cosine_embedding_loss")
    tdim = target.dim()
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if (input1.dim(), input2.dim()) != (tdim + 1, tdim + 1):
        raise RuntimeError(f"{tdim}D target tensor expects {tdim + 1}D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    input1, input2, target = (_C._autocast("cosine_embedding_loss", t) for t in (input1, input2, target))
    prod = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + 1e-12
    mag2 = (input2 * input2).sum(tdim) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    zeros = _fns.zeros_like(cos)
    loss = _fns.where(target == 1, 1 - cos, zeros) + _fns.where(target == -1, (cos - margin).clamp_min(0), zeros)
    return _reduce(loss, reduction)


def _pairwise_distance(x1, x2, p, eps):
    return (x1 - x2 + eps).norm(p, max(x1.dim(), x2.dim()) - 1)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the p-norm distance of
    x1 - x2 + eps over the last dimension (``swap``: the smaller of d(a, n) and d(p, n))."""
    reduction = _legacy(reduction, size_average, reduce, "triplet_margin_loss")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative {dims[2]}D "
                           "inputs")
    anchor, positive, negative = (_C._autocast("triplet_margin_loss", t) for t in (anchor, positive, negative))
    dist_pos = _pairwise_distance(anchor, positive, p, eps)
    dist_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = _fns.minimum(dist_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((dist_pos - dist_neg + margin).clamp_min(0), reduction)
