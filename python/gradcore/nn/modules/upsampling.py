"""PyTorch's upsampling layers: ``Upsample`` and the fixed-mode ``UpsamplingNearest2d`` and
``UpsamplingBilinear2d``, each an ``F.interpolate`` with its settings."""
from .. import functional as F
from .module import Module


class Upsample(Module):
    """Resamples (N, C, W), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by ``scale_factor``
    with ``mode`` ('nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear'); see
    ``F.interpolate`` for the index formulas and ``align_corners``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) input (PyTorch's legacy index floor(dst * in / out))."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) input with ``align_corners=True`` (corner pixels map onto
    corner pixels)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
