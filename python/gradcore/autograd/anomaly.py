"""Anomaly detection, as in ``torch.autograd.anomaly_mode``, and the forward check.

``detect_anomaly(check_nan=True)`` (a context manager and a decorator) and
``set_detect_anomaly(mode, check_nan=True)`` switch anomaly mode on: every node created meanwhile
records the Python stack of the forward call that made it (``grad_fn.metadata["traceback_"]``),
and during ``backward()`` a node that raises, or (with ``check_nan``) returns a gradient holding
NaN, raises ``RuntimeError("Function 'LogBackward0' returned nan values in its 0th output.")``
after a ``UserWarning`` that shows where its forward call was made. The switch is global (not
per thread), as PyTorch's; ``is_anomaly_enabled()`` and ``is_anomaly_check_nan_enabled()`` read it.

The forward check, for tools (``gradcore.debug``'s doctor) that must find the first op whose
output went NaN or inf while the forward pass runs::

    def callback(name, input_shapes, input_ranges, kind):
        # name: the node the op recorded ("LogBackward0"); input_shapes: one gradcore.Size (or
        # None) per input of the node; input_ranges: one (min, max) pair of floats (or None for an
        # empty or bool input) per input; kind: "nan" if the output holds a NaN, else "inf".
        # It runs inside the op, so traceback.extract_stack() ends at the Python line that called
        # it. An exception it raises propagates out of the op.
        ...

    set_forward_check(callback)        # or: with forward_check(callback): ...
    set_forward_check(None)            # off

While it is on, every op that records an autograd node (an op on a tensor that requires grad,
with grad mode on) checks each floating output for NaN/inf (a scan of its memory for a contiguous
float32/float64 CPU tensor, a reduction otherwise) and calls ``callback`` when one is found; ops run
by the callback itself are not checked. Off (the default), the check costs one branch per recorded
node (benchmarks/bench_forward_check.py measures both). One callback at a time; setting one
replaces the previous.
"""
import functools

from .. import _C

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "set_forward_check", "forward_check", "is_forward_check_enabled"]


def is_anomaly_enabled():
    """Whether anomaly mode is on."""
    return _C._is_anomaly_enabled()


def is_anomaly_check_nan_enabled():
    """Whether anomaly mode also checks every backward node's outputs for NaN."""
    return _C._is_anomaly_check_nan_enabled()


class detect_anomaly:
    """Context manager and decorator that turns anomaly mode on inside it.

    Example::

        >>> with gradcore.autograd.detect_anomaly():
        ...     loss = model(x).log().sum()
        ...     loss.backward()  # a NaN gradient raises, naming the node and its forward line
    """

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()

    def __enter__(self):
        _C._set_anomaly_enabled(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(mode, check_nan=True)``: sets anomaly mode now; as a context manager,
    restores the previous mode on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        _C._set_anomaly_enabled(bool(mode), bool(check_nan))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False


def set_forward_check(callback):
    """Calls ``callback(name, input_shapes, input_ranges, kind)`` whenever an op recording an
    autograd node writes NaN or inf (see the module docstring); ``None`` turns the check off."""
    _C._set_forward_check(callback)


def is_forward_check_enabled():
    """Whether a forward-check callback is installed."""
    return _C._forward_check_enabled()


class forward_check:
    """Context manager: ``set_forward_check(callback)`` inside it, the check off again on exit."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        set_forward_check(self.callback)
        return self

    def __exit__(self, *exc):
        set_forward_check(None)
        return False
