"""Training-step time of gradcore vs PyTorch vs NumPy-by-hand, in one process, same data and threads.

    python benchmarks/train_step.py [--threads 1 2] [--configs linreg tiny ...] [--repeat 50] [--json]

Each config is one step of an MLP: forward, loss, zero_grad, backward, optimizer step. The median
over --repeat timed steps (after warm-up) is reported in microseconds, with PyTorch/gradcore ratios
(> 1 means gradcore is faster). NumPy runs the same step written by hand (SGD configs only)."""
import argparse
import json
import statistics
import time

import numpy as np

import gradcore

try:
    import torch
except ImportError:
    torch = None

CONFIGS = {
    # name: (layer sizes, batch, loss, optimizer)
    "linreg": ([1, 1], 3, "mse", "sgd"),
    "tiny": ([10, 32, 1], 32, "mse", "sgd"),
    "mnist_small": ([784, 256, 10], 64, "ce", "sgd_momentum"),
    "mnist_small_adam": ([784, 256, 10], 64, "ce", "adam"),
    "mnist_big": ([784, 1024, 1024, 10], 256, "ce", "adam"),
    "wide": ([4096, 4096, 4096, 10], 512, "ce", "sgd"),
}


def make_step(lib, sizes, batch, loss, opt_name, seed=0):
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    if loss == "ce":
        y = lib.tensor(rng.integers(0, sizes[-1], batch).astype(np.int64))
    else:
        y = lib.tensor(rng.standard_normal((batch, sizes[-1])).astype(np.float32))
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(lib.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    model = lib.nn.Sequential(*layers)
    loss_fn = lib.nn.CrossEntropyLoss() if loss == "ce" else lib.nn.MSELoss()
    if opt_name == "adam":
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = lib.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9 if opt_name == "sgd_momentum" else 0.0)

    def step():
        out = loss_fn(model(x), y)
        opt.zero_grad()
        out.backward()
        opt.step()
        return out

    return step


def make_numpy_step(sizes, batch, loss, seed=0):
    """Plain SGD step written by hand in NumPy (the floor for a Python-driven step)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ws = [rng.standard_normal((sizes[i + 1], sizes[i])).astype(np.float32) * 0.05 for i in range(len(sizes) - 1)]
    bs = [np.zeros(sizes[i + 1], np.float32) for i in range(len(sizes) - 1)]
    if loss == "ce":
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)

    def step():
        acts = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = acts[-1] @ w.T + b
            acts.append(np.maximum(h, 0) if i < len(ws) - 1 else h)
        out = acts[-1]
        if loss == "ce":
            z = out - out.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            g = p
            g[np.arange(batch), y] -= 1
            g /= batch
        else:
            g = 2 * (out - y) / out.size
        for i in range(len(ws) - 1, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(0)
            if i > 0:
                g = (g @ ws[i]) * (acts[i] > 0)
            ws[i] -= 1e-3 * gw
            bs[i] -= 1e-3 * gb

    return step


def median_us(step, repeat, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print one JSON object per row instead of a table")
    args = p.parse_args()
    rows = []
    for threads in args.threads:
        gradcore.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for name in args.configs:
            sizes, batch, loss, opt = CONFIGS[name]
            big = sizes[0] >= 4096
            repeat = max(3, args.repeat // 10) if big else args.repeat
            warmup = 2 if big else 10
            row = {"config": name, "threads": threads}
            row["gradcore_us"] = median_us(make_step(gradcore, sizes, batch, loss, opt), repeat, warmup)
            if torch is not None:
                row["torch_us"] = median_us(make_step(torch, sizes, batch, loss, opt), repeat, warmup)
                row["torch/gradcore"] = row["torch_us"] / row["gradcore_us"]
            if opt == "sgd" or opt == "sgd_momentum":
                row["numpy_us"] = median_us(make_numpy_step(sizes, batch, loss), repeat, warmup)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{name:18s} threads={threads}  gradcore {row['gradcore_us']:10.1f} us"
                      + (f"  torch {row['torch_us']:10.1f} us  ratio {row['torch/gradcore']:5.2f}x" if "torch_us" in row else "")
                      + (f"  numpy {row['numpy_us']:10.1f} us" if "numpy_us" in row else ""), flush=True)


if __name__ == "__main__":
    main()
