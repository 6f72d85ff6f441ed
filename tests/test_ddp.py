"""DistributedDataParallel, DistributedSampler and Trainer(strategy="ddp").

The multi-rank checks live in tests/ddp_checks.py (DDP training of an MLP and a CNN equal to
single-process full-batch training with SGD and Adam, parameters equal on every rank, no_sync,
find_unused_parameters, buckets, state_dict prefix, a rank-0 checkpoint loaded by every rank,
BatchNorm buffers); each job here launches them on 2 or 3 ranks with a hard timeout. The
DistributedSampler's semantics are checked in this process against PyTorch's.
"""
import os
import sys

import pytest

import gradcore
from gradcore.utils.data import DataLoader, TensorDataset
from gradcore.utils.data.distributed import DistributedSampler
from dist_helpers import launch, needs_mpi, report

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "ddp_checks.py")
LIMIT = 90


def _launch(cmd, n):
    proc, _ = launch(cmd, LIMIT)
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.count("ALL OK") == n, report(proc)


@needs_mpi
def test_ddp_two_ranks_mpiexec(tmp_path):
    from gradcore.distributed.run import find_mpiexec
    _launch([find_mpiexec(), "-n", "2", sys.executable, CHECKS, "checks", str(tmp_path)], 2)


@needs_mpi
def test_ddp_three_ranks_launcher(tmp_path):
    _launch([sys.executable, "-m", "gradcore.distributed.run", "--nproc-per-node", "3", CHECKS, "checks",
             str(tmp_path)], 3)


@needs_mpi
def test_trainer_ddp_under_mpiexec(tmp_path):
    from gradcore.distributed.run import find_mpiexec
    _launch([find_mpiexec(), "-n", "2", sys.executable, CHECKS, "trainer", str(tmp_path)], 2)


@needs_mpi
def test_trainer_ddp_launches_its_ranks(tmp_path):
    _launch([sys.executable, CHECKS, "trainer", str(tmp_path), "3"], 3)


def test_trainer_ddp_outside_a_script_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["-c"])
    for name in ("RANK", "WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="nproc-per-node 2"):
        gradcore.train.Trainer(strategy="ddp", devices=2)
    with pytest.raises(ValueError, match="strategy"):
        gradcore.train.Trainer(strategy="dp")


# ---- DistributedSampler (no MPI needed) ----

def _shares(n, world, **kw):
    ds = list(range(n))
    out = []
    for r in range(world):
        s = DistributedSampler(ds, num_replicas=world, rank=r, **kw)
        out.append(list(s))
        assert len(s) == len(out[-1])
    return out


@pytest.mark.parametrize("n,world", [(10, 3), (9, 3), (2, 4), (7, 2), (1, 3)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_without_shuffle(n, world, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    ours = _shares(n, world, shuffle=False, drop_last=drop_last)
    theirs = [list(TorchSampler(list(range(n)), num_replicas=world, rank=r, shuffle=False, drop_last=drop_last))
              for r in range(world)]
    assert ours == theirs
    assert torch is not None


@pytest.mark.parametrize("n,world", [(10, 3), (12, 4), (5, 2)])
def test_sampler_shuffle_semantics(n, world):
    shares = _shares(n, world, shuffle=True, seed=3)
    flat = [i for s in shares for i in s]
    assert len({len(s) for s in shares}) == 1
    assert set(flat) == set(range(n)) and len(flat) == -(-n // world) * world
    assert _shares(n, world, shuffle=True, seed=3) == shares  # every rank draws the same permutation
    assert _shares(n, world, shuffle=True, seed=4) != shares
    dropped = _shares(n, world, shuffle=True, seed=3, drop_last=True)
    assert all(len(s) == n // world for s in dropped)
    assert len({i for s in dropped for i in s}) == n // world * world


def test_sampler_set_epoch_reshuffles():
    s = DistributedSampler(list(range(50)), num_replicas=2, rank=1, seed=7)
    first = list(s)
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first and sorted(list(s)) != first
    s.set_epoch(0)
    assert list(s) == first
    g = gradcore.Generator()
    g.manual_seed(7 + 1)
    perm = gradcore.randperm(50, generator=g).tolist()
    s.set_epoch(1)
    assert list(s) == perm[1::2]


def test_sampler_in_dataloader_and_errors():
    ds = TensorDataset(gradcore.arange(10))
    loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, num_replicas=2, rank=0, shuffle=False))
    assert gradcore.cat([b[0] for b in loader]).tolist() == [0, 2, 4, 6, 8]
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(ds, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(ds, num_replicas=2, rank=-1)
    import gradcore.distributed as dist
    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="init_process_group"):
            DistributedSampler(ds)


def test_ddp_without_process_group_is_a_clear_error():
    import gradcore.distributed as dist
    from gradcore.nn.parallel import DistributedDataParallel
    if dist.is_initialized():
        pytest.skip("a process group exists in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(gradcore.nn.Linear(2, 2))
