"""``gradcore.nn.functional``: activations, dropout, batch norm and losses as functions.

Each function is a few native ops (``gradcore._C``); the autograd graph they build gives the
gradient, so nothing here loops over elements."""
import warnings

from .. import _C, _debug_slot
from .._C import Tensor

_fns = _C.functions
_nn = _C._nn
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction, size_average=None, reduce=None, op="loss"):
    """Validates ``reduction`` (mapping PyTorch's deprecated size_average/reduce flags onto it)."""
    if size_average is None and reduce is None and type(reduction) is str and reduction in _REDUCTIONS:
        return reduction
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected 'none', 'mean' or 'sum'")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{arg}' must be a Tensor, not {type(x).__name__}")


# ---- activations ----

def _row_op(name, doc, inplace=False):
    """``F.<name>(input[, inplace=False])`` for an op row of csrc/kernels/unary.h bound as
    ``gradcore._C._nn.<name>`` (and ``<name>_`` in place)."""
    op = getattr(_nn, name)
    if inplace:
        op_ = getattr(_nn, name + "_")

        def fn(input, inplace=False):
            return op_(input) if inplace else op(input)
    else:
        def fn(input):
            return op(input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def relu(input, inplace=False):
    return input.relu_() if inplace else _fns.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """max(0, x) + negative_slope * min(0, x)."""
    return (_nn.leaky_relu_ if inplace else _nn.leaky_relu)(input, float(negative_slope))


def gelu(input, approximate="none"):
    """x * Phi(x) (``approximate='tanh'``: the tanh approximation)."""
    return _nn.gelu(input, approximate)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return _nn.softplus(input, float(beta), float(threshold))


silu = _row_op("silu", "x * sigmoid(x), the Sigmoid Linear Unit (swish).", inplace=True)
mish = _row_op("mish", "x * tanh(softplus(x)).", inplace=True)
softsign = _row_op("softsign", "x / (1 + |x|).")
logsigmoid = _row_op("log_sigmoid", "log(sigmoid(x)), computed without overflow.")


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; the gradient is zero at the bounds and beyond."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return (_nn.hardtanh_ if inplace else _nn.hardtanh)(input, float(min_val), float(max_val))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def sigmoid(input):
    return _fns.sigmoid(input)


def tanh(input):
    return _fns.tanh(input)


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim``, computed stably."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype)


def linear(input, weight, bias=None):
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    return _C._linear(input, weight, bias)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of input (N, C, H, W) or (C, H, W) with
    weight (out_channels, C / groups, kH, kW); padding an int, a pair, 'valid' or 'same'."""
    return _nn.conv2d(input, weight, bias, stride, padding, dilation, groups)


def _single(v, name, op="conv1d"):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of 1 value to match "
                               f"the {op[:-2]} dimensions, but got {name}={list(v)}")
        v = v[0]
    return v


def _check_conv1d_operands(op, input, weight, weight_layout):
    if not isinstance(input, _C.Tensor) or not isinstance(weight, _C.Tensor):
        bad = "input" if not isinstance(input, _C.Tensor) else "weight"
        raise TypeError(f"{op}(): argument '{bad}' must be Tensor, not "
                        f"{type(input if bad == 'input' else weight).__name__}")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}: expected 2D (unbatched) or 3D (batched) input, but got input of size: "
                           f"{list(input.shape)}. Hint: sequences are [N, C, L] (or [C, L] for one).")
    if weight.dim() != 3:
        raise RuntimeError(f"{op}: weight must be 3-D {weight_layout}, but got size {list(weight.shape)}")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of input (N, C, L) or (C, L) with weight (out_channels, C / groups, k): the 2-D
    convolution over a height of 1 (same kernels, same gradients); padding an int, 'valid' or 'same'."""
    _check_conv1d_operands("conv1d", input, weight, "[out_channels, in_channels / groups, kW]")
    if isinstance(groups, int) and groups > 0 and weight.shape[1] * groups != input.shape[-2]:
        raise RuntimeError(f"conv1d: Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {weight.shape[1] * groups} channels, but got "
                           f"{input.shape[-2]} channels instead. Hint: the layer's in_channels must match the "
                           "input's channel dim.")
    pad = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    out = _nn.conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, _single(stride, "stride")), pad,
                     (1, _single(dilation, "dilation")), groups)
    return out.squeeze(-2)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window of (N, C, H, W) or (C, H, W) input; stride defaults to kernel_size. With
    return_indices, also the argmax's flat position in each H*W plane."""
    return _nn.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (conv2d's adjoint) of input (N, C_in, H, W) or (C_in, H, W) with
    weight (C_in, C_out / groups, kH, kW)."""
    return _nn.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution of input (N, C_in, L) or (C_in, L) with weight (C_in, C_out / groups,
    k): the 2-D kernel over a height of 1."""
    _check_conv1d_operands("conv_transpose1d", input, weight, "[in_channels, out_channels / groups, kW]")
    one = (lambda v, name: _single(v, name, "conv_transpose1d"))
    out = _nn.conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, one(stride, "stride")),
                               (0, one(padding, "padding")), (0, one(output_padding, "output_padding")), groups,
                               (1, one(dilation, "dilation")))
    return out.squeeze(-2)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of (N, C, H, W) or (C, H, W) input as columns (N, C * kH * kW, L), L the
    number of blocks (im2col; rows ordered channel, then kernel row, then kernel column)."""
    return _nn.unfold(input, kernel_size, dilation, padding, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums sliding blocks (N, C * kH * kW, L) or (C * kH * kW, L) back into (N, C, *output_size)
    (col2im, unfold's adjoint: overlapping blocks add up)."""
    return _nn.fold(input, output_size, kernel_size, dilation, padding, stride)


