"""Fetchers: turn what the sampler yields (one index, or a list of indices) into a batch. The same
fetcher runs in the main process (``num_workers=0``) and in each worker process, so both produce
the same batches."""
import numpy as np

import gradcore
from .collate import default_collate
from .dataset import Subset, TensorDataset


class _DatasetKind:
    Map = 0
    Iterable = 1


def _take_rows(t, rows):
    """``t[rows]`` for a 1-D int64 array of row indices, as one gather instead of a stack of rows."""
    if hasattr(gradcore, "index_select"):
        return gradcore.index_select(t, 0, gradcore.from_numpy(rows))
    return gradcore.from_numpy(t.numpy()[rows])  # fancy indexing copies into a fresh array


def _batch_gatherer(dataset):
    """For a plain ``TensorDataset`` (or a ``Subset`` of one, any depth): a function mapping a batch
    of row numbers to ``[t[rows] for t in tensors]``, exactly what ``default_collate`` makes of the
    samples, with one gather per tensor. None when the dataset is anything else (a subclass that
    overrides ``__getitem__`` included), or when the tensors can only be gathered sample by sample
    (they require grad or live off the CPU and there is no native ``index_select``)."""
    if isinstance(dataset, Subset):
        if type(dataset).__getitem__ is not Subset.__getitem__ or type(dataset).__getitems__ is not Subset.__getitems__:
            return None
        inner = _batch_gatherer(dataset.dataset)
        if inner is None:
            return None
        outer = np.asarray(dataset.indices.detach().numpy() if isinstance(dataset.indices, gradcore.Tensor)
                           else dataset.indices)
        if outer.ndim != 1 or (outer.size and outer.dtype.kind not in "iu"):
            return None
        outer = outer.astype(np.int64, copy=False)
        return lambda rows: inner(outer[rows])
    if not isinstance(dataset, TensorDataset) or type(dataset).__getitem__ is not TensorDataset.__getitem__:
        return None
    tensors = dataset.tensors
    if not hasattr(gradcore, "index_select") and any(t.requires_grad or t.device.type != "cpu" for t in tensors):
        return None
    return lambda rows: [_take_rows(t, rows) for t in tensors]


def _as_rows(index):
    """The batch of indices as a 1-D int64 array, or None when it is not a flat list of ints
    (a custom sampler may yield anything its dataset accepts)."""
    rows = np.asarray(index)
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        return None
    return rows.astype(np.int64, copy=False)


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.gather = _batch_gatherer(dataset) if auto_collation and collate_fn is default_collate else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.gather is not None:
            rows = _as_rows(index)
            if rows is not None and rows.size:
                return self.gather(rows)
        if callable(getattr(self.dataset, "__getitems__", None)):
            data = self.dataset.__getitems__(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def _make_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
    cls = _MapDatasetFetcher if kind == _DatasetKind.Map else _IterableDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
