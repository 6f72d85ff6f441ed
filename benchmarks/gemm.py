"""GEMM throughput: gradcore's blocked kernel against NumPy's BLAS (and PyTorch when importable).

    PYTHONPATH=python python benchmarks/gemm.py [--threads 1 2] [--shapes square mlp big]
        [--sizes 256 512 1024 2048] [--dtype float32] [--repeat 3] [--json]

Every library runs on the same thread count, in one process per thread count (BLAS libraries
read their thread count when loaded, so each count after the first runs in a child process).
Prints GFLOP/s (2*M*N*K flops per product, best of several timed rounds) and gradcore's ratio
to each reference (> 1: gradcore is faster).

Shape sets:
  square  C = A @ B, n x n, at each of --sizes.
  mlp     the products of training a 784-256-10 MLP at batch 64 and a 784-1024-1024-10 MLP at
          batch 256, with the operands laid out as they really are: forward x @ W^T (W is
          [out, in] row-major, so B is a transposed view), weight gradient g^T @ x (A is a
          transposed view), input gradient g @ W.
  big     512x4096 @ 4096x4096.
"""
import argparse
import json
import os
import subprocess
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
parser.add_argument("--shapes", nargs="+", choices=["square", "mlp", "big"], default=["square", "mlp"])
parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
parser.add_argument("--seconds", type=float, default=0.2, help="minimum time per timed round")
parser.add_argument("--rounds", type=int, default=5, help="timed rounds per measurement (best is kept)")
parser.add_argument("--repeat", type=int, default=1,
                    help="run each thread count's child process this many times and keep each library's best "
                         "(for machines shared with other work, where contention only ever slows things down)")
parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when importable")
parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
args = parser.parse_args()


def shapes():
    """(name, a_shape, a_transposed, b_shape, b_transposed): a operand is built as an array of
    a_shape and used transposed when a_transposed (likewise b), so the strides are the real ones."""
    out = []
    if "square" in args.shapes:
        out += [(f"{n}^3", (n, n), False, (n, n), False) for n in args.sizes]
    if "mlp" in args.shapes:
        # 784-256-10 at batch 64 (the first layer carries the flops).
        out += [("b64 fwd x@W1^T", (64, 784), False, (256, 784), True),
                ("b64 dW1 g^T@x", (64, 256), True, (64, 784), False),
                ("b64 dX g@W1", (64, 256), False, (256, 784), False)]
        # 784-1024-1024-10 at batch 256.
        out += [("b256 fwd x@W1^T", (256, 784), False, (1024, 784), True),
                ("b256 fwd h@W2^T", (256, 1024), False, (1024, 1024), True),
                ("b256 fwd h@W3^T", (256, 1024), False, (10, 1024), True),
                ("b256 dW1 g^T@x", (256, 1024), True, (256, 784), False),
                ("b256 dW2 g^T@h", (256, 1024), True, (256, 1024), False),
                ("b256 dW3 g^T@h", (256, 10), True, (256, 1024), False),
                ("b256 dX2 g@W2", (256, 1024), False, (1024, 1024), False),
                ("b256 dX3 g@W3", (256, 10), False, (10, 1024), False)]
    if "big" in args.shapes:
        out += [("512x4096x4096", (512, 4096), False, (4096, 4096), False)]
    return out


def best_seconds(fn):
    """Best time per call over args.rounds rounds, each running fn for at least args.seconds."""
    fn()  # warm up: pack buffers, thread pools
    best = float("inf")
    for _ in range(args.rounds):
        reps, start = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= args.seconds:
                break
        best = min(best, elapsed / reps)
    return best


def measure(threads):
    """Rows for one thread count; runs in a process whose BLAS was loaded with that count."""
    import numpy as np
    import gradcore
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            pass
    gradcore.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, sa, ta, sb, tb in shapes():
        a = rng.standard_normal(sa).astype(args.dtype)
        b = rng.standard_normal(sb).astype(args.dtype)
        na, nb = (a.T if ta else a), (b.T if tb else b)
        (m, k), n = na.shape, nb.shape[1]
        flops = 2.0 * m * n * k
        ga, gb = gradcore.tensor(a), gradcore.tensor(b)
        ga, gb = (ga.t() if ta else ga), (gb.t() if tb else gb)
        # Interleave the libraries round by round so a noisy neighbour hits them alike.
        fns = {"gradcore": lambda: ga @ gb, "numpy": lambda: na @ nb}
        if torch is not None:
            xa, xb = torch.from_numpy(a), torch.from_numpy(b)
            xa, xb = (xa.t() if ta else xa), (xb.t() if tb else xb)
            fns["torch"] = lambda: xa @ xb
        best = {lib: float("inf") for lib in fns}
        for _ in range(3):
            for lib, fn in fns.items():
                best[lib] = min(best[lib], best_seconds(fn))
        row = {"shape": name, "M": m, "K": k, "N": n, "threads": threads}
        for lib, sec in best.items():
            row[lib] = flops / sec / 1e9
        row["vs_numpy"] = row["gradcore"] / row["numpy"]
        if "torch" in row:
            row["vs_torch"] = row["gradcore"] / row["torch"]
        rows.append(row)
    return rows


def child_rows(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        env[var] = str(threads)
    argv = [sys.executable, __file__, "--_child", str(threads), "--dtype", args.dtype, "--seconds", str(args.seconds),
            "--rounds", str(args.rounds), "--shapes", *args.shapes, "--sizes", *map(str, args.sizes)]
    if args.no_torch:
        argv.append("--no-torch")
    run = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def print_table(rows):
    has_torch = any("torch" in r for r in rows)
    cols = ["gradcore", "numpy", "ratio"] + (["torch", "ratio"] if has_torch else [])
    for threads in sorted({r["threads"] for r in rows}):
        print(f"GEMM {args.dtype}, {threads} thread(s); GFLOP/s, ratio = gradcore / reference")
        print(f"{'shape':<18}{'MxKxN':>16}" + "".join(f"{c:>10}" for c in cols))
        for r in rows:
            if r["threads"] != threads:
                continue
            vals = [r["gradcore"], r["numpy"], r["vs_numpy"]] + ([r["torch"], r["vs_torch"]] if has_torch else [])
            dims = f"{r['M']}x{r['K']}x{r['N']}"
            print(f"{r['shape']:<18}{dims:>16}" + "".join(f"{v:>10.2f}" for v in vals))
        print()


def main():
    if args._child is not None:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            assert os.environ.get(var) == str(args._child), "child processes get their BLAS thread count from env"
        json.dump(measure(args._child), sys.stdout)
        return
    rows = []
    for threads in args.threads:
        best = None
        for _ in range(args.repeat):
            got = child_rows(threads)
            if best is None:
                best = got
                continue
            for b, g in zip(best, got):
                for lib in ("gradcore", "numpy", "torch"):
                    if lib in g:
                        b[lib] = max(b[lib], g[lib])
        for r in best:
            r["vs_numpy"] = r["gradcore"] / r["numpy"]
            if "torch" in r:
                r["vs_torch"] = r["gradcore"] / r["torch"]
        rows += best
    if args.json:
        json.dump({"dtype": args.dtype, "rows": rows}, sys.stdout, indent=1)
        print()
    else:
        print_table(rows)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
