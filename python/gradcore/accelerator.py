"""gradcore.accelerator: the device-agnostic queries PyTorch's current tutorials use."""
from . import cuda
from ._C import device as _device


def is_available():
    return cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator device (``device('cuda')``), or None when there is none."""
    return _device("cuda") if cuda.is_available() else None


def device_count():
    return cuda.device_count()
