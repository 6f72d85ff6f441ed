"""gradcore: a small, fast autograd engine with PyTorch's training API.

    import gradcore as torch

The Tensor class, every op and the autograd engine live in the native extension ``gradcore._C``;
this package adds the thin Python layer: constructors that parse Python data, grad-mode context
managers, ``nn``, ``optim``, ``utils.data``, saving and the ``Trainer``.
"""
__version__ = "0.1.0"  # the version in pyproject.toml (tests/test_tensor.py keeps them equal)

from . import _C
from ._C import Tensor, dtype, device, Generator

# Every op bound as a module-level function (gradcore.add, gradcore.sum, gradcore.relu, ...).
globals().update({k: v for k, v in vars(_C.functions).items() if not k.startswith("_")})

from ._tensor import Size, tensor, as_tensor  # noqa: E402
from ._tensor_str import set_printoptions  # noqa: E402
from ._tensor_funcs import (tril, triu, split, chunk, tensor_split, flip, fliplr, flipud, roll,  # noqa: E402
                            repeat_interleave, diag, bincount, unflatten)
from ._math_funcs import (isnan, isinf, isfinite, isposinf, isneginf, isclose, allclose, nan_to_num,  # noqa: E402
                          logsumexp, var_mean, std_mean, numel, outer, ger, tensordot, meshgrid)
from ._addmm import addmm, addmv, baddbmm, addbmm  # noqa: E402
from ._einsum import einsum  # noqa: E402
from ._legacy import (FloatTensor, DoubleTensor, LongTensor, BoolTensor, ByteTensor, CharTensor,  # noqa: E402
                      ShortTensor, IntTensor)
from . import backends  # noqa: E402
from .autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode  # noqa: E402
from . import autograd  # noqa: E402
from . import cuda, accelerator  # noqa: E402
from . import nn  # noqa: E402
from . import optim  # noqa: E402
from . import utils  # noqa: E402
from .serialization import save, load  # noqa: E402
from ._finfo import finfo, iinfo  # noqa: E402
from . import random  # noqa: E402
from .random import get_rng_state, set_rng_state  # noqa: E402
from . import amp, cpu  # noqa: E402
from .amp import (autocast, is_autocast_enabled, get_autocast_dtype, set_autocast_enabled,  # noqa: E402
                  set_autocast_dtype)
from .train import Trainer  # noqa: E402
from . import callbacks  # noqa: E402

float32 = float = dtype.float32
float64 = double = dtype.float64
bfloat16 = dtype.bfloat16
float16 = half = dtype.float16
int64 = long = dtype.int64
int32 = int = dtype.int32  # noqa: A001  (PyTorch's name)
int16 = short = dtype.int16
int8 = dtype.int8
uint8 = dtype.uint8
bool = dtype.bool  # noqa: A001  (PyTorch's name)

default_generator = _C.default_generator()

from . import futures  # noqa: E402
from . import distributed  # noqa: E402  (imports no MPI: init_process_group does)
from . import debug  # noqa: E402  (the training doctor)


def set_default_device(device):
    """Sets the device the factory functions (zeros, ones, empty, full, rand, randn, randint, arange,
    linspace, eye, tensor) and the nn layers' parameters use when given no ``device``; the ``*_like``
    functions keep their input's. ``None`` resets it to the CPU."""
    _C._set_default_device(device)


def get_default_device():
    """The device set by :func:`set_default_device` (``device('cpu')`` by default)."""
    return _C._get_default_device()
