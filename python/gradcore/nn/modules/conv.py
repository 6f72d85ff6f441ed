"""``Conv1d`` and ``Conv2d``: PyTorch's convolution layers, arguments, defaults, initialisation and
parameter names. Conv1d runs the 2-D kernels over a height of 1."""

from ... import _C
from .. import init
from ..parameter import Parameter
from .module import Module


def _ntuple(v, name, n, layer):
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, int):
        return (v,) * n
    if len(v) != n or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return tuple(v)


class _ConvNd(Module):
    _dims = 2
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        layer, n = type(self).__name__, self._dims
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{layer}: {name} must be an int, got {v!r}")
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and _ntuple(stride, "stride", n, layer) != (1,) * n:
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, "padding", n, layer)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], "
                             f"but got padding_mode='{padding_mode}'")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{layer}: padding_mode='{padding_mode}' is not implemented in gradcore yet "
                                      "(only 'zeros'). Hint: pad the input first, or use padding_mode='zeros'.")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, "kernel_size", n, layer)
        self.stride = _ntuple(stride, "stride", n, layer)
        self.padding = padding
        self.dilation = _ntuple(dilation, "dilation", n, layer)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0,) * n
        factory = {"device": device, "dtype": dtype}
        self.weight = Parameter(_C.functions.empty((out_channels, in_channels // groups) + self.kernel_size, **factory))
        if bias:
            self.bias = Parameter(_C.functions.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init._default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        params = self._parameters
        try:
            return self._conv(input, params["weight"], params["bias"])
        except RuntimeError as e:
            if type(e) is not RuntimeError:
                raise
            got = (f"shape {list(input.shape)} ({input.dtype})" if isinstance(input, _C.Tensor)
                   else f"type {type(input).__name__}")
            spatial = "H, W" if self._dims == 2 else "L"
            raise RuntimeError(f"{self!r} got an input of {got}; it expects (N, {self.in_channels}, {spatial}) or "
                               f"({self.in_channels}, {spatial}) ({self.weight.dtype}). {e}") from None

    def extra_repr(self):
        n = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """y = cross-correlation of x (N, C_in, L) with weight (C_out, C_in / groups, k), + bias.

    Initialised as PyTorch does: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * k, and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Only padding_mode='zeros' is implemented.
    """
    _dims = 1

    def _conv(self, input, weight, bias):
        from .. import functional as F
        return F.conv1d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """y = cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in / groups, kH, kW), + bias.

    Initialised as PyTorch does: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * kH * kW, and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Only padding_mode='zeros' is implemented.
    """
    _dims = 2

    def _conv(self, input, weight, bias):
        return _C._nn.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)
