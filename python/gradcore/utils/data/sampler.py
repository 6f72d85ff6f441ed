"""Samplers: iterables over dataset indices (or over lists of indices, for ``BatchSampler``).

Every random choice is drawn from gradcore's generators, never from Python's ``random`` or NumPy's
global state, so ``gradcore.manual_seed(s)`` (or a ``gradcore.Generator`` passed as ``generator``)
makes the order reproducible.
"""
import itertools

import numpy as np

import gradcore


def _randperm(n, generator=None):
    """A uniformly random permutation of ``range(n)`` as a list of ints, drawn from ``generator``
    (gradcore's default generator when None).

    Without a native ``randperm`` it argsorts ``n`` float64 uniforms: with 53 random bits per key a
    tie is vanishingly rare, and the stable sort keeps even a tie deterministic."""
    if hasattr(gradcore, "randperm"):
        return gradcore.randperm(n, generator=generator).tolist()
    keys = gradcore.rand(n, dtype=gradcore.float64, generator=generator).numpy()
    return np.argsort(keys, kind="stable").tolist()


def _seed_from(generator=None):
    """A 63-bit seed drawn from ``generator`` (default: gradcore's default generator), as PyTorch
    draws ``torch.empty((), dtype=torch.int64).random_()``."""
    return int(gradcore.randint(0, 2**63 - 1, (), generator=generator).item())


def _fresh_generator(generator=None):
    """A private generator seeded from ``generator`` (the default generator when None): one draw
    from the shared stream per epoch, so the epoch's permutation does not depend on how many other
    random numbers are drawn while the epoch runs."""
    g = gradcore.Generator()
    g.manual_seed(_seed_from(generator))
    return g


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")


def _check_bool(name, value, exc=ValueError):
    if not isinstance(value, bool):
        raise exc(f"{name} should be a boolean value, but got {name}={value!r}")


class Sampler:
    """Base class of samplers: subclasses implement ``__iter__`` over indices (and ``__len__``
    when the number of indices is known)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Yields ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Samples elements randomly: a fresh permutation each pass (``replacement=False``) or
    ``num_samples`` independent uniform draws (``replacement=True``).

    Args:
        data_source: a sized dataset.
        replacement (bool): draw with replacement. Default: ``False``.
        num_samples (int): how many indices to yield. Default: ``len(data_source)``; without
            replacement, more than that concatenates several permutations.
        generator (gradcore.Generator): the stream to draw from. When None, each pass draws a seed
            from gradcore's default generator, so ``gradcore.manual_seed`` fixes every epoch.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_bool("replacement", replacement, TypeError)
        _check_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = _fresh_generator() if self.generator is None else self.generator
        if self.replacement:
            # Chunks of 32 draws, as PyTorch, so a partly consumed epoch costs little.
            for _ in range(self.num_samples // 32):
                yield from gradcore.randint(0, n, (32,), generator=generator).tolist()
            yield from gradcore.randint(0, n, (self.num_samples % 32,), generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from _randperm(n, generator)
            if self.num_samples % n:
                yield from _randperm(n, generator)[: self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Yields the given ``indices`` in a random order (a new permutation each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _randperm(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Yields ``num_samples`` indices in ``[0, len(weights))``, index ``i`` with probability
    ``weights[i] / sum(weights)``.

    With replacement each draw inverts the cumulative distribution at a uniform ``u``:
    the index is the first ``i`` with ``cdf[i] > u``. Without replacement it keeps the
    ``num_samples`` largest keys ``u_i ** (1 / w_i)`` (Efraimidis-Spirakis), which draws a weighted
    sample without replacement in one pass.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int("num_samples", num_samples)
        _check_bool("replacement", replacement)
        w = np.asarray(weights.detach().numpy() if isinstance(weights, gradcore.Tensor) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite and non-negative with a positive sum, "
                               f"got {w.tolist() if w.size <= 8 else 'an array'}")
        if not replacement and num_samples > int(np.count_nonzero(w)):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                               f"from {int(np.count_nonzero(w))} indices of non-zero weight")
        self.weights = gradcore.from_numpy(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self.weights.numpy()
        u = gradcore.rand(self.num_samples if self.replacement else w.size,
                          dtype=gradcore.float64, generator=self.generator).numpy()
        if self.replacement:
            cdf = np.cumsum(w)
            cdf /= cdf[-1]
            idx = np.minimum(np.searchsorted(cdf, u, side="right"), w.size - 1)
        else:
            with np.errstate(divide="ignore"):
                keys = np.where(w > 0, np.log(u) / w, -np.inf)  # log of u ** (1/w): same order
            idx = np.argsort(-keys, kind="stable")[: self.num_samples]
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Wraps a sampler to yield lists of ``batch_size`` indices; the last, shorter list is dropped
    when ``drop_last``.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive_int("batch_size", batch_size)
        _check_bool("drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
