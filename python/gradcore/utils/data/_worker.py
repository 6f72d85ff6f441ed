"""Worker processes for ``DataLoader(num_workers > 0)``.

The main process owns the sampler: it sends each worker ``(task_idx, indices)`` over that worker's
index queue (round-robin, at most ``prefetch_factor * num_workers`` tasks in flight) and every
worker answers on one shared result queue with ``(task_idx, batch)`` pickled. Results arrive in any
order; the main process holds early ones back and yields them in task order, so the batches are
exactly those of ``num_workers=0``. Tensors travel as NumPy arrays (``Tensor.__reduce_ex__``).

Shutdown (end of the epoch, ``break`` + garbage collection, an error in a worker): set the done
event, send every worker ``None``, join them, terminate any that do not exit, close the queues.
"""
import os
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

import gradcore
from .fetch import _make_fetcher

_POLL_INTERVAL = 1.0  # seconds between liveness checks while waiting on a queue


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``
    (this worker's copy)."""

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, dataset={self.dataset!r})"


_worker_info = None


def get_worker_info():
    """In a DataLoader worker process: its ``WorkerInfo`` (use ``id`` and ``num_workers`` to shard an
    ``IterableDataset``). In the main process: None."""
    return _worker_info


class KeyErrorMessage(str):
    """A KeyError prints its argument's repr; this keeps the traceback text readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as its type and traceback text."""

    def __init__(self, exc_info=None, where="in background"):
        exc_type, exc, tb = exc_info if exc_info is not None else sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None  # an exception type that wants other arguments
        raise exc


class _IterableDatasetStopIteration:
    """A worker's answer once its copy of an IterableDataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at a new epoch: restart the IterableDataset's iterator."""


def _numpy_seed(base_seed, worker_id):
    """NumPy's global seed in a worker: distinct per worker and per epoch, derived from the loader's
    base seed (forked workers would otherwise all share the parent's NumPy state)."""
    s = (base_seed + worker_id) % (2**64)
    return [s & 0xFFFFFFFF, s >> 32, worker_id]


def _pickle_result(task_idx, data, worker_id):
    """Pickles here, not in the queue's feeder thread, where a pickling error would be printed and the
    batch silently lost (the main process would then wait forever)."""
    try:
        return bytes(ForkingPickler.dumps((task_idx, data)))
    except Exception:
        err = ExceptionWrapper(where=f"in DataLoader worker process {worker_id} while pickling the batch")
    try:
        return bytes(ForkingPickler.dumps((task_idx, err)))
    except Exception:  # the exception type itself does not pickle (e.g. a class defined in a function)
        err.exc_type = RuntimeError
        return bytes(ForkingPickler.dumps((task_idx, err)))


def _worker_loop(kind, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                 base_seed, init_fn, worker_id, num_workers):
    global _worker_info
    # Our parent as seen now (the main process, or a forkserver): if it dies we are re-parented,
    # the id changes, and the loop below exits instead of waiting forever.
    parent_pid = os.getppid()
    try:
        # One thread per worker: N workers on OpenMP pools oversubscribe the cores, and a forked child
        # must not rely on the parent's thread pool.
        gradcore.set_num_threads(1)
        seed = (base_seed + worker_id) % (2**63)
        random.seed(seed)
        gradcore.manual_seed(seed)
        np.random.seed(_numpy_seed(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _make_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        iteration_end = False
        while True:
            try:
                r = index_queue.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent_pid:
                    break  # shut down, or the main process died without telling us
                continue
            if r is None or os.getppid() != parent_pid:
                break
            if isinstance(r, _ResumeIteration):
                iteration_end = False
                if init_error is None:
                    try:
                        fetcher = _make_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)
                    except Exception:
                        init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                continue
            if done_event.is_set():
                continue  # drain without working: the main process is shutting us down
            task_idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            elif iteration_end:
                data = _IterableDatasetStopIteration(worker_id)
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data = _IterableDatasetStopIteration(worker_id)
                    iteration_end = True
                except Exception:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put(_pickle_result(task_idx, data, worker_id))
            del data, index, r
    except KeyboardInterrupt:
        pass  # the main process got it too and shuts us down
    if done_event.is_set():
        # Results nobody will read may still sit in the feeder thread: do not block exit on them.
        data_queue.cancel_join_thread()
        data_queue.close()
