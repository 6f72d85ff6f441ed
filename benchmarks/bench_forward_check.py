"""The cost of the forward NaN/inf check and of anomaly mode on ops that record autograd nodes:
microseconds per op (1-element and 64x64 float32 operands that require grad) and per training
step of a small MLP, with the switches off, with the forward check on, and in anomaly mode. Off
is the default every program runs with: one branch per recorded node, which this shows as noise
next to the op itself. Best of --rounds rounds, the modes interleaved round by round.

    PYTHONPATH=python python benchmarks/bench_forward_check.py [--rounds 15] [--number 5000]
"""
import argparse
import timeit

import gradcore
import gradcore.nn as nn
from gradcore.autograd import anomaly

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--rounds", type=int, default=15)
parser.add_argument("--number", type=int, default=5000, help="ops per timed round")
args = parser.parse_args()
gradcore.set_num_threads(1)

gradcore.manual_seed(0)
a1, b1 = gradcore.ones(1, requires_grad=True), gradcore.ones(1, requires_grad=True)
a64, b64 = gradcore.randn(64, 64, requires_grad=True), gradcore.randn(64, 64, requires_grad=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
opt = gradcore.optim.SGD(model.parameters(), lr=0.01)
x, y = gradcore.randn(16, 32), gradcore.randint(0, 10, (16,))


def step():
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


CASES = {
    "a * b (1 elem)": (lambda: a1 * b1, args.number),
    "a.exp() (1 elem)": (lambda: a1.exp(), args.number),
    "a * b (64x64)": (lambda: a64 * b64, args.number // 5),
    "MLP train step": (step, args.number // 50),
}


def set_mode(mode):
    gradcore.autograd.set_detect_anomaly(mode == "anomaly")
    anomaly.set_forward_check((lambda *a: None) if mode == "forward check" else None)


MODES = ["off", "forward check", "anomaly"]
print(f"{'case':18}" + "".join(f"{m + ' us':>20}" for m in MODES) + "   check/off")
for case, (fn, number) in CASES.items():
    best = {m: float("inf") for m in MODES}
    for _ in range(args.rounds):
        for m in MODES:
            set_mode(m)
            best[m] = min(best[m], timeit.timeit(fn, number=number) / number * 1e6)
    set_mode("off")
    print(f"{case:18}" + "".join(f"{best[m]:20.2f}" for m in MODES) + f"{best['forward check'] / best['off']:12.2f}")
