"""gradcore.cuda: device queries. This build of gradcore has no CUDA backend, so no CUDA device is
ever available; asking to run on one raises a RuntimeError that says so."""
from . import _C


def is_available():
    """True when gradcore was built with CUDA and a GPU is present."""
    return _C._cuda_available()


def device_count():
    return _C._cuda_device_count()


def _require(what):
    if not is_available():
        raise RuntimeError(f"gradcore.cuda.{what}: gradcore was built without CUDA support (or no GPU is present). "
                           "Hint: check gradcore.cuda.is_available() before using CUDA.")


def synchronize(device=None):
    """Waits for all queued GPU work to finish."""
    _require("synchronize")


def empty_cache():
    """Returns cached GPU memory to the driver (nothing to do without CUDA)."""


def manual_seed(seed):
    """Seeds the CUDA generator; silently ignored without CUDA, as PyTorch does."""


def manual_seed_all(seed):
    """Seeds every CUDA generator; silently ignored without CUDA, as PyTorch does."""


def current_device():
    _require("current_device")
    return 0
