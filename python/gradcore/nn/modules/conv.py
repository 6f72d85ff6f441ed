"""PyTorch's convolution layers, arguments, defaults, initialisation and parameter names:
``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``, and the sliding-block layers
``Unfold`` and ``Fold``. The 1-D layers run the 2-D kernels over a height of 1."""

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
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
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
        if isinstance(padding, str) and self._transposed:
            raise ValueError(f"{layer}: padding must be an int or a tuple of {n} ints for a transposed convolution, "
                             f"got {padding!r}")
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
        if padding_mode != "zeros" and self._transposed:
            raise ValueError(f'Only "zeros" padding mode is supported for {layer}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, "kernel_size", n, layer)
        self.stride = _ntuple(stride, "stride", n, layer)
        self.padding = padding
        self.dilation = _ntuple(dilation, "dilation", n, layer)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's (before, after) pairs, last dim first, for padding modes other than zeros.
        if isinstance(padding, str):
            totals = [0] * n if padding == "valid" else [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in padding]
        self._reversed_padding_repeated_twice = [v for pair in reversed(pairs) for v in pair]
        self.transposed = self._transposed
        self.output_padding = _ntuple(output_padding, "output_padding", n, layer)
        factory = {"device": device, "dtype": dtype}
        channels = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(_C.functions.empty(channels + self.kernel_size, **factory))
        if bias:
            self.bias = Parameter(_C.functions.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init._default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input, *args, **kwargs):
        params = self._parameters
        padding = self.padding
        try:
            if self.padding_mode != "zeros":  # pad as the mode says, then convolve without padding
                from .. import functional as F
                input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
                padding = (0,) * self._dims
            return self._conv(input, params["weight"], params["bias"], padding, *args, **kwargs)
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
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """y = cross-correlation of x (N, C_in, L) with weight (C_out, C_in / groups, k), + bias.

    Initialised as PyTorch does: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * k, and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    padding_mode 'reflect', 'replicate' or 'circular' pads with F.pad first.
    """
    _dims = 1

    def _conv(self, input, weight, bias, padding):
        from .. import functional as F
        return F.conv1d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """y = cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in / groups, kH, kW), + bias.

    Initialised as PyTorch does: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * kH * kW, and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    padding_mode 'reflect', 'replicate' or 'circular' pads with F.pad first.
    """
    _dims = 2

    def _conv(self, input, weight, bias, padding):
        return _C._nn.conv2d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def _output_padding(self, input, output_size):
        """PyTorch's output_padding for a requested output_size (the spatial sizes, optionally after N, C)."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        output_size = list(output_size)
        if len(output_size) == n + 2 or (len(output_size) == n + 1 and input.dim() == n + 1):
            output_size = output_size[-n:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.dim()}D input, output_size must have {n} or {n + 2} "
                             f"elements (got {len(output_size)})")
        smallest, largest = [], []
        for d in range(n):
            size = input.shape[input.dim() - n + d]
            smallest.append((size - 1) * self.stride[d] - 2 * self.padding[d]
                            + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest.append(smallest[d] + self.stride[d] - 1)
        if not all(lo <= want <= hi for lo, want, hi in zip(smallest, output_size, largest)):
            raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {smallest} to "
                             f"{largest} (for an input of {list(input.shape)[-n:]})")
        return tuple(want - lo for want, lo in zip(output_size, smallest))


class ConvTranspose1d(_ConvTransposeNd):
    """The adjoint of Conv1d (a "deconvolution"): x (N, C_in, L) to (N, C_out, L_out) with
    L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1; weight
    (C_in, C_out / groups, k). Initialised as PyTorch does (fan_in from weight dim 1)."""
    _dims = 1

    def _conv(self, input, weight, bias, padding, output_size=None):
        from .. import functional as F
        return F.conv_transpose1d(input, weight, bias, self.stride, padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """The adjoint of Conv2d (a "deconvolution"): x (N, C_in, H, W) to (N, C_out, H_out, W_out) with
    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1; weight
    (C_in, C_out / groups, kH, kW). ``forward(input, output_size=None)`` picks output_padding for a
    requested size. Initialised as PyTorch does (fan_in from weight dim 1)."""
    _dims = 2

    def _conv(self, input, weight, bias, padding, output_size=None):
        return _C._nn.conv_transpose2d(input, weight, bias, self.stride, padding,
                                       self._output_padding(input, output_size), self.groups, self.dilation)


class Unfold(Module):
    """Sliding local blocks of (N, C, H, W) input as columns (N, C * kH * kW, L): im2col."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return _C._nn.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Sums columns of sliding blocks (N, C * kH * kW, L) back into (N, C, *output_size): col2im,
    Unfold's adjoint (overlapping blocks add up)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return _C._nn.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
