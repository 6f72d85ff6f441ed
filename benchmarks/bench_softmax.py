"""Softmax, log_softmax and cross_entropy: gradcore against PyTorch (when importable), same
inputs, one process, one thread each by default. Prints milliseconds (best of N) and the ratio
gradcore / torch.

    PYTHONPATH=python python benchmarks/bench_softmax.py [--threads 2] [--repeat 20]
"""
import argparse

import numpy as np

import gradcore
from _harness import best_ms
from gradcore import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # gradcore timings alone
    torch = None


def row(name, ours, ref):
    ratio = f"{ours / ref:6.2f}x" if ref else "   n/a"
    ref_s = f"{ref:9.3f}" if ref else "      n/a"
    print(f"{name:<48} {ours:9.3f} {ref_s} {ratio}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    gradcore.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'case (float32)':<48} {'gradcore':>9} {'torch':>9}  ratio   (ms)")

    for shape, dim in [((64, 10), 1), ((512, 1000), 1), ((256, 4096), 1), ((1000, 512), 0), ((32, 64, 32, 32), 1)]:
        x = rng.standard_normal(shape).astype(np.float32)
        gx, gg = gradcore.tensor(x, requires_grad=True), gradcore.ones(shape)
        ours = best_ms(lambda: gradcore.softmax(gx, dim), args.repeat)
        ref = None
        if torch is not None:
            tx, tg = torch.tensor(x, requires_grad=True), torch.ones(shape)
            ref = best_ms(lambda: torch.softmax(tx, dim), args.repeat)
        row(f"softmax {shape} dim={dim}", ours, ref)

        def ours_fb():
            gx.grad = None
            gradcore.log_softmax(gx, dim).backward(gg)

        def ref_fb():
            tx.grad = None
            torch.log_softmax(tx, dim).backward(tg)

        row(f"log_softmax fwd+bwd {shape} dim={dim}", best_ms(ours_fb, args.repeat),
            best_ms(ref_fb, args.repeat) if torch is not None else None)

    for shape in [(64, 10), (512, 1000), (16, 21, 64, 64)]:
        x = rng.standard_normal(shape).astype(np.float32)
        t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
        gx, gt = gradcore.tensor(x, requires_grad=True), gradcore.tensor(t)
        if torch is not None:
            tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
        for eps in [0.0, 0.1]:
            def ours():
                gx.grad = None
                _C._cross_entropy(gx, gt, label_smoothing=eps).backward()

            def ref():
                tx.grad = None
                F.cross_entropy(tx, tt, label_smoothing=eps).backward()

            row(f"cross_entropy fwd+bwd {shape} eps={eps}", best_ms(ours, args.repeat),
                best_ms(ref, args.repeat) if torch is not None else None)


if __name__ == "__main__":
    main()
