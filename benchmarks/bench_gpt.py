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

from _harness import compare_training_steps, print_step_comparison, token_batches

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


x_np, y_np = token_batches(VOCAB, (BATCH, BLOCK))
losses, times = compare_training_steps(build, lambda lib, params: lib.optim.AdamW(params, lr=1e-3),
                                       x_np, y_np, VOCAB, args)
print(f"GPT step (vocab {VOCAB}, block {BLOCK}, n_embd {EMBD}, {HEADS} heads, {LAYERS} layers, batch {BATCH}, "
      f"AdamW), threads={args.threads}")
print_step_comparison(losses, times, goal=1.5)
