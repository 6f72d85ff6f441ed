"""Convolution layers alone: forward + backward (input, weight and bias gradients) of one Conv2d,
gradcore against PyTorch (when importable) on the same data and threads, in one process, the
libraries interleaved round by round so a noisy neighbour slows them alike. Shapes: 3x3 and 1x1
kernels, 16 to 256 channels, 8 to 56 pixels, batch 32 (--batch). Prints milliseconds (best of
--rounds), GFLOP/s (forward + both backward GEMMs: 3 * 2 * N * O * C * kh * kw * oh * ow / time),
the PyTorch/gradcore ratio (> 1: gradcore faster), and gradcore's GFLOP/s as a share of the
machine's sgemm rate measured here (a 1024^3 float32 product in gradcore at the same threads).

Goal (issue 15): >= 60% of sgemm on 3x3 convs with >= 32 channels.

    PYTHONPATH=python python benchmarks/bench_conv.py [--threads 1] [--rounds 5] [--batch 32]
"""
import argparse
import time

import numpy as np

import gradcore

try:
    import torch
except ImportError:
    torch = None

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--batch", type=int, default=32)
args = parser.parse_args()

gradcore.set_num_threads(args.threads)
libs = {"gradcore": gradcore}
if torch is not None:
    torch.set_num_threads(args.threads)
    libs["torch"] = torch

# (in channels, out channels, pixels (H = W), kernel)
SHAPES = [(16, 16, 56, 3), (32, 32, 28, 3), (32, 64, 26, 3), (64, 64, 28, 3), (128, 128, 14, 3),
          (256, 256, 8, 3), (64, 256, 28, 1), (256, 64, 14, 1), (128, 128, 8, 1)]


def best_time(fn, rounds):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sgemm_rate():
    a = gradcore.randn(1024, 1024)
    b = gradcore.randn(1024, 1024)
    return 2 * 1024 ** 3 / best_time(lambda: a @ b, 5) / 1e9


def step(lib, x, conv, grad):
    def run():
        xt = lib.tensor(x, requires_grad=True) if lib is gradcore else lib.from_numpy(x).requires_grad_(True)
        conv.zero_grad()
        conv(xt).backward(grad)
    return run


rng = np.random.default_rng(0)
peak = sgemm_rate()
print(f"threads={args.threads} batch={args.batch}  gradcore sgemm 1024^3: {peak:.1f} GFLOP/s")
print(f"{'conv (C->O, HxW, k)':26}" + "".join(f"{k + ' ms':>12}{k + ' GF/s':>13}" for k in libs)
      + "   torch/gc   gc/sgemm")
for C, O, P, k in SHAPES:
    pad = k // 2
    x = rng.standard_normal((args.batch, C, P, P)).astype(np.float32)
    flops = 3 * 2 * args.batch * O * C * k * k * P * P
    runs = {}
    for name, lib in libs.items():
        conv = lib.nn.Conv2d(C, O, k, padding=pad)
        grad = lib.ones(args.batch, O, P, P)
        runs[name] = step(lib, x, conv, grad)
    times = {name: float("inf") for name in libs}
    for _ in range(args.rounds):  # interleaved
        for name, fn in runs.items():
            times[name] = min(times[name], best_time(fn, 1))
    row = f"{C:>4}->{O:<4} {P:>3}x{P:<3} {k}x{k}       "
    for name in libs:
        row += f"{times[name] * 1e3:12.2f}{flops / times[name] / 1e9:13.1f}"
    ratio = times["torch"] / times["gradcore"] if "torch" in times else float("nan")
    row += f"   {ratio:8.2f}   {flops / times['gradcore'] / 1e9 / peak:7.0%}"
    print(row)
