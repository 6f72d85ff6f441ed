"""Gradient clipping, in place on the ``.grad`` of the given parameters."""
import math

from ... import _C
from ..._C import Tensor
from ...autograd.grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _tensor_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of ``tensors`` (a tensor or an iterable of them), as if they were
    concatenated into one vector: ``||(||t_1||_p, ..., ||t_k||_p)||_p`` (``norm_type`` p, inf
    allowed). A 0-dim tensor; 0 for no tensors. Typically called on the gradients
    (``[p.grad for p in model.parameters() if p.grad is not None]``)."""
    tensors = _tensor_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _C.functions.zeros(())
    with no_grad():
        norms = [t.norm(norm_type) for t in tensors]
        total_norm = norms[0] if len(norms) == 1 else _C.functions.stack(norms).norm(norm_type)
        if error_if_nonfinite and not math.isfinite(total_norm.item()):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total_norm


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scales the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))`` in place,
    ``total_norm`` being what :func:`get_total_norm` returned for them."""
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        clip_coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(clip_coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients together so that their joint norm is at most ``max_norm``:

        total = ||(||g_1||_p, ..., ||g_k||_p)||_p      (p = norm_type, inf allowed)
        g_i *= min(1, max_norm / (total + 1e-6))

    (:func:`get_total_norm` then :func:`clip_grads_with_norm_`). Returns ``total`` (the norm before
    clipping) as a 0-dim tensor."""
    parameters = _tensor_list(parameters)
    total_norm = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
