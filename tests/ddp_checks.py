"""Run on every rank of an MPI job by tests/test_ddp.py: DistributedDataParallel against
single-process full-batch training (each rank computes the reference itself), parameters equal on
every rank, no_sync, find_unused_parameters, buckets, state_dict and checkpoints, BatchNorm buffers.

    mpiexec -n 2 python tests/ddp_checks.py checks <tmpdir>
    mpiexec -n 2 python tests/ddp_checks.py trainer <tmpdir>
    python tests/ddp_checks.py trainer <tmpdir> 3      # Trainer(devices=3) launches 3 ranks itself
Prints "ALL OK" on each rank that passes.
"""
import copy
import os
import sys

import numpy as np

import gradcore as torch
import gradcore.distributed as dist
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.nn.parallel import DistributedDataParallel as DDP

B = 4  # samples per rank


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1))


def data(shape, world, step):
    g = torch.Generator()
    g.manual_seed(100 + step)
    x = torch.randn((world * B,) + shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (world * B,), generator=g)
    return x, y


def close(a, b, what, tol=1e-5):
    a, b = a.detach().numpy(), b.detach().numpy()
    if not np.allclose(a, b, rtol=tol, atol=tol):
        raise AssertionError(f"{what}: max difference {np.abs(a - b).max()}")


def same_on_all_ranks(module, what):
    for name, p in module.state_dict().items():
        ref = p.clone()
        dist.broadcast(ref, src=0)
        if not np.array_equal(ref.numpy(), p.numpy()):
            raise AssertionError(f"{what}: {name} differs between rank 0 and rank {dist.get_rank()}")


def train_equals_full_batch(make, shape, opt_name, steps=3, **ddp_kwargs):
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(1234 + rank)  # different initialisations: DDP must broadcast rank 0's
    model = make().double()
    ddp = DDP(model, **ddp_kwargs)
    ref = copy.deepcopy(model)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd"
            else torch.optim.Adam(m.parameters(), lr=0.01) for m in (model, ref)]
    for step in range(steps):
        x, y = data(shape, world, step)
        mine = slice(rank * B, (rank + 1) * B)
        for o in opts:
            o.zero_grad()
        F.cross_entropy(ddp(x[mine]), y[mine]).backward()
        F.cross_entropy(ref(x), y).backward()
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            close(p.grad, q.grad, f"{opt_name} {ddp_kwargs} step {step} grad {name}")
        for o in opts:
            o.step()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        close(p, q, f"{opt_name} {ddp_kwargs} param {name}")
    same_on_all_ranks(model, f"{opt_name} {ddp_kwargs}")


def check_training():
    for opt_name in ("sgd", "adam"):
        train_equals_full_batch(mlp, (6,), opt_name)
        train_equals_full_batch(SmallCNN, (1, 8, 8), opt_name)
    # many small buckets, and .grad as views of them
    train_equals_full_batch(mlp, (6,), "sgd", bucket_cap_mb=0.0005)
    train_equals_full_batch(mlp, (6,), "adam", bucket_cap_mb=0.0005, gradient_as_bucket_view=True)


def check_no_sync():
    """Two micro-batches under no_sync, then one synced: the gradient of the whole batch."""
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(7)
    model = mlp().double()
    ddp = DDP(model)
    ref = copy.deepcopy(model)
    x, y = data((6,), world * 3, 0)  # 3 micro-batches of B per rank
    per_rank = x.shape[0] // world
    xs, ys = x[rank * per_rank:(rank + 1) * per_rank], y[rank * per_rank:(rank + 1) * per_rank]
    ddp(xs[:B])  # a synced forward whose backward never runs changes nothing
    with ddp.no_sync():
        for k in range(2):
            (F.cross_entropy(ddp(xs[k * B:(k + 1) * B]), ys[k * B:(k + 1) * B]) / 3).backward()
        local = [p.grad.clone() for p in model.parameters()]
    (F.cross_entropy(ddp(xs[2 * B:]), ys[2 * B:]) / 3).backward()
    # the reference: the mean loss over every rank's micro-batches, in the same grouping
    for r in range(world):
        xr, yr = x[r * per_rank:(r + 1) * per_rank], y[r * per_rank:(r + 1) * per_rank]
        for k in range(3):
            (F.cross_entropy(ref(xr[k * B:(k + 1) * B]), yr[k * B:(k + 1) * B]) / (3 * world)).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        close(p.grad, q.grad, "no_sync accumulation")
    if world > 1 and all(np.allclose(a.numpy(), p.grad.numpy()) for a, p in zip(local, model.parameters())):
        raise AssertionError("no_sync: the synced backward did not average the gradients")


