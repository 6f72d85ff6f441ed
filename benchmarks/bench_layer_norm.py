"""layer_norm and rms_norm, forward and forward + backward (input, weight and bias gradients):
gradcore against PyTorch (when importable), same inputs, one process, one thread each by default.
Prints milliseconds (best of N) and the ratio torch / gradcore (> 1: gradcore faster). The first
shape is the GPT benchmark's (batch 16 x block 64 rows of n_embd 128).

    PYTHONPATH=python python benchmarks/bench_layer_norm.py [--threads 2] [--repeat 50]
"""
import argparse

import numpy as np

import gradcore
from _harness import best_ms

try:
    import torch
except ImportError:  # gradcore timings alone
    torch = None


def timings(lib, fn_name, x_np, n, affine, repeat):
    F = lib.nn.functional
    x = lib.tensor(x_np, requires_grad=True)
    w = lib.ones(n, requires_grad=True) if affine else None
    b = lib.zeros(n, requires_grad=True) if affine else None
    g = lib.ones(x_np.shape)
    fn = ((lambda: F.layer_norm(x, (n,), w, b)) if fn_name == "layer_norm" else (lambda: F.rms_norm(x, (n,), w)))

    def forward():
        with lib.no_grad():
            fn()

    def forward_backward():
        x.grad = None
        fn().backward(g)
    return best_ms(forward, repeat), best_ms(forward_backward, repeat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    gradcore.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'case (float32)':<44} {'gradcore':>9} {'torch':>9}  torch/gradcore   (ms)")
    for rows, n in [(1024, 128), (4096, 768), (64, 4099)]:
        x = (rng.standard_normal((rows, n)) * 2 + 1).astype(np.float32)
        for fn_name, affine in [("layer_norm", True), ("layer_norm", False), ("rms_norm", True)]:
            ours = timings(gradcore, fn_name, x, n, affine, args.repeat)
            ref = timings(torch, fn_name, x, n, affine, args.repeat) if torch is not None else (None, None)
            for what, o, r in zip(("fwd", "fwd+bwd"), ours, ref):
                name = f"{fn_name} [{rows}, {n}]{'' if affine else ' no affine'} {what}"
                ratio = f"{r / o:6.2f}x" if r else "   n/a"
                ref_s = f"{r:9.3f}" if r else "      n/a"
                print(f"{name:<44} {o:9.3f} {ref_s} {ratio}")


if __name__ == "__main__":
    main()
