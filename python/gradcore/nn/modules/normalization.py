"""``GroupNorm``, ``LayerNorm`` and ``RMSNorm``: per-sample normalisations with an elementwise scale (and shift)."""
import numbers

from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _affine_parameters(module, shape, affine, bias, factory):
    """module.weight and module.bias (Parameters of `shape`, set by _reset_affine) when affine, the
    bias only when `bias`; registered as None otherwise, as PyTorch's norm layers do."""
    if affine:
        module.weight = Parameter(_C.functions.empty(*shape, **factory))
        if bias:
            module.bias = Parameter(_C.functions.empty(*shape, **factory))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module):
    """weight to ones, bias to zeros (those that exist)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class GroupNorm(Module):
    """Group normalisation of an (N, C, *) input: the C = ``num_channels`` channels are split into
    ``num_groups`` groups, and each group of each sample is normalised over its channels and positions,

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias      (Var biased)

    with ``weight`` (ones) and ``bias`` (zeros) per channel when ``affine``. There are no running
    statistics: train and eval mode compute the same. ``bias=False`` (keyword-only, as in PyTorch 2.13)
    keeps the scale but drops the shift."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (num_channels,), affine, bias, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


def _shape_tuple(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (normalized_shape,)
    return tuple(normalized_shape)


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dims (an int or a tuple):

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias      (Var biased)

    with ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias=False`` keeps only the weight)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims:
    ``y = x / sqrt(mean(x**2) + eps) * weight``, with ``weight`` (ones) when ``elementwise_affine``;
    ``eps=None`` uses ``finfo(input.dtype).eps``."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_C.functions.empty(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
