"""GEMM throughput: gradcore's blocked kernel against NumPy's BLAS (and PyTorch when importable).

    PYTHONPATH=python python benchmarks/gemm.py [--threads N] [--sizes 256 512 1024] [--dtype float32]

Square C = A @ B at each size, one process, every library on the same thread count. Prints
GFLOP/s (2*n^3 flops per product, best of several timed rounds) and gradcore's ratio to each
reference (> 1: gradcore is faster).
"""
import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
parser.add_argument("--seconds", type=float, default=0.3, help="minimum time per timed round")
args = parser.parse_args()

# BLAS libraries read their thread count when loaded: set it before NumPy (or torch) imports.
for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402

import gradcore  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None


def gflops(fn, n, seconds):
    """Best GFLOP/s over 3 rounds, each running fn for at least `seconds`."""
    fn()  # warm up: pack buffers, thread pools
    best = float("inf")
    for _ in range(3):
        reps, start = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = min(best, elapsed / reps)
    return 2.0 * n**3 / best / 1e9


def main():
    gradcore.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cols = ["gradcore", "numpy", "ratio"] + (["torch", "ratio"] if torch is not None else [])
    print(f"GEMM {args.dtype}, {args.threads} thread(s); GFLOP/s, ratio = gradcore / reference")
    print(f"{'n':>6}" + "".join(f"{c:>10}" for c in cols))
    for n in args.sizes:
        a = rng.standard_normal((n, n)).astype(args.dtype)
        b = rng.standard_normal((n, n)).astype(args.dtype)
        ga, gb = gradcore.tensor(a), gradcore.tensor(b)
        ours = gflops(lambda: ga @ gb, n, args.seconds)
        ref = gflops(lambda: a @ b, n, args.seconds)
        row = [ours, ref, ours / ref]
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            theirs = gflops(lambda: ta @ tb, n, args.seconds)
            row += [theirs, ours / theirs]
        print(f"{n:>6}" + "".join(f"{v:>10.2f}" for v in row))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
