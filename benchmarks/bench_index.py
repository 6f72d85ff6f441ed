"""Indexing overhead and throughput, gradcore vs PyTorch, in one process (ratios < 1: gradcore
is faster). Run: PYTHONPATH=python python benchmarks/bench_index.py"""
import timeit

import numpy as np
import torch

import gradcore

CASES = [
    "x[3]", "x[:, 3]", "x[1:10:2]", "x[None]", "x[..., 1]", "x[2, 3:5]", "x[i]", "x[m]", "x[r, l]",
    "x[[0, 2]]", "x[0] = 1", "x[:, 1] = 2.0", "x[m] = 0", "x[i] = 0",
    "lib.gather(x, 1, g)", "lib.index_select(x, 0, i)", "x.masked_fill(m, 0.0)", "lib.nonzero(m)",
]


def setup(lib, make):
    x = make(np.random.default_rng(0).standard_normal((64, 128)).astype(np.float32))
    labels = np.random.default_rng(1).integers(0, 128, 64)
    return dict(lib=lib, x=x, i=make(np.array([3, 1, 60])), m=x > 0, r=lib.arange(64), l=make(labels),
                g=make(np.random.default_rng(2).integers(0, 128, (64, 16))))


def main():
    torch.set_num_threads(1)
    gradcore.set_num_threads(1)
    envs = {"gradcore": setup(gradcore, gradcore.tensor), "torch": setup(torch, torch.tensor)}
    print(f"{'case':26s} {'gradcore us':>12s} {'torch us':>10s} {'ratio':>7s}")
    for code in CASES:
        t = {}
        for name, env in envs.items():
            n = 5000
            t[name] = min(timeit.repeat(code, globals=env, number=n, repeat=5)) / n * 1e6
        print(f"{code:26s} {t['gradcore']:12.3f} {t['torch']:10.3f} {t['gradcore'] / t['torch']:7.2f}")


if __name__ == "__main__":
    main()
