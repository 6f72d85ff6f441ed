"""bench_gpt.py's training step taken apart: each op of the step timed in isolation on the step's
shapes (forward and backward, or the optimizer step), gradcore against PyTorch (when importable)
in one process, libraries interleaved round by round. A row's ms is per call times the calls per
step, so the rows rank where a step's time goes and "lost" (gradcore - PyTorch) ranks the gaps.

    PYTHONPATH=python python benchmarks/bench_gpt_ops.py [--threads 1] [--rounds 7]
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
parser.add_argument("--rounds", type=int, default=7)
parser.add_argument("--number", type=int, default=20, help="calls per timed round")
args = parser.parse_args()

VOCAB, BLOCK, EMBD, HEADS, LAYERS, BATCH = 65, 64, 128, 4, 2, 16
N, HD = BATCH * BLOCK, EMBD // HEADS
rng = np.random.default_rng(0)


def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def fwd_bwd(make_inputs, fn):
    """A case that runs fn on fresh leaf inputs and back-propagates ones through it."""
    def build(lib):
        xs = [lib.tensor(a, requires_grad=a.dtype == np.float32) for a in make_inputs()]
        out = fn(lib, *xs)
        g = lib.ones_like(out)

        def run():
            for x in xs:
                x.grad = None
            fn(lib, *xs).backward(g)
        return run
    return build


def linear(k, n):
    return fwd_bwd(lambda: (arr(N, k), arr(n, k), arr(n)), lambda lib, x, w, b: lib.nn.functional.linear(x, w, b))


def adamw(lib):
    shapes = [(VOCAB, EMBD), (BLOCK, EMBD), (EMBD,), (EMBD,), (VOCAB, EMBD), (VOCAB,)]
    for _ in range(LAYERS):
        shapes += [(EMBD,)] * 4 + [(3 * EMBD, EMBD), (3 * EMBD,), (EMBD, EMBD), (EMBD,),
                                   (4 * EMBD, EMBD), (4 * EMBD,), (EMBD, 4 * EMBD), (EMBD,)]
    ps = [lib.nn.Parameter(lib.tensor(arr(*s))) for s in shapes]
    for p in ps:
        p.grad = lib.tensor(arr(*p.shape))
    opt = lib.optim.AdamW(ps, lr=1e-3)
    return opt.step


idx_np = rng.integers(0, VOCAB, (BATCH, BLOCK))
tgt_np = rng.integers(0, VOCAB, N)
CASES = {  # name: (calls per step, case)
    "embedding tok+pos, add": (1, fwd_bwd(lambda: (arr(VOCAB, EMBD), arr(BLOCK, EMBD)), lambda lib, wt, wp:
                                         lib.nn.functional.embedding(lib.tensor(idx_np), wt)
                                         + lib.nn.functional.embedding(lib.arange(BLOCK), wp))),
    "layer_norm (16,64,128)": (2 * LAYERS + 1, fwd_bwd(lambda: (arr(BATCH, BLOCK, EMBD), arr(EMBD), arr(EMBD)),
                                                       lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (EMBD,), w, b))),
    "linear qkv 128->384": (LAYERS, linear(EMBD, 3 * EMBD)),
    "split+view+transpose": (LAYERS, fwd_bwd(lambda: (arr(BATCH, BLOCK, 3 * EMBD),), lambda lib, x: sum(
        z.view(BATCH, BLOCK, HEADS, HD).transpose(1, 2) for z in x.split(EMBD, dim=2)))),
    "sdpa causal (16,4,64,32)": (LAYERS, fwd_bwd(lambda: (arr(BATCH, HEADS, BLOCK, HD),) * 3, lambda lib, q, k, v:
                                                 lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))),
    "transpose.contiguous.view": (LAYERS, fwd_bwd(lambda: (arr(BATCH, HEADS, BLOCK, HD),), lambda lib, y:
                                                  y.transpose(1, 2).contiguous().view(BATCH, BLOCK, EMBD))),
    "linear proj 128->128": (LAYERS, linear(EMBD, EMBD)),
    "residual add": (2 * LAYERS, fwd_bwd(lambda: (arr(BATCH, BLOCK, EMBD),) * 2, lambda lib, a, b: a + b)),
    "linear fc 128->512": (LAYERS, linear(EMBD, 4 * EMBD)),
    "gelu (16,64,512)": (LAYERS, fwd_bwd(lambda: (arr(BATCH, BLOCK, 4 * EMBD),), lambda lib, x: lib.nn.functional.gelu(x))),
    "linear out 512->128": (LAYERS, linear(4 * EMBD, EMBD)),
    "linear head 128->65": (1, linear(EMBD, VOCAB)),
    "cross_entropy (1024,65)": (1, fwd_bwd(lambda: (arr(N, VOCAB),), lambda lib, x:
                                           lib.nn.functional.cross_entropy(x, lib.tensor(tgt_np)))),
    "adamw step": (1, adamw),
}

libs = {"gradcore": gradcore}
if torch is not None:
    libs["torch"] = torch
runs = {}
for name, lib in libs.items():
    lib.set_num_threads(args.threads)
    runs[name] = {case: build(lib) for case, (_, build) in CASES.items()}
best = {name: {case: float("inf") for case in CASES} for name in libs}
for case in CASES:
    for fn in (r[case] for r in runs.values()):
        fn()  # warm-up
    for _ in range(args.rounds):
        for name in libs:
            fn = runs[name][case]
            t0 = time.perf_counter()
            for _ in range(args.number):
                fn()
            best[name][case] = min(best[name][case], (time.perf_counter() - t0) / args.number)

print(f"GPT step ops, ms per step (calls x best per call), threads={args.threads}")
print(f"{'op':28s} {'calls':>5s} " + " ".join(f"{n:>9s}" for n in libs) + ("   lost ms  ratio" if torch else ""))
rows = []
for case, (calls, _) in CASES.items():
    ms = {n: best[n][case] * calls * 1e3 for n in libs}
    rows.append((ms["gradcore"] - ms.get("torch", 0.0), case, calls, ms))
for lost, case, calls, ms in sorted(rows, reverse=True) if torch else rows:
    line = f"{case:28s} {calls:5d} " + " ".join(f"{ms[n]:9.3f}" for n in libs)
    if torch:
        line += f" {lost:9.3f} {ms['torch'] / ms['gradcore']:6.2f}x"
    print(line)
tot = {n: sum(r[3][n] for r in rows) for n in libs}
print(f"{'total':28s} {'':5s} " + " ".join(f"{tot[n]:9.3f}" for n in libs)
      + (f" {tot['gradcore'] - tot['torch']:9.3f} {tot['torch'] / tot['gradcore']:6.2f}x" if torch else ""))
