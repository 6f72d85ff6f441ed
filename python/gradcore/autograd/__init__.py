"""gradcore.autograd: ``backward``, ``grad``, the grad-mode switches, custom ``Function``s, ``gradcheck``,
anomaly mode (``detect_anomaly``) and the visible graph (``graph.print_graph`` / ``graph.to_dot``).

The engine is C++ (csrc/autograd/engine.cpp); these functions only normalise arguments."""
from .. import _C
from .._C import Tensor
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .gradcheck import gradcheck, GradcheckError  # noqa: F401
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled, is_anomaly_check_nan_enabled  # noqa: F401
from . import anomaly, graph  # noqa: F401
from .._legacy import Variable  # noqa: F401


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates the gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    if create_graph:
        raise NotImplementedError("backward: create_graph=True (higher-order gradients) is not supported by gradcore")
    roots = _as_list(tensors)
    grads = _as_list(grad_tensors)
    grads += [None] * (len(roots) - len(grads))
    _C._run_backward(roots, grads, bool(retain_graph), inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         is_grads_batched=False, materialize_grads=False):
    """Returns d(outputs)/d(inputs) as a tuple, without touching any ``.grad``."""
    if create_graph:
        raise NotImplementedError("autograd.grad: create_graph=True (higher-order gradients) is not supported by gradcore")
    roots = _as_list(outputs)
    ins = _as_list(inputs)
    grads = _as_list(grad_outputs)
    grads += [None] * (len(roots) - len(grads))
    res = _C._run_grad(roots, grads, ins, bool(retain_graph), bool(allow_unused) or materialize_grads)
    if materialize_grads:
        from .. import zeros_like
        res = [zeros_like(i) if r is None else r for r, i in zip(res, ins)]
    return tuple(res)
