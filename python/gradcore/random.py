"""``gradcore.random``: the default generator's state, as ``torch.random``.

Every random op draws from a counter-based generator (``gradcore.Generator``): its whole state is
the pair ``(seed, offset)``. ``get_rng_state()`` returns it as PyTorch does, an opaque uint8
tensor (here 16 bytes: the two 64-bit words, little-endian), and ``set_rng_state`` takes it back.
"""
import contextlib

from . import _C

__all__ = ["set_rng_state", "get_rng_state", "manual_seed", "seed", "initial_seed", "fork_rng"]

manual_seed = _C.functions.manual_seed
seed = _C.functions.seed
initial_seed = _C.functions.initial_seed


def get_rng_state():
    """The default CPU generator's state: an int64 tensor ``[seed, offset]``."""
    return _C.default_generator().get_state()


def set_rng_state(new_state):
    """Restores the default CPU generator to a state returned by :func:`get_rng_state`."""
    _C.default_generator().set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Restores the CPU generator (and the CUDA one, on a CUDA build with a device) on exit, so
    random numbers drawn inside the block leave the global streams where they were.

    >>> with gradcore.random.fork_rng():
    ...     gradcore.manual_seed(0)
    ...     x = gradcore.rand(3)      # the stream outside is untouched
    """
    if not enabled:
        yield
        return
    use_cuda = _C._cuda_device_count() > 0 and (devices is None or len(devices) > 0)
    cpu_state = get_rng_state()
    cuda_state = _C._cuda_generator().get_state() if use_cuda else None
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        if use_cuda:
            _C._cuda_generator().set_state(cuda_state)
