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

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the batch dims
    broadcast. ``attn_mask``: bool (True = the position takes part) or floating (added to the
    scores), broadcastable to (..., L, S). ``is_causal``: lower-triangular L x S mask (top-left
    aligned); it is an error to pass both. ``scale`` defaults to 1/sqrt(E). ``dropout_p`` is applied
    to the attention weights with gradcore's random generator (always, as PyTorch's function does;
    pass 0.0 in eval). ``enable_gqa``: key/value heads (dim -3) are repeated to match query's heads.
    Rows whose every position is masked give 0, as PyTorch's CPU kernel does.

    Runs the fused kernel (csrc/cpu/attention.cpp): scores are computed a block at a time with an
    online softmax and never stored whole (memory O(L + S) per head, not O(L*S)); the backward
    recomputes them from the saved per-row logsumexp. A floating mask that requires grad goes
    through the composition (``_composed_attention``), whose graph gives its gradient.
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
    if attn_mask is not None and attn_mask.requires_grad and _fns.is_grad_enabled():
        return _composed_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
    batch = tuple(_fns.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]), tuple(value.shape[:-2])))
    query, key, value = (t if tuple(t.shape[:-2]) == batch else t.expand(batch + tuple(t.shape[-2:]))
                         for t in (query, key, value))
    if attn_mask is not None:
        if attn_mask.dtype == _C.dtype.bool:
            attn_mask = _fns.zeros(tuple(attn_mask.shape), dtype=query.dtype, device=query.device).masked_fill(
                attn_mask.logical_not(), float("-inf"))
        elif attn_mask.dtype != query.dtype:
            attn_mask = attn_mask.to(query.dtype)
    return _fns._fused_sdpa(query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                            None if scale is None else float(scale))


def _composed_attention(query, key, value, attn_mask, dropout_p, is_causal, scale):
    """The composition of ordinary ops (matmul, softmax, where, dropout) that the fused kernel
    replaces: it materialises the (..., L, S) scores. The slow twin of the tests, and the path of a
    floating mask that requires grad."""
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


def _canonical_mask(mask, mask_name, target_type):
    """A bool mask (True = masked out) becomes a float mask with -inf there; a float mask is kept."""
    if mask is None:
        return None
    if mask.dtype == _C.dtype.bool:
        return _fns.zeros(tuple(mask.shape), dtype=target_type, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D "
                                 f"but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                 f"but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                                 f"but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor")


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """PyTorch's ``F.multi_head_attention_forward`` (sequence-first layout (L, N, E) or unbatched (L, E)).

    Masks: bool True = *not* allowed to attend (the opposite of ``scaled_dot_product_attention``);
    float masks are added. Composed from ordinary ops; the (N*heads, L, S) scores are materialised.
    ``static_k``/``static_v`` are not supported."""
    from .functional import dropout, linear, pad, softmax
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not supported")
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None        # the hint alone: scaled_dot_product_attention builds the causal mask
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                                 f"{tuple(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")

    # in-projection
    if in_proj_bias is not None:
        b_q, b_k, b_v = (in_proj_bias[i * embed_dim:(i + 1) * embed_dim] for i in range(3))
    else:
        b_q = b_k = b_v = None
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                                 "v_proj_weight is None")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = (in_proj_weight[i * embed_dim:(i + 1) * embed_dim] for i in range(3))
    q = linear(query, w_q, b_q)
    k = linear(key, w_k, b_k)
    v = linear(value, w_v, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        k = _fns.cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = _fns.cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)

    if add_zero_attn:
        zeros = _fns.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = _fns.cat([k, zeros], dim=1)
        v = _fns.cat([v, zeros], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{key_padding_mask.shape}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * math.sqrt(1.0 / float(head_dim))).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = weights.matmul(v)
        out = out.transpose(0, 1).contiguous().reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).contiguous().reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
