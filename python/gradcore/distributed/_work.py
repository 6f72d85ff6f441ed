"""Work: the handle of a collective in flight (``async_op=True``), PyTorch's ``Work``."""
import os
import time
from datetime import timedelta

from ..futures import Future
from ._mpi import load_mpi


class DistError(RuntimeError):
    """An error in gradcore.distributed (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """A collective failed or timed out in the backend (PyTorch's ``DistBackendError``)."""


# Waiting polls the requests: MPI (without a progress thread) moves a collective forward only
# inside MPI calls, so a sleep between tests would stall a large all-reduce's pipeline. Like MPI's
# own blocking wait, it tests back to back; after the first few thousand tests it yields the core
# between tests, so ranks that share cores with a slow peer let it run. The deadline is read
# every 256 tests (a clock read costs more than a test).
_SPIN_TESTS = 2000
_DEADLINE_EVERY = 256

# Operations started and not yet seen complete. MPI writes into (or reads from) a tensor's memory
# until its request completes, so the tensors must outlive a Work the caller drops without waiting
# (an isend nobody waits for): this list holds them, and each new operation retires the finished.
_in_flight = []


class Work:
    """The MPI requests of one operation, the tensors they use, and what to do once they complete
    (write staged copies back, divide an average)."""

    def __init__(self, requests, op_name, group, finish=(), keep=(), result=None, source_group=None):
        self._requests = list(requests)
        self._op_name = op_name
        self._group = group
        self._finish = list(finish)
        self._keep = keep
        self._result = result if result is not None else []
        self._source_group = source_group  # an irecv's group, whose MPI status names the sender
        self._status = load_mpi().Status() if source_group is not None else None
        self._done = False
        _in_flight[:] = [w for w in _in_flight if not w.is_completed()]
        _in_flight.append(self)

    def _test(self):
        MPI = load_mpi()
        if self._status is not None:
            done = self._requests[0].Test(self._status)
        else:
            done = MPI.Request.Testall(self._requests)
        if done:
            # Done before the finishers run: one may complete a Future whose callbacks test this Work.
            finish, self._finish = self._finish, []
            self._done = True
            for f in finish:
                f()
            self._keep = ()  # the staged buffers can go
        return done

    def _then(self, fn):
        """Runs ``fn`` once the operation has completed (now, when it has)."""
        if self._done:
            fn()
        else:
            self._finish.append(fn)

    def is_completed(self):
        """Whether the operation has completed (and its result is in place). Never blocks."""
        return self._done or self._test()

    def is_success(self):
        return self.is_completed()

    def wait(self, timeout=None):
        """Blocks until the operation completes, at most ``timeout`` (a timedelta; the group's
        ``timeout=`` when None), then raises DistBackendError: a peer never joined the operation."""
        if self._done:
            return True
        limit = self._group.timeout if timeout is None else timeout
        seconds = limit.total_seconds() if isinstance(limit, timedelta) else float(limit)
        deadline = time.monotonic() + seconds
        tests = 0
        while not self._test():
            tests += 1
            if tests % _DEADLINE_EVERY == 0 and time.monotonic() > deadline:
                self._timed_out(seconds)
            if tests > _SPIN_TESTS:
                os.sched_yield()
        return True

    def _timed_out(self, seconds):
        g = self._group
        raise DistBackendError(
            f"[rank {g.global_rank}] {self._op_name} timed out after {seconds:g} s on a group of {g.size()} ranks: "
            "at least one other rank never joined it (it may have failed, hung, or called a different "
            "collective). The bound is init_process_group's (or new_group's) timeout=.")

    def result(self):
        """The output tensors of the operation."""
        self.wait()
        return self._result

    def exception(self):
        return None

    def get_future(self):
        """A gradcore.futures.Future completed with ``result()`` (the output tensors) once the
        operation completes; its ``wait()`` waits for the operation, within the group's timeout."""
        fut = Future()

        def progress(block):
            if block:
                self.wait()
            else:
                self.is_completed()

        fut._progress = progress
        self._then(lambda: fut.set_result(self._result))
        return fut

    def source_rank(self):
        """The global rank an irecv received from (for ``src=None``)."""
        if self._source_group is None:
            raise ValueError("source_rank() is only available on the work of an irecv")
        self.wait()
        return self._source_group.ranks[self._status.Get_source()]

    def __repr__(self):
        state = "completed" if self._done else "pending"
        return f"Work({self._op_name}, {state})"
