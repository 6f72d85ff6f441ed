"""``DataLoader``: batches of a dataset, in the main process or in worker processes."""
import collections.abc
import itertools
import multiprocessing
import pickle
import queue
import sys
import time

import gradcore
from . import _worker
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .fetch import _DatasetKind, _make_fetcher
from .sampler import BatchSampler, RandomSampler, SequentialSampler, Sampler, _seed_from


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: yields None forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _pinning_available():
    cuda = getattr(gradcore, "cuda", None)
    return (cuda is not None and cuda.is_available() and hasattr(gradcore.Tensor, "pin_memory"))


def _pin(data):
    if isinstance(data, gradcore.Tensor):
        return data.pin_memory()
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: _pin(v) for k, v in data.items()})
        except TypeError:
            return {k: _pin(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_pin(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_pin(v) for v in data)
    return data


def _mp_context(ctx):
    """'fork' on Linux (workers start at once and share the dataset copy-on-write); 'spawn' elsewhere
    (fork is unsafe on macOS and absent on Windows)."""
    if ctx is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods and sys.platform.startswith("linux")
                                           else "spawn")
    if isinstance(ctx, str):
        return multiprocessing.get_context(ctx)
    return ctx


class DataLoader:
    """Iterates over ``dataset`` in batches.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__``/``__len__``) or an ``IterableDataset``.
        batch_size (int or None): samples per batch; None turns automatic batching off (each sample
            is yielded, NumPy arrays converted to tensors). Default: 1.
        shuffle (bool): a new random order every epoch, drawn from ``generator`` (or, when None, from
            a seed drawn from gradcore's default generator, so ``gradcore.manual_seed`` fixes it).
        sampler / batch_sampler: custom index orders (exclusive with ``shuffle``; ``batch_sampler``
            also with ``batch_size`` and ``drop_last``).
        num_workers (int): worker processes; 0 loads in the main process. Either way the batches and
            their order are the same.
        collate_fn: merges a list of samples into a batch. Default: ``default_collate``.
        pin_memory (bool): pin host batches for faster copies to a GPU; a no-op without CUDA.
        drop_last (bool): drop the last, incomplete batch.
        timeout (float): seconds to wait for a worker's batch before raising RuntimeError; 0 waits forever.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a start method name or a context. Default: 'fork' on Linux, else 'spawn'.
        generator (gradcore.Generator): the stream for shuffling and for the workers' base seed.
        prefetch_factor (int): batches each worker loads ahead. Default: 2 with workers.
        persistent_workers (bool): keep the workers alive between epochs.
        in_order (bool): yield batches in sampler order (True) or as soon as any worker has one.

    With a ``TensorDataset`` (or a ``Subset`` of one) and the default collation, each batch is
    gathered with one indexing call per tensor instead of stacking ``batch_size`` samples.
    """

    _frozen_after_init = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers option should be a non-negative int, got {num_workers!r}; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. Let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"prefetch_factor option should be non-negative, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            self._dataset_kind = _DatasetKind.Map
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._frozen_after_init:
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        if not self.persistent_workers:
            return _MultiProcessingDataLoaderIter(self)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = _MultiProcessingDataLoaderIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._num_workers = loader.num_workers
        self._pin_memory = loader.pin_memory and _pinning_available()
        self._sampler_iter = iter(self._index_sampler)
        # Drawn every epoch as PyTorch does (seeds the workers), so the stream advances the same way
        # whatever num_workers is.
        self._base_seed = _seed_from(loader.generator)

    def __iter__(self):
        return self

    def _reset(self, loader):
        self._sampler_iter = iter(self._index_sampler)

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        return _pin(data) if self._pin_memory else data

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _make_fetcher(self._dataset_kind, self._dataset, self._auto_collation,
                                      self._collate_fn, self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())  # StopIteration ends the epoch


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Task ``i`` goes to worker ``i mod num_workers`` (skipping exhausted IterableDataset workers);
    ``_task_info[i]`` is ``(worker_id,)`` while it is in flight and ``(worker_id, data)`` once it has
    arrived ahead of its turn. Task numbers keep counting across persistent epochs, so a late result
    from an abandoned epoch is recognised (its number is unknown) and dropped."""

    def __init__(self, loader):
        self._shutdown = True  # until the workers exist, there is nothing to shut down
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent_workers = loader.persistent_workers
        ctx = _mp_context(loader.multiprocessing_context)
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        try:
            for worker_id in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()  # never block the main process's exit on unsent tasks
                w = ctx.Process(target=_worker._worker_loop, daemon=True, args=(
                    self._dataset_kind, self._dataset, index_queue, self._worker_result_queue,
                    self._workers_done_event, self._auto_collation, self._collate_fn, self._drop_last,
                    self._base_seed, loader.worker_init_fn, worker_id, self._num_workers))
                w.start()
                self._index_queues.append(index_queue)
                self._workers.append(w)
        except BaseException:
            self._shutdown_workers()
            raise
        self._send_idx = 0
        self._start_epoch()

    def _start_epoch(self):
        self._rcvd_idx = self._send_idx
        self._task_info = {}
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _reset(self, loader):
        super()._reset(loader)
        if self._dataset_kind == _DatasetKind.Iterable:
            for q in self._index_queues:
                q.put(_worker._ResumeIteration())
        self._start_epoch()

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker's stream is exhausted
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def _next_data(self):
        if self._shutdown:
            raise StopIteration  # the epoch ended, or an error shut the workers down
        while True:
            # Skip tasks sent to workers whose stream ended; stop when nothing is left in flight.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                _, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data)

            idx, data = self._get_data()
            if idx not in self._task_info:
                continue  # a late result of an abandoned epoch
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                del self._task_info[idx]
                self._try_put_index()
                continue
            if idx != self._rcvd_idx and self._in_order:
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            if idx == self._rcvd_idx:
                self._rcvd_idx += 1
            return self._process_data(data)

    def _process_data(self, data):
        if isinstance(data, _worker.ExceptionWrapper):
            self._shutdown_workers(join_timeout=0)
            data.reraise()
        self._try_put_index()
        return data

    def _get_data(self):
        """The next ``(task_idx, data)`` from any worker; raises if a worker died or ``timeout`` passed."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker._POLL_INTERVAL if deadline is None else min(_worker._POLL_INTERVAL,
                                                                        max(deadline - time.monotonic(), 0))
            try:
                return pickle.loads(self._worker_result_queue.get(timeout=wait))
            except queue.Empty:
                pass
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                desc = ", ".join(f"pid {w.pid} (exit code {w.exitcode})" for w in dead)
                self._shutdown_workers(join_timeout=0)
                raise RuntimeError(f"DataLoader worker(s) {desc} exited unexpectedly. Hint: exit code -9 usually "
                                   "means the system ran out of memory; run with num_workers=0 to see any error "
                                   "in the main process")
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown_workers(join_timeout=0)
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch "
                                   f"from {self._num_workers} worker(s)")

    def _shutdown_workers(self, join_timeout=5 * _worker._POLL_INTERVAL):
        """Asks every worker to exit and waits up to ``join_timeout`` seconds in all for them to finish
        the batch in hand; then terminates any still running. Failure paths pass 0: a worker that
        hangs or timed out is not waited for."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for q in self._index_queues:
                q.put(None)
            deadline = time.monotonic() + join_timeout
            for w in self._workers:
                w.join(timeout=max(deadline - time.monotonic(), 0))
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join()
            for q in self._index_queues:
                q.close()
            self._worker_result_queue.cancel_join_thread()
            self._worker_result_queue.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass  # interpreter shutdown: modules may already be gone
