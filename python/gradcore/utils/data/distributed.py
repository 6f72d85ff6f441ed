"""``DistributedSampler``: each rank of a data-parallel job reads its own share of a dataset."""
import math

import gradcore
from .sampler import Sampler, _check_bool


def _group_value(name):
    """``get_world_size()`` / ``get_rank()`` of the default process group."""
    from ... import distributed as dist
    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    if not dist.is_initialized():
        raise RuntimeError(f"DistributedSampler: {name} was not given and the default process group is not "
                           "initialized. Hint: call gradcore.distributed.init_process_group() first, or pass "
                           "num_replicas= and rank=.")
    return dist.get_world_size() if name == "num_replicas" else dist.get_rank()


class DistributedSampler(Sampler):
    """Sampler that restricts data loading to the subset of the dataset that belongs to one rank.

    The indices (shuffled with a generator seeded by ``seed + epoch`` when ``shuffle``) are padded
    by repeating them from the start until their count divides by ``num_replicas`` (or, with
    ``drop_last``, cut to the largest count that does); rank ``r`` takes every ``num_replicas``-th
    index from position ``r``. Every rank gets ``len(sampler)`` indices, so every rank runs the same
    number of steps. Call ``set_epoch(epoch)`` before each epoch to reshuffle.

    Args:
        dataset: dataset used for sampling (its ``len`` is read).
        num_replicas: number of ranks; the default group's world size when None.
        rank: this rank within ``num_replicas``; the default group's rank when None.
        shuffle: shuffle the indices (the same permutation on every rank). Default: ``True``.
        seed: seed of the shuffle; it must be the same on every rank. Default: ``0``.
        drop_last: drop the tail instead of padding. Default: ``False``.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None:
            num_replicas = _group_value("num_replicas")
        if rank is None:
            rank = _group_value("rank")
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, got {num_replicas!r}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        _check_bool("shuffle", shuffle)
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = gradcore.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = gradcore.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch, so the next iteration shuffles with ``seed + epoch`` (every rank alike)."""
        self.epoch = epoch
