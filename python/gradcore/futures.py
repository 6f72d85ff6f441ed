"""gradcore.futures: PyTorch's ``torch.futures``: a Future holds the result of an asynchronous
operation (a collective's ``Work.get_future()``, or a value another thread sets), with callbacks.

    fut = dist.all_reduce(t, async_op=True).get_future()
    doubled = fut.then(lambda f: f.value()[0] * 2)   # runs once the all-reduce completes
    doubled.wait()

A Future made by gradcore.distributed is driven by its operation: ``wait()`` waits for it (within
the group's timeout) and ``done()`` tests it, since MPI moves a non-blocking collective forward
only inside MPI calls. A plain ``Future()`` is completed by ``set_result``/``set_exception``,
from any thread.
"""
import sys
import threading
import traceback
from typing import Generic, TypeVar

__all__ = ["Future", "collect_all", "wait_all"]

T = TypeVar("T")


class Future(Generic[T]):
    """The result of an asynchronous operation: unset until ``set_result`` (or
    ``set_exception``) completes it, then ``wait()`` and ``value()`` return it and the callbacks
    added with ``then``/``add_done_callback`` run (inline, in the completing thread; at once
    when added to a completed Future). A Future is completed once.

    Args:
        devices: accepted as PyTorch does (the CUDA devices of the value's tensors); gradcore's
            CUDA collectives complete in stream order, so no device synchronisation is needed.
    """

    def __init__(self, *, devices=None):
        self._devices = list(devices) if devices is not None else []
        self._done = False
        self._value = None
        self._error = None  # what wait() and value() raise
        self._callbacks = []
        self._cond = threading.Condition()
        self._progress = None  # progress(block): moves the operation that completes this Future

    def done(self):
        """True once this Future has a result or an exception. Never blocks."""
        if not self._done and self._progress is not None:
            self._progress(False)
        return self._done

    def wait(self):
        """Blocks until this Future is completed and returns its value (raises its exception)."""
        if not self._done and self._progress is not None:
            self._progress(True)
        with self._cond:
            while not self._done:
                self._cond.wait()
        return self.value()

    def value(self):
        """The value of a completed Future (raises its exception); RuntimeError before it completes."""
        if not self._done:
            raise RuntimeError("Future.value(): the Future is not completed yet. Hint: call wait(), which blocks "
                               "until it is, or read value() inside a callback passed to then().")
        if self._error is not None:
            raise self._error
        return self._value

    def then(self, callback):
        """A new Future completed with ``callback(self)`` once this one completes; an exception
        the callback raises (or this Future's, re-raised by ``value()``) completes it with a
        RuntimeError naming it."""
        child = Future(devices=self._devices)
        child._progress = self._progress

        def run(fut):
            try:
                result = callback(fut)
            except Exception as e:  # noqa: BLE001 - it becomes the child's error, as in PyTorch
                error = RuntimeError(f"Got the following error when running the callback: {type(e).__name__}: {e}")
                error.__cause__ = e
                child._complete(None, error)
            else:
                child.set_result(result)

        self._add(run)
        return child

    def add_done_callback(self, callback):
        """Runs ``callback(self)`` once this Future completes. An exception it raises is printed
        and dropped, as PyTorch logs it (use ``then`` to see it)."""
        def run(fut):
            try:
                callback(fut)
            except Exception as e:  # noqa: BLE001 - logged, as PyTorch does
                sys.stderr.write(f"Got the following error when running the callback: {type(e).__name__}: {e}\n")
                traceback.print_exc()

        self._add(run)

    def set_result(self, result):
        """Completes this Future with ``result`` and runs its callbacks."""
        self._complete(result, None)

    def set_exception(self, result):
        """Completes this Future with the exception ``result``: wait() and value() raise it."""
        if not isinstance(result, Exception):
            raise AssertionError(f"{result} is of type {type(result)}, not an Exception.")
        self._complete(None, result)

    def _add(self, fn):
        with self._cond:
            if not self._done:
                self._callbacks.append(fn)
                return
        fn(self)

    def _complete(self, value, error):
        with self._cond:
            if self._done:
                raise RuntimeError("Attempting to mark a completed Future as complete again. Note that a Future can "
                                   "only be marked completed once.")
            self._value, self._error, self._done = value, error, True
            callbacks, self._callbacks = self._callbacks, []
            self._cond.notify_all()
        for fn in callbacks:
            fn(self)

    def __repr__(self):
        return f"<gradcore.futures.Future {'completed' if self._done else 'pending'}>"


def collect_all(futures):
    """A Future completed, with the list of ``futures``, once every one of them is."""
    futures = list(futures)
    for f in futures:
        if not isinstance(f, Future):
            raise TypeError(f"collect_all: expected a list of gradcore.futures.Future, got {type(f).__name__}")
    combined = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            combined.set_result(futures)

    def progress(block):  # a failed Future raises its error from wait(), as PyTorch's collect_all does
        for f in futures:
            if block:
                f.wait()
            else:
                f.done()

    combined._progress = progress
    if not futures:
        combined.set_result([])
    for f in futures:
        f.add_done_callback(one_done)
    return combined


def wait_all(futures):
    """Waits for every Future in ``futures`` and returns their values (raising the first error)."""
    return [f.wait() for f in collect_all(futures).wait()]
