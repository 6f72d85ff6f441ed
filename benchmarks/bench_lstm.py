"""A char-level LSTM training step, gradcore against PyTorch (when importable) in one process, same
weights, data and threads, interleaved round by round (issue 17's benchmark shape): Embedding
65 -> LSTM (2 layers, hidden 256) -> Linear 65, batch 32, sequence 64, cross_entropy, Adam. The
model is written once against the shared API and built by each library. Prints ms per step and
the ratio PyTorch time / gradcore time (> 1: gradcore faster). Goal (issue 17): >= 1.5x.

    PYTHONPATH=python python benchmarks/bench_lstm.py [--threads 1] [--rounds 5]
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
parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
args = parser.parse_args()

VOCAB, EMBD, HIDDEN, LAYERS, BATCH, SEQ = 65, 64, 256, 2, 32, 64


def build(lib):
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBD)
            self.lstm = nn.LSTM(EMBD, HIDDEN, num_layers=LAYERS, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, idx):
            out, _ = self.lstm(self.embed(idx))
            return self.head(out)

    return CharLSTM()


rng = np.random.default_rng(0)
x_np = rng.integers(0, VOCAB, (BATCH, SEQ))
y_np = rng.integers(0, VOCAB, (BATCH, SEQ))
libs = {"gradcore": gradcore}
if torch is not None:
    libs["torch"] = torch
steps, ref = {}, None
for name, lib in libs.items():
    lib.set_num_threads(args.threads)
    lib.manual_seed(0)
    model = build(lib)
    if ref is None:
        ref = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    else:  # the same weights in both libraries
        model.load_state_dict({k: lib.tensor(v) for k, v in ref.items()})
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x, y = lib.tensor(x_np), lib.tensor(y_np)

    def step(model=model, opt=opt, x=x, y=y, lib=lib):
        for _ in range(args.steps):
            opt.zero_grad()
            logits = model(x)
            loss = lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
            loss.backward()
            opt.step()
        return loss.item()
    steps[name] = step

losses = {name: fn() for name, fn in steps.items()}  # warm-up; the losses should agree
times = {k: float("inf") for k in steps}
for _ in range(args.rounds):
    for name, fn in steps.items():
        t0 = time.perf_counter()
        fn()
        times[name] = min(times[name], (time.perf_counter() - t0) / args.steps)
print(f"char LSTM step (vocab {VOCAB}, embedding {EMBD}, LSTM {LAYERS}x{HIDDEN}, batch {BATCH}, seq {SEQ}, Adam), "
      f"threads={args.threads}")
row = "  ".join(f"{name} {t * 1e3:7.2f} ms (loss after warm-up {losses[name]:.4f})" for name, t in times.items())
print(row)
if torch is not None:
    print(f"torch/gradcore {times['torch'] / times['gradcore']:.2f}x (goal >= 1.5x)")
