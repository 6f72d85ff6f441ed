"""``scaled_dot_product_attention`` for ``gradcore.nn.functional``, composed from differentiable
gradcore ops (matmul, softmax, where, dropout), so the autograd graph gives the gradients."""
import math

from .. import _C
from .._C import Tensor

_fns = _C.functions
_FLOATS = ("float16", "bfloat16", "float32", "float64")


# PyTorch's messages name dtypes by their C++ type.
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _dtype_name(dt):
    return str(dt).rsplit(".", 1)[-1]


def _cpp(name):
    return _CPP_NAMES.get(name, name)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + bias) @ value, as ``torch.nn.functional.scaled_dot_product_attention``.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).
    ``attn_mask``: bool (True = the position takes part) or floating (added to the scores),
    broadcastable to (..., L, S). ``is_causal``: lower-triangular L x S mask (top-left aligned);
    it is an error to pass both. ``scale`` defaults to 1/sqrt(E). ``dropout_p`` is applied to the
    attention weights with gradcore's random generator (always, as PyTorch's function does; pass
    0.0 in eval). ``enable_gqa``: key/value heads (dim -3) are repeated to match query's heads.
    Rows whose every position is masked give 0, as PyTorch's math path does.

    Implementation note: this is a composition of ordinary ops and materialises the full
    (..., L, S) score matrix (memory O(L*S) per head); a fused, blocked CPU kernel is future work.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, but got "
                           f"query.dim: {query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    qd, kd, vd = (_dtype_name(t.dtype) for t in (query, key, value))
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_cpp(qd)} key.dtype: {_cpp(kd)} and value.dtype: {_cpp(vd)} instead.")
    if attn_mask is not None and is_causal:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if attn_mask is not None:
        md = _dtype_name(attn_mask.dtype)
        if md != "bool" and md not in _FLOATS:
            raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {_cpp(md)} and  query.dtype: {_cpp(qd)} instead.")
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query")
        if hk != hq:
            key = key.repeat_interleave(hq // hk, dim=-3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, dim=-3)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    scale_factor = 1.0 / math.sqrt(E) if scale is None else float(scale)
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    neg_inf = float("-inf")
    if is_causal:
        keep = _fns.ones((L, S), dtype=_C.dtype.bool, device=query.device).tril()
        scores = scores.masked_fill(keep.logical_not(), neg_inf)
    if attn_mask is not None:
        if attn_mask.dtype == _C.dtype.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), neg_inf)
        else:
            scores = scores + attn_mask
    if is_causal or attn_mask is not None:
        # A row with every score -inf gives 0 (not NaN); set it to 0 before softmax so that
        # neither the forward nor the backward sees NaN there.
        dead = scores.eq(neg_inf).all(-1, keepdim=True)
        scores = _fns.where(dead, 0.0, scores)
        weights = scores.softmax(-1)
        weights = _fns.where(dead, 0.0, weights)
    else:
        weights = scores.softmax(-1)
    if dropout_p > 0.0:
        from .functional import dropout
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)
