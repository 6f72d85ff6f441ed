"""``Trainer(strategy="ddp")``: data-parallel training over the ranks of an MPI job.

Inside a job (``python -m gradcore.distributed.run``, ``mpiexec``, or after
``init_process_group()``), every rank runs the same ``fit``: the model is wrapped in
``DistributedDataParallel`` (``training_step`` runs through its forward, so backward averages the
gradients), each map-style ``DataLoader`` is rebuilt with a ``DistributedSampler`` (shuffled when
the original shuffled; ``set_epoch`` every epoch), logged metrics are averaged across ranks, and
only rank 0 logs, shows progress and writes checkpoints. Outside a job, ``devices=N > 1`` starts
one: the script is run again under the launcher with N ranks, and this process exits with its
status (as Lightning's launcher re-runs the script for its other ranks).
"""
import os
import subprocess
import sys

import gradcore
from ..nn.modules.module import Module


def _launched_world_size():
    """The size of the MPI job this process belongs to (1 when it was not launched as one)."""
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if name in os.environ:
            return int(os.environ[name])
    return 1


class _TrainingStep(Module):
    """Routes DDP's forward to ``model.training_step``, so the step's graph is DDP's."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch, batch_idx):
        return self.model.training_step(batch, batch_idx)


class DDPStrategy:
    """Process group, model wrapper, samplers and metric averaging of ``Trainer(strategy="ddp")``."""

    def __init__(self, devices):
        from .. import distributed as dist
        self.dist = dist
        if not dist.is_initialized():
            launched = _launched_world_size()
            if launched == 1 and devices != "auto" and devices > 1:
                self._relaunch(devices)
            if launched > 1 and devices not in (launched, "auto"):
                raise ValueError(f"Trainer: devices={devices} but the job has {launched} ranks. Hint: leave devices "
                                 "unset (or equal to the number of ranks) under a launcher or mpiexec.")
            dist.init_process_group()
        self.world_size = dist.get_world_size()
        self.global_rank = dist.get_rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.global_rank))
        self._samplers = []

    @staticmethod
    def _relaunch(n):
        script = sys.argv[0] if sys.argv else ""
        if not os.path.isfile(script):
            raise RuntimeError(f"Trainer(strategy='ddp', devices={n}) starts {n} processes by running the script again, "
                               "but this process was not started from a script file. Hint: run it as `python -m "
                               f"gradcore.distributed.run --nproc-per-node {n} train.py`, or with mpiexec.")
        cmd = [sys.executable, "-m", "gradcore.distributed.run", "--nproc-per-node", str(n), script] + sys.argv[1:]
        raise SystemExit(subprocess.call(cmd))

    @property
    def is_global_zero(self):
        return self.global_rank == 0

    def wrap(self, model):
        """The callable that runs ``training_step`` through DistributedDataParallel."""
        from ..nn.parallel import DistributedDataParallel
        return DistributedDataParallel(_TrainingStep(model))

    def dataloader(self, loader, seed):
        """``loader`` reading this rank's share of its dataset (a DataLoader with a DistributedSampler);
        other iterables, custom batch samplers and iterable datasets are used as they are."""
        from ..utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler
        from ..utils.data.distributed import DistributedSampler
        if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
            return loader
        if isinstance(loader.sampler, DistributedSampler):
            self._samplers.append(loader.sampler)
            return loader
        if not isinstance(loader.sampler, (RandomSampler, SequentialSampler)) or loader.batch_size is None:
            return loader
        sampler = DistributedSampler(loader.dataset, num_replicas=self.world_size, rank=self.global_rank,
                                     shuffle=isinstance(loader.sampler, RandomSampler), seed=seed or 0)
        self._samplers.append(sampler)
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler,
                          num_workers=loader.num_workers, collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
                          drop_last=loader.drop_last, timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
                          generator=loader.generator, prefetch_factor=loader.prefetch_factor,
                          persistent_workers=loader.persistent_workers)

    def set_epoch(self, epoch):
        for s in self._samplers:
            s.set_epoch(epoch)

    def mean(self, metrics):
        """``metrics`` (name -> float, the same names on every rank) averaged across ranks."""
        names = sorted(metrics)
        if not names:
            return metrics
        values = gradcore.tensor([float(metrics[k]) for k in names], dtype=gradcore.float64)
        self.dist.all_reduce(values, op=self.dist.ReduceOp.AVG)
        return dict(zip(names, values.tolist()))
