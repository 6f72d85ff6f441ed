"""sort / topk / cumsum / cumprod / einsum / baddbmm, gradcore vs PyTorch, in one process, at one
thread and at the default thread count (ratios < 1: gradcore is faster).
Run: PYTHONPATH=python python benchmarks/bench_sort_scan.py"""
import timeit

import numpy as np
import torch

import gradcore

CASES = [
    "lib.sort(x, 1)", "lib.sort(x, 0)", "lib.sort(v)", "lib.argsort(x, 1, True)", "lib.topk(x, 8, 1)",
    "lib.topk(x, 8, 0)", "lib.topk(v, 100)", "lib.cumsum(x, 1)", "lib.cumsum(x, 0)", "lib.cumprod(x, 1)",
    "lib.einsum('bij,bjk->bik', a, b)", "lib.einsum('ii->i', s)", "lib.baddbmm(c, a, b, beta=0.5)",
]


def setup(lib, make):
    rng = np.random.default_rng(0)
    f = lambda *s: make(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    return dict(lib=lib, x=f(256, 1024), v=f(1 << 20), a=f(16, 64, 64), b=f(16, 64, 64), c=f(16, 64, 64),
                s=f(512, 512))


def main():
    envs = {"gradcore": setup(gradcore, gradcore.tensor), "torch": setup(torch, torch.tensor)}
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        gradcore.set_num_threads(threads)
        print(f"threads={threads}")
        print(f"{'case':38s} {'gradcore ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
        for code in CASES:
            t = {}
            for name, env in envs.items():
                t[name] = min(timeit.repeat(code, globals=env, number=5, repeat=3)) / 5 * 1e3
            print(f"{code:38s} {t['gradcore']:12.3f} {t['torch']:10.3f} {t['gradcore'] / t['torch']:7.2f}")


if __name__ == "__main__":
    main()