def _pool1d_input(input, op):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}: expected 2D or 3D (batch mode) tensor for input, but got size "
                           f"{list(input.shape)}. Hint: sequences are [N, C, L] (or [C, L] for one).")
    return input.unsqueeze(-2)


def _squeeze_pooled(out, with_indices):
    if with_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def _window_1d(op, kernel_size, stride, padding, dilation=1):
    """kernel, stride (None or empty: the kernel), padding and dilation of a 1-D pool as ints."""
    stride = kernel_size if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride
    return tuple(_single(v, name, op) for v, name in
                 ((kernel_size, "kernel_size"), (stride, "stride"), (padding, "padding"), (dilation, "dilation")))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window of (N, C, L) or (C, L) input (the 2-D kernel over a height of 1); stride
    defaults to kernel_size. With return_indices, also the argmax's position along L."""
    x = _pool1d_input(input, "max_pool1d")
    k, s, p, d = _window_1d("max_pool1d", kernel_size, stride, padding, dilation)
    out = _nn.max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    return _squeeze_pooled(out, return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window of (N, C, H, W) or (C, H, W) input; stride defaults to kernel_size. Zero
    padding counts in the divisor when count_include_pad; divisor_override replaces the divisor."""
    return _nn.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window of (N, C, L) or (C, L) input (the 2-D kernel over a height of 1)."""
    x = _pool1d_input(input, "avg_pool1d")
    k, s, p, _ = _window_1d("avg_pool1d", kernel_size, stride, padding)
    return _nn.avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def _output_size(input, output_size, n, op):
    """PyTorch's adaptive output_size: an int, or n ints where None keeps the input's size."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != n:
            raise RuntimeError(f"{op}: output_size must be {n} (got {list(output_size)}). Hint: give one size per "
                               f"pooled dim, or a single int.")
        return tuple(input.shape[i - n] if v is None else int(v) for i, v in enumerate(output_size))
    return (int(output_size),) * n


def _adaptive_2d_input(input, op):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dim() not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got {list(input.shape)}. Hint: images are "
                           "[N, C, H, W] (or [C, H, W] for one).")
    return input


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive windows: output (..., oh, ow) for any input size; window y covers rows
    [floor(y*H/oh), ceil((y+1)*H/oh)). output_size: an int or a pair (None keeps that dim's size)."""
    x = _adaptive_2d_input(input, "adaptive_avg_pool2d")
    return _nn.adaptive_avg_pool2d(x, *_output_size(x, output_size, 2, "adaptive_avg_pool2d"))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows (see adaptive_avg_pool2d); with return_indices, also the argmax's flat
    position in each H*W plane."""
    x = _adaptive_2d_input(input, "adaptive_max_pool2d")
    return _nn.adaptive_max_pool2d(x, *_output_size(x, output_size, 2, "adaptive_max_pool2d"), return_indices)


def adaptive_avg_pool1d(input, output_size):
    """Mean over adaptive windows of (N, C, L) or (C, L) input: output (..., output_size)."""
    x = _pool1d_input(input, "adaptive_avg_pool1d")
    size = _single(output_size, "output_size", "adaptive_avg_pool1d")
    return _nn.adaptive_avg_pool2d(x, 1, x.shape[-1] if size is None else size).squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive windows of (N, C, L) or (C, L) input; with return_indices, also the argmax's
    position along L."""
    x = _pool1d_input(input, "adaptive_max_pool1d")
    size = _single(output_size, "output_size", "adaptive_max_pool1d")
    out = _nn.adaptive_max_pool2d(x, 1, x.shape[-1] if size is None else size, return_indices)
    return _squeeze_pooled(out, return_indices)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _nn.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zeroes each element with probability ``p`` and scales the survivors by
    1 / (1 - p), so the expected value is unchanged; the identity when not ``training``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if not input.is_floating_point():
        raise RuntimeError(f"dropout: expected a floating-point input, got dtype {input.dtype}. "
                           "Hint: convert it first, e.g. x.float()")
    keep = 1.0 - p
    if keep == 0.0:
        mask = _fns.zeros_like(input)
    else:
        mask = (_fns.rand_like(input) < keep).to(input.dtype).mul_(1.0 / keep)
    return input.mul_(mask) if inplace else input * mask


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout: zeroes whole channels (the (n, c) planes of an (N, C, H, W) input) with
    probability ``p`` and scales the rest by 1 / (1 - p); the identity when not ``training``. A 3-D
    input drops along its first dim, with PyTorch's warning about it."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    _check_tensor(input, "dropout2d")
    dim = input.dim()
    if dim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {dim}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if dim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    if not training or p == 0.0:
        return input
    if not input.is_floating_point():
        raise RuntimeError(f"dropout2d: expected a floating-point input, got dtype {input.dtype}. "
                           "Hint: convert it first, e.g. x.float()")
    # One draw per (n, c) of a batched 4-D input; per entry of dim 0 otherwise (PyTorch unsqueezes a
    # non-4-D input to a batch of one and drops its "channels").
    lead = 2 if dim == 4 else min(dim, 1)
    shape = tuple(input.shape[:lead]) + (1,) * (dim - lead)
    keep = 1.0 - p
    if keep == 0.0:
        mask = _fns.zeros(shape, dtype=input.dtype, device=input.device)
    else:
        mask = (_fns.rand(shape, device=input.device) < keep).to(input.dtype).mul_(1.0 / keep)
    return input.mul_(mask) if inplace else input * mask


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalises each channel (dim 1) of an (N, C, ...) input:
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    In training the batch's mean and biased variance are used and the running statistics (when
    given) move towards the batch's mean and unbiased variance by ``momentum``:
    running = (1 - momentum) * running + momentum * batch. Otherwise the running statistics are used.
    One fused op (NativeBatchNormBackward0): statistics, normalisation and the running update in
    one kernel each, and the input, weight and bias gradients in one pass per channel."""
    _check_tensor(input, "batch_norm")
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape {list(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"batch_norm: {name} has {t.numel()} elements but the input has {channels} channels "
                               f"(input shape {list(input.shape)}). Hint: num_features must equal input.shape[1]")
    if training:
        count = input.numel() // channels if channels else 0
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given when training=False")
    return _nn.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


# ---- padding, interpolation and group norm ----
# Composites of index_select, cat and arithmetic: the index and weight vectors are computed on the
# input's device from the sizes alone, so backward (the index_select's scatter-add) and CUDA need
# nothing of their own.

_PAD_MODES = ("constant", "reflect", "replicate", "circular")
_AXIS_NAMES = ("D", "H", "W")


def _int_list(values, op, arg, position):
    """A sequence of ints as a list of Python ints, or PyTorch's TypeError."""
    if isinstance(values, Tensor) or not isinstance(values, (tuple, list)):
        raise TypeError(f"{op}(): argument '{arg}' (position {position}) must be tuple of ints, not "
                        f"{type(values).__name__}")
    for i, v in enumerate(values):
        if not hasattr(v, "__index__"):
            raise TypeError(f"{op}(): argument '{arg}' (position {position}) must be tuple of ints, but found "
                            f"element of type {type(v).__name__} at pos {i}")
    return [v.__index__() for v in values]


