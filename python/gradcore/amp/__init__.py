"""Mixed precision: ``autocast`` (PyTorch's ``torch.autocast`` / ``torch.amp.autocast``).

Inside an autocast region the ops on PyTorch 2.13's per-device lists change precision
(``csrc/ops/autocast.cpp`` holds the lists whole, with each policy's rule). Of the ops gradcore has:

- CPU, lower precision (bfloat16 by default, or float16): conv1d/2d, conv_transpose1d/2d, matmul,
  mm, bmm, linear. CPU, float32: the losses (cross_entropy, nll_loss, mse_loss, l1_loss, the BCE
  losses), prod, reflect/replicate padding. CPU, promote: cat (and concat), stack.
- CUDA, lower precision (float16 by default, or bfloat16): the same matrix ops. CUDA, float32:
  exp, log, log1p, expm1, reciprocal, rsqrt, pow (and square), softplus, group_norm, interpolate
  (but mode='area'), the losses but binary_cross_entropy; sum, prod, softmax, log_softmax and norm
  unless given ``dtype=``. CUDA, promote: scatter_add, index_put. CUDA, banned:
  binary_cross_entropy (PyTorch's "unsafe to autocast" RuntimeError).

Promote casts the floating inputs to float32 when one is float32, else to autocast's dtype; a
16-bit input of the other type is PyTorch's "Unexpected floating ScalarType" error. Every other op
runs in its inputs' dtype (so relu, softmax, sum, layer and batch norm keep a bfloat16 input
bfloat16 on the CPU, as PyTorch does), in-place ops are on no list, float64 and integer tensors are
never cast, and the casts are differentiable conversions: float32 parameters get float32 gradients.
"""
import functools
import warnings

from .. import _C

__all__ = ["autocast", "is_autocast_available", "GradScaler"]

_SUPPORTED = {"cpu": ("bfloat16", "float16"), "cuda": ("float16", "bfloat16")}


def is_autocast_available(device_type):
    return device_type in _SUPPORTED


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


class autocast:
    """Context manager and decorator: ops on autocast's lists run in ``dtype`` (default: bfloat16
    on ``'cpu'``, float16 on ``'cuda'``) inside the region. ``enabled=False`` turns autocast off
    inside (nested regions restore the outer state on exit). ``cache_enabled`` is accepted for
    PyTorch's signature (gradcore keeps no cast cache)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _SUPPORTED:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = _C._get_autocast(device_type)[1] if dtype is None else dtype
        self._enabled = bool(enabled)
        if not isinstance(self.fast_dtype, _C.dtype):
            raise TypeError(f"autocast: dtype must be a gradcore.dtype, got {self.fast_dtype!r}")
        if device_type == "cpu" and self._enabled and _dtype_name(self.fast_dtype) not in _SUPPORTED["cpu"]:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtype of gradcore.bfloat16, gradcore.float16 currently.",
                          stacklevel=2)
            self._enabled = False
        if device_type == "cuda" and self._enabled:
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling",
                              stacklevel=2)
                self._enabled = False
            elif _dtype_name(self.fast_dtype) not in _SUPPORTED["cuda"]:
                raise RuntimeError("In CUDA autocast, but the target dtype is not supported. Disabling autocast.\n"
                                   "CUDA Autocast only supports dtypes of gradcore.float16 and gradcore.bfloat16 "
                                   "currently.")

    def __enter__(self):
        self._prev = _C._get_autocast(self.device)
        _C._set_autocast(self.device, self._enabled, self.fast_dtype)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_autocast(self.device, *self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)
        return wrapper


def _deprecated_autocast(module, device_type, default_dtype):
    class _Autocast(autocast):
        def __init__(self, enabled=True, dtype=default_dtype, cache_enabled=True):
            warnings.warn(f"`gradcore.{module}.amp.autocast(args...)` is deprecated. Please use "
                          f"`gradcore.amp.autocast('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    _Autocast.__name__ = _Autocast.__qualname__ = "autocast"
    return _Autocast


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (no argument: 'cuda', as PyTorch)."""
    return bool(_C._get_autocast("cuda" if device_type is None else device_type)[0])


def get_autocast_dtype(device_type):
    return _C._get_autocast(device_type)[1]


def set_autocast_enabled(device_type, enabled=None):
    if enabled is None:  # the old one-argument form: CUDA
        device_type, enabled = "cuda", device_type
    _C._set_autocast(device_type, bool(enabled), get_autocast_dtype(device_type))


def set_autocast_dtype(device_type, dtype):
    _C._set_autocast(device_type, is_autocast_enabled(device_type), dtype)


from .grad_scaler import GradScaler  # noqa: E402


def _deprecated_grad_scaler(module, device_type):
    class _GradScaler(GradScaler):
        def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                     enabled=True):
            warnings.warn(f"`gradcore.{module}.amp.GradScaler(args...)` is deprecated. Please use "
                          f"`gradcore.amp.GradScaler('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__(device_type, init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    _GradScaler.__name__ = _GradScaler.__qualname__ = "GradScaler"
    return _GradScaler
