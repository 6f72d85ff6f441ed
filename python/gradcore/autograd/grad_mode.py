"""Grad-mode switches: context managers and decorators, as in torch.autograd.grad_mode.

The flag itself is thread-local and lives in C++ (every op reads it)."""
import functools

from .. import _C


class _GradModeSwitch:
    _mode = None

    def __enter__(self):
        self._prev = _C.functions.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeSwitch):
    """Disables gradient recording: results of ops inside have ``requires_grad=False``."""
    _mode = False


class enable_grad(_GradModeSwitch):
    """Enables gradient recording inside a ``no_grad`` region."""
    _mode = True


class inference_mode(_GradModeSwitch):
    """Like ``no_grad`` (gradcore has no separate inference tensors)."""

    def __init__(self, mode=True):
        self._mode = not mode

    def __call__(self, fn=None):
        if fn is None:
            return self
        return super().__call__(fn)


class set_grad_enabled(_GradModeSwitch):
    """``set_grad_enabled(mode)``: sets grad mode now; as a context manager, restores it on exit."""

    def __init__(self, mode):
        self._prev = _C.functions.is_grad_enabled()
        self._mode = bool(mode)
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False
