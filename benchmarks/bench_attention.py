"""F.scaled_dot_product_attention: gradcore against PyTorch (when importable), same inputs, same
threads, one process. Forward alone and forward+backward, causal and not, on bench_gpt's shape
(B=16, H=4, T=64, D=32) and a longer one (T=256, D=64), float32. Prints milliseconds (best of N)
and the ratio gradcore / torch (< 1: gradcore faster).

    PYTHONPATH=python python benchmarks/bench_attention.py [--threads 1] [--repeat 30]
"""
import argparse

import numpy as np

import gradcore
import gradcore.nn.functional as GF
from _harness import best_ms

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # gradcore timings alone
    torch = None

SHAPES = [(16, 4, 64, 32), (4, 4, 256, 64)]  # (B, H, T, D)


def row(name, ours, ref):
    ratio = f"{ours / ref:6.2f}x" if ref else "   n/a"
    ref_s = f"{ref:9.3f}" if ref else "      n/a"
    print(f"{name:<44} {ours:9.3f} {ref_s} {ratio}")


def timings(lib, F, arrays, causal, repeat):
    """Best ms of the forward and of forward+backward in library `lib`."""
    q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
    g = lib.ones(arrays[0].shape)

    def fwd():
        with lib.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def fwd_bwd():
        for t in (q, k, v):
            t.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)

    return best_ms(fwd, repeat), best_ms(fwd_bwd, repeat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    gradcore.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}")
    print(f"{'case (float32)':<44} {'gradcore':>9} {'torch':>9}  ratio   (ms)")
    for shape in SHAPES:
        arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
        for causal in (True, False):
            ours = timings(gradcore, GF, arrays, causal, args.repeat)
            ref = timings(torch, TF, arrays, causal, args.repeat) if torch is not None else (None, None)
            tag = f"{shape} causal={causal}"
            row(f"fwd {tag}", ours[0], ref[0])
            row(f"fwd+bwd {tag}", ours[1], ref[1])


if __name__ == "__main__":
    main()