def _axes(sizes):
    """'H: 5, W: 7' for the sizes of the last len(sizes) dims, as PyTorch's messages name them."""
    return ", ".join(f"{name}: {s}" for name, s in zip(_AXIS_NAMES[-len(sizes):], sizes))


def pad(input, pad, mode="constant", value=None):
    """Pads ``input`` by ``pad``: (before, after) pairs, the last dim's first, so (left, right) pads
    the last dim and (left, right, top, bottom) the last two. A negative pad crops.

    ``mode``: ``'constant'`` fills with ``value`` (0 by default) and pads any number of trailing dims.
    The others pad the last 1, 2 or 3 dims of an input with one or two dims in front of them
    (unbatched or batched): ``'reflect'`` mirrors about the edge element (``[a, b, c]`` padded by 2 on
    the left reads ``[c, b, a, b, c]``, so each pad must be smaller than its dim), ``'replicate'``
    repeats the edge element and ``'circular'`` wraps around. Each of those is one ``index_select``
    per padded dim, so the gradient of an input element sums over every output that reads it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    pads = _int_list(pad, "pad", "pad", 2)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: Unrecognised padding mode {mode}. Hint: mode is one of 'constant', "
                                  "'reflect', 'replicate' or 'circular'")
    if len(pads) % 2:
        raise RuntimeError(f"pad: Padding length must be divisible by 2, but got {tuple(pads)}. Hint: give a "
                           "(before, after) pair per padded dim, the last dim's pair first")
    if len(pads) > 2 * input.dim():
        raise RuntimeError(f"pad: Padding length should be less than or equal to two times the input dimension "
                           f"but got padding length {len(pads)} and input of dimension {input.dim()}")
    pairs = [(pads[2 * k], pads[2 * k + 1]) for k in range(len(pads) // 2)]  # pairs[k] pads dim -1 - k
    if mode == "constant":
        return _pad_constant(input, pairs, 0 if value is None else value)
    if value is not None:
        raise RuntimeError(f'pad: Padding mode "{mode}" doesn\'t take in value argument. Hint: only '
                           "mode='constant' fills with a value")
    n = len(pairs)
    if n not in (1, 2, 3) or input.dim() not in (n + 1, n + 2):
        raise NotImplementedError(
            f"pad: Padding size {len(pads)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    sizes = shape[-n:]
    if mode != "circular" and any(s == 0 for s in shape[input.dim() - n - 1:]):
        raise RuntimeError(f"pad: Expected {n + 1}D or {n + 2}D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {shape}")
    out_sizes = [sizes[n - 1 - k] + left + right for k, (left, right) in enumerate(pairs)][::-1]
    for k, (left, right) in enumerate(pairs):
        size, dim = sizes[n - 1 - k], input.dim() - 1 - k
        if mode == "reflect" and not (left < size and right < size):
            raise RuntimeError(f"pad: Padding size should be less than the corresponding input dimension, but got: "
                               f"padding ({left}, {right}) at dimension {dim} of input {shape}. Hint: reflection "
                               "mirrors at most size - 1 elements; mode='replicate' has no limit")
        if mode == "circular":
            if left > size or right > size:
                raise RuntimeError(f"pad: Padding value causes wrapping around more than once: padding ({left}, "
                                   f"{right}) at dimension {dim} of input {shape}")
            if size + left + right < 0:
                raise RuntimeError(f"pad: Negative padding value is resulting in an empty dimension: padding "
                                   f"({left}, {right}) at dimension {dim} of input {shape}")
            if size + min(left, 0) + min(right, 0) <= 0 < size + left + right:
                raise RuntimeError(f"pad: negative padding ({left}, {right}) crops all of dimension {dim} of input "
                                   f"{shape}, which leaves nothing to wrap around")
    # PyTorch's reflection/replication kernels accept an empty output dim as long as another is not empty.
    if mode != "circular" and (min(out_sizes) < 0 or max(out_sizes) < 1):
        raise RuntimeError(f"pad: input ({_axes(sizes)}) is too small. Calculated output {_axes(out_sizes)}. "
                           "Hint: negative pads crop; they must leave at least one element")
    if mode in ("reflect", "replicate") and (mode == "replicate" or n < 3):
        input = _C._autocast(f"{'reflection' if mode == 'reflect' else 'replication'}_pad{n}d", input)
    out = input
    for k, (left, right) in enumerate(pairs):
        if left == 0 and right == 0:
            continue
        dim = input.dim() - 1 - k
        out = out.index_select(dim, _pad_source_index(mode, sizes[n - 1 - k], left, right, input.device))
    return out if out is not input else input.clone()


def _pad_source_index(mode, size, left, right, device):
    """The input position each output position along one padded dim reads."""
    i = _fns.arange(-left, size + right, device=device)
    if mode == "reflect":  # mirror about 0 and size - 1 (pads < size: one reflection is enough)
        return (size - 1) - ((size - 1) - i.abs()).abs()
    if mode == "replicate":
        return i.clamp(0, size - 1)
    start = max(-left, 0)  # circular: wrap within what the negative pads keep, as PyTorch does
    kept = size - start - max(-right, 0)
    return i if i.numel() == 0 else (i - start).remainder(kept) + start


def _pad_constant(input, pairs, value):
    """Crops by the negative pads (narrow) and then concatenates blocks of ``value`` for the positive ones."""
    out = input
    for k in reversed(range(len(pairs))):
        left, right = pairs[k]
        dim = input.dim() - 1 - k
        size = out.shape[dim]
        kept = size + min(left, 0) + min(right, 0)
        if kept < 0:
            raise RuntimeError(f"pad: negative padding ({left}, {right}) crops {-min(left, 0) - min(right, 0)} "
                               f"elements from dimension {dim} of input {list(input.shape)}, which has {size}. "
                               "Hint: negative pads crop and can remove at most the whole dim")
        if left < 0 or right < 0:
            out = out.narrow(dim, max(-left, 0), kept)
    if all(left <= 0 and right <= 0 for left, right in pairs):
        return out.clone()
    for k, (left, right) in enumerate(pairs):
        if left <= 0 and right <= 0:
            continue
        dim = input.dim() - 1 - k

        def block(width):
            shape = list(out.shape)
            shape[dim] = width
            return [_fns.full(shape, value, dtype=input.dtype, device=input.device)] if width > 0 else []

        # constant_pad_nd is on no autocast list: the blocks join without cat's promote rule
        saved = _C._autocast_suspend()
        try:
            out = _fns.cat(block(left) + [out] + block(right), dim)
        finally:
            _C._autocast_resume(saved)
    return out


_INTERPOLATE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "lanczos", "area", "nearest-exact")
_LINEAR_MODE_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resamples the spatial dims of an (N, C, W), (N, C, H, W) or (N, C, D, H, W) input to ``size``,
    or to floor(in * scale_factor), with PyTorch's source-index formulas (dst an output index):

        nearest:        src = floor(dst * s)                          (PyTorch's legacy rule)
        nearest-exact:  src = floor((dst + 0.5) * s)
        linear, bilinear, trilinear, bicubic:
                        src = dst * (in - 1) / (out - 1)              (align_corners=True)
                        src = (dst + 0.5) * s - 0.5, at least 0       (align_corners=False; bicubic
                                                                       keeps negatives)

    where s = 1 / scale_factor when one is given (and ``recompute_scale_factor`` is not True), else
    in / out. Linear modes blend the two neighbours floor(src) and floor(src) + 1 (clamped to the
    input) with weights 1 - t and t, t = src - floor(src); bicubic blends four with Keys' cubic
    kernel (A = -0.75), indices clamped. Every mode is separable: one index_select (nearest) or a
    weighted sum of index_selects per spatial dim, so the gradient comes from the graph. ``'area'`` is
    adaptive average pooling to the output size (3-D and 4-D input). ``'area'`` on 5-D input,
    ``'lanczos'`` and ``antialias=True`` are not implemented (NotImplementedError)."""
    _check_tensor(input, "interpolate")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    spatial = list(input.shape[2:])
    scales = out_size = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (tuple, list)):
            if len(size) != dim:
                raise ValueError("Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                                 "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            if not all(hasattr(v, "__index__") for v in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, "
                                f"int], but got size with types {[type(v) for v in size]}")
            out_size = [v.__index__() for v in size]
        elif hasattr(size, "__index__"):
            out_size = [size.__index__()] * dim
        else:
            raise TypeError(f"interpolate: expected size to be an int or a tuple of ints, but got "
                            f"{type(size).__name__}")
    elif scale_factor is not None:
        if isinstance(scale_factor, (tuple, list)):
            if len(scale_factor) != dim:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {spatial} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or (mode == "area" and out_size is None):
        out_size, scales = [int(s * f) for s, f in zip(spatial, scales)], None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    mode_dims = _LINEAR_MODE_DIMS.get(mode, 2 if mode in ("bicubic", "lanczos") else None)
    if mode not in _INTERPOLATE_MODES or dim not in (1, 2, 3) or mode_dims not in (None, dim):
        if mode in _LINEAR_MODE_DIMS and dim in (1, 2, 3):
            raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {mode_dims + 2}D input")
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
                                  "the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    if mode == "lanczos" or antialias or (mode == "area" and dim == 3):
        what = f"{input.dim()}D input in mode='area'" if mode == "area" else f"mode={mode!r}"
        raise NotImplementedError(f"interpolate: {what}{' with antialias=True' if antialias else ''} is not "
                                  "implemented in gradcore. Hint: 'nearest', 'nearest-exact', 'linear', 'bilinear', "
                                  "'bicubic' and 'trilinear' without antialias are, and 'area' on 3-D and 4-D input")
    if out_size is None:
        out_size = [int(s * f) for s, f in zip(spatial, scales)]
    if any(s <= 0 for s in spatial + out_size):
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but got input "
                           f"({_axes(spatial)}) output ({_axes(out_size)})")
    if input.shape[1] == 0:
        raise RuntimeError(f"interpolate: Non-empty {input.dim()}D data tensor expected but got a tensor with sizes "
                           f"{list(input.shape)}")
    if mode == "area":
        return adaptive_avg_pool1d(input, out_size[0]) if dim == 1 else adaptive_avg_pool2d(input, out_size)
    input = _C._autocast(_upsample_op(mode, dim), input)  # CUDA autocast: float32
    if mode not in ("nearest", "nearest-exact") and not input.is_floating_point():
        raise NotImplementedError(f"interpolate: mode={mode!r} needs a floating-point input, got {input.dtype}. "
                                  "Hint: convert it first, e.g. x.float()")
    # PyTorch computes indices and weights in float32 for float32 input, in float64 for float64.
    opmath = _C.dtype.float64 if input.dtype == _C.dtype.float64 else _C.dtype.float32
    out = input
    for k in range(dim):
        d, scale = k + 2, None if scales is None else scales[k]
        if mode in ("nearest", "nearest-exact"):
            index = _nearest_source_index(spatial[k], out_size[k], scale, mode == "nearest-exact", dim == 2, opmath,
                                          input.device)
            if index is not None:
                out = out.index_select(d, index)
        elif mode == "bicubic":
            out = _cubic_resample(out, d, out_size[k], scale, align_corners, opmath)
        else:
            out = _linear_resample(out, d, out_size[k], scale, align_corners, opmath)
    return out if out is not input else input.clone()