class Branchy(nn.Module):
    """Rank r uses head r % 2; `never` is used by no rank."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.heads = nn.ModuleList([nn.Linear(8, 3), nn.Linear(8, 3)])
        self.never = nn.Linear(8, 3)

    def forward(self, x, which):
        return self.heads[which](torch.tanh(self.body(x)))


def check_find_unused():
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(3)
    model = Branchy().double()
    ddp = DDP(model, find_unused_parameters=True)
    ref = copy.deepcopy(model)
    for step in range(2):
        x, y = data((6,), world, step)
        model.zero_grad()
        ref.zero_grad()
        F.cross_entropy(ddp(x[rank * B:(rank + 1) * B], rank % 2), y[rank * B:(rank + 1) * B]).backward()
        for r in range(world):
            (F.cross_entropy(ref(x[r * B:(r + 1) * B], r % 2), y[r * B:(r + 1) * B]) / world).backward()
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            if q.grad is None:
                assert p.grad is None, f"find_unused: {name} is unused everywhere but got a gradient"
            else:
                close(p.grad, q.grad, f"find_unused step {step} {name}")
    # without find_unused_parameters, an unused parameter is a clear error
    plain = DDP(Branchy().double())
    x, y = data((6,), world, 0)
    try:
        F.cross_entropy(plain(x[:B], 0), y[:B]).backward()
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e), e
    else:
        raise AssertionError("an unused parameter without find_unused_parameters did not raise")


def check_state_dict_and_checkpoint(tmp):
    rank = dist.get_rank()
    torch.manual_seed(rank)
    model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4))
    ddp = DDP(model)
    keys = list(ddp.state_dict())
    assert keys[0] == "module.0.weight" and all(k.startswith("module.") for k in keys), keys
    # BatchNorm: rank 0's running statistics are broadcast before every forward
    x, _ = data((6,), dist.get_world_size(), rank)
    ddp(x.float())
    ddp(x.float() * 2)
    stats = model[1].running_mean.clone()
    ddp.eval()
    ddp(x.float())  # the broadcast at this forward makes every rank hold rank 0's statistics
    same_on_all_ranks(model, "BatchNorm buffers")
    assert not (rank and np.allclose(stats.numpy(), model[1].running_mean.numpy())) or dist.get_world_size() == 1
    path = os.path.join(tmp, "ckpt.pt")
    if rank == 0:
        torch.save(ddp.state_dict(), path)
    dist.barrier()
    fresh = DDP(nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)), init_sync=False)
    fresh.load_state_dict(torch.load(path))
    for (k, a), b in zip(fresh.state_dict().items(), ddp.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k


def check_errors():
    try:
        DDP(nn.Linear(2, 2).requires_grad_(False))
    except RuntimeError as e:
        assert "doesn't have any parameter that requires a gradient" in str(e)
    else:
        raise AssertionError("a module without trainable parameters did not raise")
    try:
        DDP(nn.Linear(2, 2), device_ids=[0])
    except ValueError as e:
        assert "device_ids" in str(e)
    else:
        raise AssertionError("device_ids for a CPU module did not raise")


def check_sampler_with_loader():
    from gradcore.utils.data import DataLoader, TensorDataset
    from gradcore.utils.data.distributed import DistributedSampler
    world, rank = dist.get_world_size(), dist.get_rank()
    ds = TensorDataset(torch.arange(11))
    sampler = DistributedSampler(ds, shuffle=True, seed=5)
    sampler.set_epoch(2)
    mine = torch.cat([b[0] for b in DataLoader(ds, batch_size=3, sampler=sampler)])
    got = [torch.zeros(len(sampler), dtype=torch.int64) for _ in range(world)]
    dist.all_gather(got, mine)
    everything = sorted(torch.cat(got).tolist())
    assert len(everything) == len(sampler) * world and set(everything) == set(range(11)), everything


def trainer_job(tmp, devices):
    """Trainer(strategy="ddp") under an MPI launch: the same result as one process on all the data."""
    from gradcore.train import Trainer
    from gradcore.utils.data import DataLoader, TensorDataset

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.log("rank_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    world = int(os.environ.get("WORLD_SIZE") or os.environ.get("PMI_SIZE") or devices)
    x, y = data((6,), 3, 0)  # 12 samples: one step of the whole set on 1, 2, 3 or 4 ranks
    x = x.float()
    ds = TensorDataset(x, y)
    torch.manual_seed(0)
    model = Model()
    ref = copy.deepcopy(model)
    trainer = Trainer(max_epochs=1, strategy="ddp", devices=devices, enable_progress_bar=False, logger=False,
                      default_root_dir=tmp)
    trainer.fit(model, DataLoader(ds, batch_size=len(ds) // world))
    # one step on the whole data set, in one process
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    F.cross_entropy(ref(x), y).backward()
    opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        close(p, q, "Trainer ddp")
    assert trainer.world_size == dist.get_world_size() and trainer.global_rank == dist.get_rank()
    assert trainer.is_global_zero == (dist.get_rank() == 0)


def main():
    what, tmp = sys.argv[1], sys.argv[2]
    if what == "trainer":  # under mpiexec, or (devices=N) started here and run again on N ranks
        trainer_job(tmp, int(sys.argv[3]) if len(sys.argv) > 3 else "auto")
    else:
        dist.init_process_group()
        check_errors()
        check_training()
        check_no_sync()
        check_find_unused()
        check_state_dict_and_checkpoint(tmp)
        check_sampler_with_loader()
    print(f"rank {dist.get_rank()}: ALL OK", flush=True)


if __name__ == "__main__":
    main()
