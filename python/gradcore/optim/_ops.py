"""Small in-place tensor updates that PyTorch's optimizers use and gradcore tensors do not have as
methods (``lerp_``, ``addcmul_``, ``addcdiv_``, ``dot``), composed from the ops they do have.

The optimizers written in Python (NAdam, RAdam, Adadelta, LBFGS) call these, so each of their
steps stays a handful of tensor ops per parameter."""

__all__ = ["lerp_", "addcmul_", "addcdiv_", "dot"]


def lerp_(start, end, weight):
    """``start.lerp_(end, weight)`` with PyTorch's two-sided formula: ``start + w (end - start)``
    for ``w < 0.5``, ``end - (1 - w)(end - start)`` otherwise."""
    diff = end.sub(start)
    if weight < 0.5:
        return start.add_(diff, alpha=weight)
    return start.copy_(end.sub(diff, alpha=1.0 - weight))


def addcmul_(x, t1, t2, value=1.0):
    """``x.addcmul_(t1, t2, value=value)``: ``x += value * t1 * t2``."""
    return x.add_(t1.mul(t2), alpha=value)


def addcdiv_(x, t1, t2, value=1.0):
    """``x.addcdiv_(t1, t2, value=value)``: ``x += value * t1 / t2``."""
    return x.add_(t1.div(t2), alpha=value)


def dot(a, b):
    """The inner product of two 1-D tensors, as a 0-dim tensor."""
    return a.matmul(b)