def _upsample_op(mode, n):
    """The aten op of interpolate's ``mode`` on n spatial dims: its name on autocast's lists."""
    if mode == "nearest":
        return f"upsample_nearest{n}d"
    if mode == "nearest-exact":
        return f"_upsample_nearest_exact{n}d"
    if mode == "bicubic":
        return "upsample_bicubic2d"
    return ("upsample_linear1d", "upsample_bilinear2d", "upsample_trilinear3d")[n - 1]


def _round_to(x, dtype):
    """The Python float x rounded to ``dtype`` (float32 or float64)."""
    return x if dtype == _C.dtype.float64 else _fns.full((), x, dtype=dtype).item()


def _scale_value(in_size, out_size, scale, dtype):
    """PyTorch's compute_scales_value: 1 / scale_factor when one is given, else in / out."""
    return _round_to(1.0 / scale if scale is not None and scale > 0 else in_size / out_size, dtype)


def _floor_index(src):
    """floorf(src) as int64: PyTorch's kernels floor in float32, whatever the source's precision."""
    return src.to(_C.dtype.float32).floor().to(_C.dtype.int64)


def _nearest_source_index(in_size, out_size, scale, exact, legacy_2d, opmath, device):
    """The input index each output index reads in nearest modes, or None for the identity. A 4-D input
    follows PyTorch's nearest_idx (float32 scale; out == in copies, out == 2 * in halves); 3-D and 5-D
    inputs the index tables of its separable CPU kernels, computed in the input's precision (for
    float32 with one rounding of s * (dst + 0.5) - 0.5: the fused multiply-add those kernels compile
    to). The rules differ on float ties, e.g. 41 * (4 / 82); tests/test_pad_interp.py sweeps them."""
    dst = _fns.arange(out_size, dtype=_C.dtype.float64, device=device)
    if legacy_2d:
        if not exact and out_size == in_size:
            return None
        if not exact and out_size == 2 * in_size:
            return _fns.arange(out_size, device=device) // 2
        s = _scale_value(in_size, out_size, scale, _C.dtype.float32)
        index = _floor_index((dst + 0.5) * s if exact else dst * s)
    else:
        s = _scale_value(in_size, out_size, scale, opmath)
        if exact:
            src = ((dst + 0.5) * s - 0.5).to(opmath).clamp_min(0.0)
            index = _floor_index(src.to(_C.dtype.float64) + 0.5)
        else:
            index = _floor_index((dst * s).to(opmath))
    return index.clamp_max(in_size - 1)


