"""gradcore.cuda: CUDA device queries and controls, as ``torch.cuda`` has them.

A CUDA device is available when this gradcore was built with its CUDA backend (pip builds it when
the CUDA compiler, nvcc, is found; ``GRADCORE_CUDA=OFF`` skips it) *and* the machine has a GPU and
driver. Without one, queries answer plainly (``is_available()`` is False, ``device_count()`` is 0)
and anything that needs a GPU raises a RuntimeError that says which of the two is missing.
"""
from .. import _C


def is_built():
    """True when this gradcore was compiled with its CUDA backend (a GPU may still be absent)."""
    return bool(_C._cuda_built)


def is_available():
    """True when gradcore was built with CUDA and a GPU is present."""
    return device_count() > 0


def device_count():
    """Number of CUDA GPUs gradcore can use (0 without the backend, a driver or a GPU)."""
    return _C._cuda_device_count()


def _require(what):
    if not is_built():  # AssertionError, as PyTorch's "Torch not compiled with CUDA enabled"
        raise AssertionError(f"gradcore.cuda.{what}: this gradcore was built without CUDA support (nvcc was not found "
                           "when it was installed). Hint: check gradcore.cuda.is_available() before using CUDA.")
    if not is_available():
        raise RuntimeError(f"gradcore.cuda.{what}: no CUDA GPU (or driver) was found on this machine. "
                           "Hint: check gradcore.cuda.is_available() before using CUDA.")


def _index(device):
    if device is None:
        return -1
    if isinstance(device, int):
        return device
    d = device if isinstance(device, _C.device) else _C.device(str(device))
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return 0 if d.index is None else d.index


def synchronize(device=None):
    """Waits for all queued GPU work (of ``device``, or of every device) to finish."""
    _require("synchronize")
    _C._cuda_synchronize(_index(device))


def current_device():
    """Index of the current CUDA device."""
    _require("current_device")
    return _C._cuda_current_device()


def set_device(device):
    """Makes ``device`` the current CUDA device."""
    _require("set_device")
    _C._cuda_set_device(max(_index(device), 0))


def empty_cache():
    """Returns the GPU memory gradcore's caching allocator holds unused to the driver (no-op without CUDA)."""
    if is_available():
        _C._cuda_empty_cache()


def memory_allocated(device=None):
    """Bytes of GPU memory held by live tensors (rounded to the allocator's block sizes)."""
    _require("memory_allocated")
    return _C._cuda_memory_stats(max(_index(device), 0))["allocated_bytes"]


def max_memory_allocated(device=None):
    """Peak of memory_allocated() since the program started."""
    _require("max_memory_allocated")
    return _C._cuda_memory_stats(max(_index(device), 0))["peak_allocated_bytes"]


def memory_reserved(device=None):
    """Bytes of GPU memory held by the caching allocator (live tensors plus cached blocks)."""
    _require("memory_reserved")
    return _C._cuda_memory_stats(max(_index(device), 0))["reserved_bytes"]


def manual_seed(seed):
    """Seeds the CUDA generator (silently harmless without CUDA, as in PyTorch)."""
    _C._cuda_manual_seed(int(seed))


def manual_seed_all(seed):
    """Seeds the generator of every CUDA device (one generator serves them all here)."""
    _C._cuda_manual_seed(int(seed))


def get_rng_state(device="cuda"):
    """The CUDA generator's state as an int64 tensor ``[seed, offset]`` (PyTorch: a uint8 tensor)."""
    return _C._cuda_generator().get_state()


def set_rng_state(new_state, device="cuda"):
    """Restores a state returned by :func:`get_rng_state`."""
    _C._cuda_generator().set_state(new_state)


def get_device_name(device=None):
    _require("get_device_name")
    return "CUDA device %d" % max(_index(device), 0)

from . import amp  # noqa: E402,F401  (gradcore.cuda.amp, deprecated as in PyTorch)
