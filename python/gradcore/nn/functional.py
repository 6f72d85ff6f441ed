"""``gradcore.nn.functional``: activations, dropout, batch norm and losses as functions.

Each function is a few native ops (``gradcore._C``); the autograd graph they build gives the
gradient, so nothing here loops over elements."""
import warnings

from .. import _C
from .._C import Tensor
from ..autograd.grad_mode import no_grad

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
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim``, computed stably."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)


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


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of input (N, C, L) or (C, L) with weight (out_channels, C / groups, k): the 2-D
    convolution over a height of 1 (same kernels, same gradients); padding an int, 'valid' or 'same'."""
    if not isinstance(input, _C.Tensor) or not isinstance(weight, _C.Tensor):
        bad = "input" if not isinstance(input, _C.Tensor) else "weight"
        raise TypeError(f"conv1d(): argument '{bad}' must be Tensor, not "
                        f"{type(input if bad == 'input' else weight).__name__}")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"conv1d: expected 2D (unbatched) or 3D (batched) input, but got input of size: "
                           f"{list(input.shape)}. Hint: sequences are [N, C, L] (or [C, L] for one).")
    if weight.dim() != 3:
        raise RuntimeError(f"conv1d: weight must be 3-D [out_channels, in_channels / groups, kW], but got size "
                           f"{list(weight.shape)}")
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
    if not isinstance(input, _C.Tensor) or not isinstance(weight, _C.Tensor):
        bad = "input" if not isinstance(input, _C.Tensor) else "weight"
        raise TypeError(f"conv_transpose1d(): argument '{bad}' must be Tensor, not "
                        f"{type(input if bad == 'input' else weight).__name__}")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"conv_transpose1d: expected 2D (unbatched) or 3D (batched) input, but got input of "
                           f"size: {list(input.shape)}. Hint: sequences are [N, C, L] (or [C, L] for one).")
    if weight.dim() != 3:
        raise RuntimeError(f"conv_transpose1d: weight must be 3-D [in_channels, out_channels / groups, k], but got "
                           f"size {list(weight.shape)}")
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
    """Normalises each channel (dim 1) of an (N, C) or (N, C, L) input:
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    In training the batch's mean and biased variance are used and the running statistics (when
    given) move towards the batch's mean and unbiased variance by ``momentum``:
    running = (1 - momentum) * running + momentum * batch. Otherwise the running statistics are used."""
    _check_tensor(input, "batch_norm")
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape {list(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"batch_norm: {name} has {t.numel()} elements but the input has {channels} channels "
                               f"(input shape {list(input.shape)}). Hint: num_features must equal input.shape[1]")
    # Per-channel tensors broadcast against (N, C, L...) as (C, 1, ...).
    stat_shape = (channels,) + (1,) * (input.dim() - 2)
    reduce_dims = (0,) + tuple(range(2, input.dim()))
    if training:
        count = input.numel() // channels if channels else 0
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
        mean = input.mean(reduce_dims, keepdim=True)
        var = input.var(reduce_dims, correction=0, keepdim=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(channels).mul(momentum))
                if running_var is not None:
                    unbiased = var.detach().reshape(channels).mul(momentum * count / (count - 1))
                    running_var.mul_(1.0 - momentum).add_(unbiased)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given when training=False")
        mean = running_mean.reshape(stat_shape)
        var = running_var.reshape(stat_shape)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(stat_shape)
    if bias is not None:
        out = out + bias.reshape(stat_shape)
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
    return _C._cross_entropy(input, target, weight, reduction, int(ignore_index), float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of the class ``target`` under log-probabilities ``input``."""
    reduction = _reduction(reduction, size_average, reduce, "nll_loss")
    return _C._nll_loss(input, target, weight, reduction, int(ignore_index))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of sigmoid(input) and target, computed from the logits stably:

        loss = (1 - y) * x + pw(y) * softplus(-x),   pw(y) = (pos_weight - 1) * y + 1

    which equals max(x, 0) - x*y + log1p(exp(-|x|)) without pos_weight; softplus(-x) never
    overflows, and its derivative gives the exact gradient sigmoid(x) - y, also at x = 0."""
    reduction = _reduction(reduction, size_average, reduce, "binary_cross_entropy_with_logits")
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
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1. "
                           "Hint: apply sigmoid first, or use binary_cross_entropy_with_logits on the logits")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
