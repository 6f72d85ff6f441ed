"""Optimizer step time, gradcore vs PyTorch (CPU), on the parameters of an MNIST-sized MLP and of
one large matrix. Prints microseconds per step and the ratio torch / gradcore (> 1: gradcore is
faster). Run: PYTHONPATH=python python benchmarks/bench_optim.py"""
import time

import numpy as np

import gradcore
import gradcore.optim as optim

try:
    import torch
except ImportError:  # the gradcore column alone
    torch = None

SETS = {
    "mlp 784-256-10": [(256, 784), (256,), (10, 256), (10,)],
    "one 2048x2048": [(2048, 2048)],
}
CONFIGS = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", dict(lr=1e-3)),
    ("AdamW", dict(lr=1e-3, amsgrad=True)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
    ("Adagrad", dict(lr=1e-2)),
]


def time_steps(step, repeat=50):
    step()  # state allocation happens on the first step
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            step()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6


def main():
    rng = np.random.default_rng(0)
    print(f"threads: gradcore {gradcore.get_num_threads()}" + (f", torch {torch.get_num_threads()}" if torch else ""))
    print(f"{'params':>16} {'optimizer':>10} {'gradcore us':>12} {'torch us':>10} {'ratio':>7}")
    for set_name, shapes in SETS.items():
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for name, kw in CONFIGS:
            ps = [gradcore.tensor(a, requires_grad=True) for a in arrays]
            for p, g in zip(ps, grads):
                p.grad = gradcore.tensor(g)
            ours = time_steps(getattr(optim, name)(ps, **kw).step)
            theirs = ratio = float("nan")
            if torch is not None:
                tps = [torch.tensor(a, requires_grad=True) for a in arrays]
                for p, g in zip(tps, grads):
                    p.grad = torch.tensor(g)
                theirs = time_steps(getattr(torch.optim, name)(tps, **kw).step)
                ratio = theirs / ours
            print(f"{set_name:>16} {name:>10} {ours:12.1f} {theirs:10.1f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
