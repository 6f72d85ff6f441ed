"""DataLoader throughput on an MNIST-shaped TensorDataset (60000 x 784 float32 + labels), one
shuffled epoch: gradcore's batched gather, gradcore collating sample by sample (its slow twin), and
PyTorch's DataLoader when it is installed. Prints times and ratios.

    PYTHONPATH=python python benchmarks/bench_dataloader.py
"""
import time

import numpy as np

import gradcore
from gradcore.utils.data import DataLoader, TensorDataset, default_collate


def best_of(make_loader, reps=3):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in make_loader():
            pass
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    rng = np.random.default_rng(0)
    x = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000)
    ds = TensorDataset(gradcore.from_numpy(x), gradcore.from_numpy(y))
    try:
        import torch
        import torch.utils.data as tud
        tds = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    except ImportError:
        torch = None
    for bs in (64, 256):
        fast = best_of(lambda: DataLoader(ds, batch_size=bs, shuffle=True))
        slow = best_of(lambda: DataLoader(ds, batch_size=bs, shuffle=True, collate_fn=lambda b: default_collate(b)), 1)
        line = (f"batch {bs:4d}: gradcore {fast * 1e3:7.1f} ms/epoch, per-sample collation {slow * 1e3:7.1f} ms "
                f"({slow / fast:.1f}x slower)")
        if torch is not None:
            ref = best_of(lambda: tud.DataLoader(tds, batch_size=bs, shuffle=True))
            line += f", torch {ref * 1e3:7.1f} ms (gradcore {ref / fast:.1f}x faster)"
        print(line)


if __name__ == "__main__":
    main()
