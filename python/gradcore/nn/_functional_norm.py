"""``embedding``, ``layer_norm`` and ``rms_norm`` for ``gradcore.nn.functional``: embedding composed
from differentiable native ops (indexing, scatter_add), so the autograd graph gives its gradients;
layer_norm and rms_norm thin wrappers of their native ops (csrc/ops/layer_norm.cpp)."""
import numbers

from .. import _C
from .._C import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad

_fns = _C.functions

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "bool": "BoolTensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor"}


class _ScaleGrad(Function):
    """Identity forward; backward multiplies the incoming gradient by ``scale`` (broadcast)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(scale)
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved_tensors
        return grad * scale, None


def _check_indices(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'indices' (position 2) must be Tensor, not {type(input).__name__}")
    name = str(input.dtype).rsplit(".", 1)[-1]
    if name not in ("int64", "int32"):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{_TYPE_NAMES.get(name, name)} instead (while checking "
                           f"arguments for {op})")


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """Rescales, in place and outside autograd, each row of ``weight`` looked up by ``input`` whose
    ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (scale max_norm / (norm + 1e-7))."""
    idx = input.reshape(-1)
    if idx.numel() == 0:
        return
    with no_grad():
        w = weight.detach()
        rows = w[idx]
        norms = rows.double().norm(norm_type, 1, keepdim=True)
        scale = (max_norm / (norms + 1e-7)).to(w.dtype)
        w[idx] = _fns.where(norms > max_norm, rows * scale, rows)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Looks up rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input``: the result
    has shape ``input.shape + (embedding_dim,)``. The rows looked up at ``padding_idx`` get no gradient;
    ``max_norm`` first renormalises the looked-up rows of ``weight`` in place; ``scale_grad_by_freq``
    divides each row's gradient by its index's count in ``input``."""
    _check_indices(input, "embedding")
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding(): argument 'weight' (position 1) must be Tensor, not {type(weight).__name__}")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    if sparse:
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported by gradcore. "
                                  "Hint: use sparse=False (a dense gradient)")
    input = input.long()
    if input.numel() and (input.min().item() < 0 or input.max().item() >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        input = input.contiguous()
        _embedding_renorm_(weight, input, max_norm, norm_type)
    rows = weight[input]
    if not (weight.requires_grad and _fns.is_grad_enabled()):
        return rows
    if scale_grad_by_freq:
        flat = input.reshape(-1)
        counts = _fns.zeros(n, dtype=weight.dtype, device=weight.device).scatter_add(
            0, flat, _fns.ones(flat.shape[0], dtype=weight.dtype, device=weight.device))
        scale = (1.0 / counts[input]).unsqueeze(-1)
        if padding_idx is not None:
            scale = _fns.where((input == padding_idx).unsqueeze(-1), _fns.zeros_like(scale), scale)
        return _ScaleGrad.apply(rows, scale)
    if padding_idx is not None:
        rows = _fns.where((input == padding_idx).unsqueeze(-1), rows.detach(), rows)
    return rows


def _normalized_shape(normalized_shape, op):
    if type(normalized_shape) is tuple:
        return normalized_shape  # the native op checks the elements
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of ints, not int")
    try:
        return tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of ints, not "
                        f"{type(normalized_shape).__name__}") from None


def _check_input(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the last ``len(normalized_shape)`` dims:
    ``(x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` (Var biased). One native op whose backward
    (NativeLayerNormBackward0) computes the input, weight and bias gradients from the saved row
    statistics."""
    _check_input(input, "layer_norm")
    return _C._nn.layer_norm(input, _normalized_shape(normalized_shape, "layer_norm"), weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the last ``len(normalized_shape)`` dims:
    ``x / sqrt(mean(x**2) + eps) * weight``; ``eps=None`` is ``finfo(input.dtype).eps``. One native
    op, as layer_norm."""
    _check_input(input, "rms_norm")
    return _C._nn.rms_norm(input, _normalized_shape(normalized_shape, "rms_norm"), weight, eps)