def _source_position(in_size, out_size, scale, align_corners, cubic, opmath, device):
    """PyTorch's area_pixel_compute_source_index for every output index, in the input's precision."""
    if align_corners:
        s = _round_to((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0, opmath)
    else:
        s = _scale_value(in_size, out_size, scale, opmath)
    dst = _fns.arange(out_size, dtype=_C.dtype.float64, device=device)
    src = (dst * s if align_corners else (dst + 0.5) * s - 0.5).to(opmath)
    return src if align_corners or cubic else src.clamp_min(0.0)


def _along(weight, x, dim):
    """A weight vector over dim ``dim`` of x, shaped to broadcast against it, in x's dtype."""
    return weight.to(x.dtype).reshape((weight.shape[0],) + (1,) * (x.dim() - 1 - dim))


def _linear_resample(x, dim, out_size, scale, align_corners, opmath):
    """(1 - t) * x[i0] + t * x[i1] along ``dim``; the identity when the size does not change (PyTorch
    copies then, whatever the scale)."""
    in_size = x.shape[dim]
    if out_size == in_size:
        return x
    src = _source_position(in_size, out_size, scale, align_corners, False, opmath, x.device)
    i0 = _floor_index(src).clamp_max(in_size - 1)
    t = (src - i0.to(opmath)).clamp(0.0, 1.0)
    i1 = (i0 + 1).clamp_max(in_size - 1)
    return x.index_select(dim, i0) * _along(1.0 - t, x, dim) + x.index_select(dim, i1) * _along(t, x, dim)


def _cubic_resample(x, dim, out_size, scale, align_corners, opmath):
    """sum_j w_j(t) * x[i - 1 + j], j = 0..3, i = floor(src), t = src - i, indices clamped to the input;
    w is Keys' cubic convolution kernel with A = -0.75 (PyTorch's get_cubic_upsample_coefficients)."""
    in_size = x.shape[dim]
    src = _source_position(in_size, out_size, scale, align_corners, True, opmath, x.device)
    i = _floor_index(src)
    t = src - i.to(opmath)
    a = -0.75
    near = [t, 1.0 - t]  # distances to the inner taps x[i], x[i + 1]
    far = [t + 1.0, 2.0 - t]  # and to the outer ones x[i - 1], x[i + 2]
    weights = [((a * far[0] - 5 * a) * far[0] + 8 * a) * far[0] - 4 * a,
               ((a + 2) * near[0] - (a + 3)) * near[0] * near[0] + 1,
               ((a + 2) * near[1] - (a + 3)) * near[1] * near[1] + 1,
               ((a * far[1] - 5 * a) * far[1] + 8 * a) * far[1] - 4 * a]
    out = None
    for j, w in enumerate(weights):
        term = x.index_select(dim, (i + (j - 1)).clamp(0, in_size - 1)) * _along(w, x, dim)
        out = term if out is None else out + term
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Splits the C channels of an (N, C, *) input into ``num_groups`` groups of C / num_groups and
    normalises each group of each sample over its channels and positions:

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias      (Var biased)

    with ``weight`` and ``bias`` per channel (C,). The same in training and evaluation."""
    _check_tensor(input, "group_norm")
    if input.dim() < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {input.dim()}. "
                           "Hint: the input is [N, C, *]")
    n, channels = input.shape[0], input.shape[1]
    positions = 1
    for s in input.shape[2:]:
        positions *= s
    if num_groups == 0:
        raise ZeroDivisionError("group_norm: num_groups must be greater than 0, got 0")
    if (n * channels // num_groups) * positions == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * channels // num_groups, num_groups] + list(input.shape[2:])}")
    if num_groups < 0:
        raise RuntimeError(f"group_norm: Expected num groups to be greater than 0, got {num_groups}")
    if channels % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.shape[0] != channels):
            raise RuntimeError(f"group_norm: Expected {name} to be a vector of size equal to the number of channels "
                               f"in input, but got {name} of shape {list(t.shape)} and input of shape "
                               f"{list(input.shape)}")
    if not input.is_floating_point():
        raise NotImplementedError(f"group_norm: expected a floating-point input, got {input.dtype}. Hint: convert it "
                                  "first, e.g. x.float()")
    input, weight, bias = (_C._autocast("group_norm", t) for t in (input, weight, bias))  # CUDA: float32
    x = input.reshape(n, num_groups, channels // num_groups * positions)
    mean = x.mean((2,), keepdim=True)
    var = x.var((2,), correction=0, keepdim=True)
    out = ((x - mean) * (var + eps).rsqrt()).reshape(input.shape)
    affine_shape = (channels,) + (1,) * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(affine_shape)
    if bias is not None:
        out = out + bias.reshape(affine_shape)
    return out


# ---- losses ----

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """(input - target)^2, reduced."""
    reduction = _reduction(reduction, size_average, reduce, "mse_loss")
    # One fused op (MseLossBackward0), or the composite when the operands broadcast or promote
    # (with PyTorch's warning when the shapes differ).
    return _C._mse_loss(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """|input - target|, reduced."""
    reduction = _reduction(reduction, size_average, reduce, "l1_loss")
    input, target = _C._autocast("l1_loss", input), _C._autocast("l1_loss", target)
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=2)
    return _reduce((input - target).abs(), reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy between the logits ``input`` (N, C) / (N, C, d...) / (C,) and ``target``: class
    indices (int64) or class probabilities (the logits' shape), in one fused native op."""
    reduction = _reduction(reduction, size_average, reduce, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if _debug_slot.active is not None:
        _debug_slot.active.on_loss_input("cross_entropy", input)
    return _C._cross_entropy(input, target, weight, reduction, int(ignore_index), float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of the class ``target`` under log-probabilities ``input``."""
    reduction = _reduction(reduction, size_average, reduce, "nll_loss")
    if _debug_slot.active is not None:
        _debug_slot.active.on_loss_input("nll_loss", input)
    return _C._nll_loss(input, target, weight, reduction, int(ignore_index))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of sigmoid(input) and target, computed from the logits stably:

        loss = (1 - y) * x + pw(y) * softplus(-x),   pw(y) = (pos_weight - 1) * y + 1

    which equals max(x, 0) - x*y + log1p(exp(-|x|)) without pos_weight; softplus(-x) never
    overflows, and its derivative gives the exact gradient sigmoid(x) - y, also at x = 0."""
    reduction = _reduction(reduction, size_average, reduce, "binary_cross_entropy_with_logits")
    input, target, weight, pos_weight = (_C._autocast("binary_cross_entropy_with_logits", t) if isinstance(t, Tensor)
                                         else t for t in (input, target, weight, pos_weight))
    _check_tensor(input, "binary_cross_entropy_with_logits")
    _check_tensor(target, "binary_cross_entropy_with_logits", "target")
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    log_sigmoid_neg = _nn.softplus(-input, 1.0, 20.0)  # -log(sigmoid(x))
    if pos_weight is not None:
        log_sigmoid_neg = ((pos_weight - 1) * target + 1) * log_sigmoid_neg
    loss = (1 - target) * input + log_sigmoid_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _clamped_log(x):
    """log(x) clamped below at -100, as PyTorch's BCE clamps it; x == 0 gives -100 and a zero (not
    NaN) gradient because the log only ever sees positive values."""
    positive = x > 0
    return _fns.where(positive, _fns.where(positive, x, 1.0).log(), -100.0).clamp_min(-100.0)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y * log(x) + (1 - y) * log(1 - x)) for probabilities x, each log clamped at -100."""
    reduction = _reduction(reduction, size_average, reduce, "binary_cross_entropy")
    _check_tensor(input, "binary_cross_entropy")
    _check_tensor(target, "binary_cross_entropy", "target")
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    # CPU autocast: float32; CUDA autocast: PyTorch's "unsafe to autocast" error
    input, target, weight = (_C._autocast("binary_cross_entropy", t) if isinstance(t, Tensor) else t
                             for t in (input, target, weight))
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1. "
                           "Hint: apply sigmoid first, or use binary_cross_entropy_with_logits on the logits")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def one_hot(tensor, num_classes=-1):
    """``tensor`` (int64 class indices) as one-hot vectors along a new last dimension of size
    ``num_classes`` (max + 1 when -1); the result is int64."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'input' (position 1) must be Tensor, not {type(tensor).__name__}")
    if tensor.dtype != _C.dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    num_classes = int(num_classes)
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if tensor.min().item() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = tensor.max().item() + 1
        elif tensor.max().item() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    if num_classes < 0:
        raise RuntimeError("Class values must be non-negative.")
    classes = _C.functions.arange(num_classes, device=tensor.device)
    return tensor.unsqueeze(-1).eq(classes).long()


from ._functional_norm import embedding, layer_norm, rms_norm  # noqa: E402,F401

from ._functional_attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402,F401
from ._functional_loss import *  # noqa: E402,F401,F403
