"""Data-parallel training of a small CNN on scikit-learn's handwritten digits, on N processes.

The PyTorch DDP recipe with only the import changed: every rank joins the process group, reads
its own share of the training set (DistributedSampler), and trains a replica wrapped in
DistributedDataParallel, which averages the gradients across ranks during backward. Rank 0 shows
the progress, writes the checkpoint and prints the accuracy (each rank evaluates a share of the
test set; the counts are summed with all_reduce). The data ships inside scikit-learn.

    python -m gradcore.distributed.run --nproc-per-node 2 examples/train_ddp.py [--epochs 15]
    mpiexec -n 2 python examples/train_ddp.py                     # the same, with MPI's launcher
    mpiexec -f hosts -n 8 python examples/train_ddp.py            # across machines
"""
import argparse
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import gradcore as torch
import gradcore.distributed as dist
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.nn.parallel import DistributedDataParallel as DDP
from gradcore.utils.data import DataLoader, TensorDataset
from gradcore.utils.data.distributed import DistributedSampler


class DigitsCNN(nn.Module):
    """8x8 digit -> conv 16 -> pool -> conv 32 -> pool -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def datasets(seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8, values 0..1
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = x_train.mean(), x_train.std()
    make = lambda a, b: TensorDataset(torch.tensor((a - mean) / std), torch.tensor(b))  # noqa: E731
    return make(x_train, y_train), make(x_test, y_test)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--out", default="checkpoints", help="folder for the final checkpoint (written by rank 0)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    train_set, test_set = datasets(args.seed)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    test = DataLoader(test_set, batch_size=256, sampler=DistributedSampler(test_set, shuffle=False))
    if rank == 0:
        print(f"digits: {len(train_set)} train / {len(test_set)} test images on {world} ranks, "
              f"{len(sampler)} training images and {len(train)} steps per rank and epoch")

    torch.manual_seed(args.seed)
    model = DDP(DigitsCNN())  # rank 0's initial parameters are broadcast to every rank
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        model.train()
        total = torch.zeros(2, dtype=torch.float64)  # summed loss, batches
        for x, y in train:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()  # gradients averaged across ranks here
            opt.step()
            total += torch.tensor([loss.item(), 1.0], dtype=torch.float64)
        dist.all_reduce(total)
        if rank == 0:
            done = (epoch + 1) / args.epochs
            bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
            sys.stdout.write(f"\repoch {epoch + 1}/{args.epochs} [{bar}] train_loss {total[0].item() / total[1].item():.4f}")
            sys.stdout.flush()
    elapsed = time.perf_counter() - t0

    model.eval()
    counts = torch.zeros(2, dtype=torch.int64)  # correct, seen
    with torch.no_grad():
        for x, y in test:
            counts += torch.tensor([(model(x).argmax(1) == y).sum().item(), len(y)])
    dist.all_reduce(counts)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "digits_cnn_ddp.safetensors")
        torch.save(model.module.state_dict(), path)
        print(f"\ntrained {args.epochs} epochs on {world} ranks in {elapsed:.1f}s; checkpoint: {os.path.abspath(path)}")
        print(f"test accuracy: {counts[0].item() / counts[1].item():.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
