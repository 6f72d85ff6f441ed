"""``gradcore.cpu``: the CPU device's namespace (``gradcore.cpu.amp``, as ``torch.cpu``)."""
from . import amp  # noqa: F401


def is_available():
    return True


def device_count():
    return 1
