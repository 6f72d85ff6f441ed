"""A GPT-style training step, gradcore against PyTorch (when importable) in one process, same
weights, data and threads, interleaved round by round (issue 17's benchmark shape): vocab 65,
block 64, n_embd 128, 4 heads, 2 layers, batch 16, AdamW. The model is written once against the
shared API (token and position embeddings, pre-norm blocks of causal self-attention through
F.scaled_dot_product_attention and a GELU MLP, LayerNorm, a tied-free LM head) and built by each
library. Prints ms per step and the ratio PyTorch time / gradcore time (> 1: gradcore faster).
Goal (issue 17): >= 1.5x.

    PYTHONPATH=python python benchmarks/bench_gpt.py [--threads 1] [--rounds 5]
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
parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
args = parser.parse_args()

VOCAB, BLOCK, EMBD, HEADS, LAYERS, BATCH = 65, 64, 128, 4, 2, 16


def build(lib):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(EMBD), nn.LayerNorm(EMBD)
            self.qkv = nn.Linear(EMBD, 3 * EMBD)
            self.proj = nn.Linear(EMBD, EMBD)
            self.fc, self.out = nn.Linear(EMBD, 4 * EMBD), nn.Linear(4 * EMBD, EMBD)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(EMBD, dim=2)
            q, k, v = (z.view(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, c))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(VOCAB, EMBD), nn.Embedding(BLOCK, EMBD)
            self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln = nn.LayerNorm(EMBD)
            self.head = nn.Linear(EMBD, VOCAB)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1]))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    return GPT()


rng = np.random.default_rng(0)
x_np = rng.integers(0, VOCAB, (BATCH, BLOCK))
y_np = rng.integers(0, VOCAB, (BATCH, BLOCK))
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
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = lib.tensor(x_np), lib.tensor(y_np)

    def step(model=model, opt=opt, x=x, y=y, lib=lib):
        for _ in range(args.steps):
            opt.zero_grad()
            logits = model(x)
            loss = lib.nn.functional.cross_entropy(logits.view(-1, VOCAB), y.view(-1))
            loss.backward()
            opt.step()
        return loss.item()
    steps[name] = step

losses = {name: fn() for name, fn in steps.items()}  # warm-up; the first steps' losses should agree
times = {k: float("inf") for k in steps}
for _ in range(args.rounds):
    for name, fn in steps.items():
        t0 = time.perf_counter()
        fn()
        times[name] = min(times[name], (time.perf_counter() - t0) / args.steps)
print(f"GPT step (vocab {VOCAB}, block {BLOCK}, n_embd {EMBD}, {HEADS} heads, {LAYERS} layers, batch {BATCH}, "
      f"AdamW), threads={args.threads}")
row = "  ".join(f"{name} {t * 1e3:7.2f} ms (loss after warm-up {losses[name]:.4f})" for name, t in times.items())
print(row)
if torch is not None:
    print(f"torch/gradcore {times['torch'] / times['gradcore']:.2f}x (goal >= 1.5x)")
