"""Sampling throughput, gradcore vs PyTorch, one thread, in one process (ratios < 1: gradcore is
faster). Run: PYTHONPATH=python python benchmarks/bench_random.py"""
import timeit

import torch

import gradcore

CASES = [
    "lib.randperm(1_000_000)",
    "lib.multinomial(p, 100, True)",
    "lib.multinomial(p, 100)",
    "lib.empty(1_000_000).exponential_()",
    "lib.bernoulli(half)",
    "lib.normal(mean, 2.0)",
]


def setup(lib):
    return dict(lib=lib, p=lib.rand(64, 1000), half=lib.full((1_000_000,), 0.5), mean=lib.zeros(1_000_000))


def main():
    torch.set_num_threads(1)
    gradcore.set_num_threads(1)
    envs = {"gradcore": setup(gradcore), "torch": setup(torch)}
    print(f"{'case':38s} {'gradcore ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for code in CASES:
        t = {}
        for name, env in envs.items():
            t[name] = min(timeit.repeat(code, globals=env, number=5, repeat=3)) / 5 * 1e3
        print(f"{code:38s} {t['gradcore']:12.3f} {t['torch']:10.3f} {t['gradcore'] / t['torch']:7.2f}")


if __name__ == "__main__":
    main()
