"""Samplers: iterables over dataset indices (or over lists of indices, for ``BatchSampler``).

Every random choice is drawn from gradcore's generators, never from Python's ``random`` or NumPy's
global state, so ``gradcore.manual_seed(s)`` (or a ``gradcore.Generator`` passed as ``generator``)
makes the order reproducible.
"""
import itertools

import gradcore


def _randperm(n, generator=None):
    """A uniformly random permutation of ``range(n)`` as a list of ints, drawn from ``generator``
    (gradcore's default generator when None)."""
    return gradcore.randperm(n, generator=generator).tolist()


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
    ``weights[i] / sum(weights)``: ``gradcore.multinomial(weights, num_samples, replacement)``
    each pass (so weights that are negative, not finite or all zero raise when iterated, as in
    PyTorch).

    Args:
        weights (sequence): non-negative weights, not necessarily summing to one.
        num_samples (int): how many indices each pass yields.
        replacement (bool): draw with replacement (default); without it, no index repeats.
        generator (gradcore.Generator): the stream to draw from (default: gradcore's default).
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int("num_samples", num_samples)
        _check_bool("replacement", replacement)
        w = gradcore.as_tensor(weights.detach() if isinstance(weights, gradcore.Tensor) else weights,
                               dtype=gradcore.float64)
        if w.dim() != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        idx = gradcore.multinomial(self.weights, self.num_samples, self.replacement, generator=self.generator)
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
