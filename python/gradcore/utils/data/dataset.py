"""Datasets: map-style (``Dataset``: ``__getitem__`` + ``__len__``) and iterable-style
(``IterableDataset``: ``__iter__``), plus the usual combinators and ``random_split``."""
import bisect
import itertools
import math
import operator
import warnings

import gradcore
from .sampler import _randperm


class Dataset:
    """A map from keys (usually ``0 .. len - 1``) to samples. Subclasses implement ``__getitem__``
    and, for the default samplers, ``__len__``; ``a + b`` concatenates two datasets."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses implement ``__iter__``. With ``num_workers > 0`` every
    worker iterates its own copy; use ``get_worker_info()`` inside ``__iter__`` to shard."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Sample ``i`` is ``tuple(t[i] for t in tensors)``; every tensor must have the same size in
    dimension 0.

    A ``DataLoader`` over a ``TensorDataset`` (or a ``Subset`` of one) with the default collation
    gathers a whole batch with one indexing call per tensor instead of stacking sample by sample.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, gradcore.Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a Tensor. "
                                "Hint: convert it with gradcore.tensor(...) or gradcore.from_numpy(...)")
            if t.dim() == 0:
                raise AssertionError(f"TensorDataset: tensor {i} is 0-dimensional; every tensor needs a "
                                     "first dimension that indexes the samples")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise AssertionError(f"Size mismatch between tensors: TensorDataset needs the same size in dimension 0, "
                                 f"got {sizes} (shapes {[list(t.shape) for t in tensors]})")
        self.tensors = tensors

    def __getitem__(self, index):
        try:
            i = operator.index(index)
        except TypeError:
            return tuple(t[index] for t in self.tensors)
        return tuple(t.select(0, i) for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        if type(self).__getitem__ is not Subset.__getitem__ and type(self).__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{type(self).__name__} overrides __getitem__ but not __getitems__, which the DataLoader uses to "
                "fetch a batch. Add: def __getitems__(self, indices): return [self[i] for i in indices]")
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several map-style datasets one after the other."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: index {idx} is out of range for a dataset of length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets one stream after the other."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _split_lengths(n, lengths):
    """Integer split sizes; fractions summing to 1 become ``floor(n * f)`` each, then the remainder
    is handed out one by one round-robin from the first split (PyTorch's rule)."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 (got {frac})")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, s in enumerate(sizes):
            if s == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.")
        return sizes
    for i, s in enumerate(lengths):
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ValueError(f"random_split: length at index {i} must be a non-negative int or a fraction, got {s!r}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths {list(lengths)} sum to {sum(lengths)}, the dataset has {n} samples)")
    return list(lengths)


def random_split(dataset, lengths, generator=None):
    """Splits ``dataset`` into non-overlapping ``Subset``s of the given ``lengths`` (ints summing to
    ``len(dataset)``, or fractions summing to 1), over one random permutation drawn from
    ``generator`` (gradcore's default generator when None).

    >>> train, val = random_split(range(10), [0.7, 0.3], generator=gradcore.Generator().manual_seed(0))
    """
    sizes = _split_lengths(len(dataset), lengths)
    perm = _randperm(sum(sizes), generator)
    return [Subset(dataset, perm[end - size:end]) for end, size in zip(itertools.accumulate(sizes), sizes)]
