"""The cost of one small op (1-element tensors): gradcore against NumPy and PyTorch (when
importable), same process, one thread. At this size an op is all overhead (argument conversion,
type promotion, the result's allocation, the Python object), so this is the per-op cost a
training loop of small layers pays. Prints microseconds per op (best of --rounds rounds, the
libraries interleaved round by round so a noisy neighbour slows them alike) and the ratio
gradcore / NumPy (< 1: gradcore is cheaper). Goal: every row at or below 1.

    PYTHONPATH=python python benchmarks/bench_tiny_ops.py [--rounds 15] [--number 20000]
"""
import argparse
import timeit

import numpy as np

import gradcore

try:
    import torch
except ImportError:
    torch = None

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--rounds", type=int, default=15)
parser.add_argument("--number", type=int, default=20000, help="ops per timed round")
args = parser.parse_args()

gradcore.set_num_threads(1)
libs = {"numpy": np, "gradcore": gradcore}
if torch is not None:
    torch.set_num_threads(1)
    libs["torch"] = torch

# name: (statement, NumPy's spelling when it differs)
CASES = {
    "a + b": ("a + b", None),
    "a * 2": ("a * 2", None),
    "2 - a": ("2 - a", None),
    "a / b": ("a / b", None),
    "-a": ("-a", None),
    "add(a, b)": ("lib.add(a, b)", None),
    "mul(a, b)": ("lib.mul(a, b)", "lib.multiply(a, b)"),
    "exp(a)": ("lib.exp(a)", None),
    "a.exp()": ("a.exp()", "lib.exp(a)"),
    "relu(a)": ("lib.relu(a)", "lib.maximum(a, 0)"),
    "a.sum()": ("a.sum()", None),
    "a.add_(b)": ("a.add_(b)", "lib.add(a, b, out=a)"),
}


def make(name):
    if name == "numpy":
        return np.ones(1, dtype=np.float32), np.ones(1, dtype=np.float32)
    lib = libs[name]
    return lib.ones(1), lib.ones(1)


print(f"{'op (1 element)':14}" + "".join(f"{k + ' us':>12}" for k in libs) + "   gradcore/numpy")
worst = 0.0
for case, (stmt, np_stmt) in CASES.items():
    timers = {}
    for name, lib in libs.items():
        a, b = make(name)
        s = np_stmt if (name == "numpy" and np_stmt) else stmt
        timers[name] = timeit.Timer(s, globals={"a": a, "b": b, "lib": lib})
        timers[name].timeit(1000)  # warm up
    best = {name: float("inf") for name in libs}
    for _ in range(args.rounds):
        for name, t in timers.items():
            best[name] = min(best[name], t.timeit(args.number) / args.number * 1e6)
    ratio = best["gradcore"] / best["numpy"]
    worst = max(worst, ratio)
    print(f"{case:14}" + "".join(f"{best[k]:12.3f}" for k in libs) + f"   {ratio:.2f}")
print(f"worst ratio to NumPy: {worst:.2f} (goal <= 1)")
