"""PyTorch's padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad`` in 1d, 2d and 3d, each a ``F.pad`` with a fixed ``padding`` tuple and mode."""
from .. import functional as F
from .module import Module


def _ntuple(padding, n):
    """PyTorch's ``_ntuple(n)``: an int repeated n times, a sequence as a tuple (as given)."""
    return tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * n


class _PadNd(Module):
    """Pads the last ``_dims`` dims by ``padding`` = (left, right[, top, bottom[, front, back]]); an
    int pads every side by that much."""
    _dims = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``: (N, C, W) or (C, W) -> W + left + right."""
    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``: padding = (left, right, top, bottom)."""
    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with ``value``: padding = (left, right, top, bottom, front, back)."""
    _dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dims with zeros: padding = (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dims with zeros: padding = (left, right, top, bottom, front, back)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirrors (N, C, W) or (C, W) about its edge elements: [a, b, c] padded by (2, 1) is
    [c, b, a, b, c, b]; each pad must be smaller than W."""
    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirrors the last two dims of (N, C, H, W) or (C, H, W) about their edges; padding =
    (left, right, top, bottom), each smaller than its dim."""
    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirrors the last three dims of (N, C, D, H, W) or (C, D, H, W) about their edges."""
    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the edge elements of (N, C, W) or (C, W): [a, b, c] padded by (2, 1) is
    [a, a, a, b, c, c]."""
    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeats the edge rows and columns of (N, C, H, W) or (C, H, W); padding = (left, right, top,
    bottom)."""
    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeats the edge planes of (N, C, D, H, W) or (C, D, H, W)."""
    _dims, _mode = 3, "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        if input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"{self._get_name()}: expected {self._dims + 1}D or {self._dims + 2}D input (got "
                             f"{input.dim()}D input)")
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """Wraps (N, C, W) or (C, W) around: [a, b, c] padded by (2, 1) is [b, c, a, b, c, a]."""
    _dims = 1


class CircularPad2d(_CircularPadNd):
    """Wraps the last two dims of (N, C, H, W) or (C, H, W) around; padding = (left, right, top, bottom)."""
    _dims = 2


class CircularPad3d(_CircularPadNd):
    """Wraps the last three dims of (N, C, D, H, W) or (C, D, H, W) around."""
    _dims = 3
