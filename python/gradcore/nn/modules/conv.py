"""``Conv2d``: PyTorch's convolution layer, arguments, defaults, initialisation and parameter names."""
import math

from ... import _C
from .. import init
from ..parameter import Parameter
from .module import Module


def _pair(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        raise TypeError(f"Conv2d: {name} must be an int or a tuple of 2 ints, got {v!r}")
    if isinstance(v, int):
        return (v, v)
    if len(v) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise ValueError(f"Conv2d: {name} must be an int or a tuple of 2 ints, got {v!r}")
    return tuple(v)


class Conv2d(Module):
    """y = cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in / groups, kH, kW), + bias.

    Initialised as PyTorch does: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * kH * kW, and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Only padding_mode='zeros' is implemented.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"Conv2d: {name} must be an int, got {v!r}")
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and _pair(stride, "stride") != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _pair(padding, "padding")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], "
                             f"but got padding_mode='{padding_mode}'")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode='{padding_mode}' is not implemented in gradcore yet "
                                      "(only 'zeros'). Hint: pad the input first, or use padding_mode='zeros'.")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = padding
        self.dilation = _pair(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0)
        factory = {"device": device, "dtype": dtype}
        self.weight = Parameter(_C.functions.empty((out_channels, in_channels // groups) + self.kernel_size, **factory))
        if bias:
            self.bias = Parameter(_C.functions.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        params = self._parameters
        try:
            return _C._nn.conv2d(input, params["weight"], params["bias"], self.stride, self.padding, self.dilation,
                                 self.groups)
        except RuntimeError as e:
            if type(e) is not RuntimeError:
                raise
            got = (f"shape {list(input.shape)} ({input.dtype})" if isinstance(input, _C.Tensor)
                   else f"type {type(input).__name__}")
            raise RuntimeError(f"{self!r} got an input of {got}; it expects (N, {self.in_channels}, H, W) or "
                               f"({self.in_channels}, H, W) ({self.weight.dtype}). {e}") from None

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
