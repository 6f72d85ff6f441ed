"""Train a small character-level GPT on English text that every Python installation carries.

The text is the docstrings of the standard library's modules, classes and functions, read from
their source files with ``ast`` at run time (nothing is imported or downloaded). The model is
nanoGPT's shape: token and position embeddings, pre-norm blocks of causal self-attention
(``F.scaled_dot_product_attention``) and a GELU MLP, LayerNorm, a linear head; AdamW with weight
decay on the matrices only, a linear warm-up into a cosine schedule. The script is written against
PyTorch's API: only the import differs. It trains with the Lightning-style ``Trainer`` (progress
bar, CSV and TensorBoard logs under ``--log-dir``), then prints the validation loss beside the
unigram baseline (the loss of predicting each character by its frequency alone) and a sample.

    python examples/train_char_gpt.py [--steps 1500] [--batch-size 16] [--block 64] [--n-embd 128]
                                      [--n-head 4] [--n-layer 2] [--lr 3e-3] [--log-dir lightning_logs]
"""
import argparse
import ast
import math
import os
import sysconfig
import time

import gradcore as torch
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.train.loggers import CSVLogger, TensorBoardLogger
from gradcore.utils.data import DataLoader, Dataset


def stdlib_docstrings(max_chars):
    """The docstrings of the standard library's modules, classes and functions, in file order,
    as one text of at most ``max_chars`` characters (printable ASCII and newlines only)."""
    root = sysconfig.get_paths()["stdlib"]
    chunks, total = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "idlelib", "site-packages"))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) >= 40:
                        doc = "".join(c for c in doc if c == "\n" or " " <= c <= "~")
                        chunks.append(doc + "\n\n")
                        total += len(doc) + 2
                        if total >= max_chars:
                            return "".join(chunks)[:max_chars]
    return "".join(chunks)


class Windows(Dataset):
    """``count`` windows of ``block + 1`` characters at offsets drawn once with ``generator``:
    item i is (window[:-1], window[1:]), the inputs and the next-character targets."""

    def __init__(self, data, block, count, generator):
        self.data, self.block = data, block
        self.offsets = torch.randint(0, len(data) - block - 1, (count,), generator=generator).tolist()

    def __len__(self):
        return len(self.offsets)

    def __getitem__(self, i):
        o = self.offsets[i]
        return self.data[o:o + self.block], self.data[o + 1:o + self.block + 1]


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    def __init__(self, vocab, block, n_embd, n_head, n_layer, dropout=0.0, lr=3e-3, steps=1500, warmup=100):
        super().__init__()
        self.block, self.lr, self.steps, self.warmup = block, lr, steps, warmup
        self.tok, self.pos = nn.Embedding(vocab, n_embd), nn.Embedding(block, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx):
        x = self.drop(self.tok(idx) + self.pos(torch.arange(idx.shape[1])))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))

    def loss(self, batch):
        x, y = batch
        logits = self(x)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))

    def training_step(self, batch, batch_idx):
        return self.loss(batch)

    def validation_step(self, batch, batch_idx):
        return self.loss(batch)

    def configure_optimizers(self):
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=self.lr, betas=(0.9, 0.99))

        def warmup_cosine(step):
            if step < self.warmup:
                return (step + 1) / self.warmup
            progress = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
        return [opt], [{"scheduler": sched, "interval": "step"}]

    @torch.no_grad()
    def generate(self, idx, new_tokens, temperature=0.8, generator=None):
        """Extends ``idx`` (1, t) by ``new_tokens`` characters sampled one at a time."""
        self.eval()
        for _ in range(new_tokens):
            logits = self(idx[:, -self.block:])[:, -1, :] / temperature
            nxt = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def unigram_loss(train, val, vocab):
    """Cross-entropy (nats per character) on ``val`` of the character frequencies of ``train``
    (add-one smoothed): the loss of a model that ignores all context."""
    counts = torch.bincount(train, minlength=vocab).double() + 1.0
    logp = (counts / counts.sum()).log()
    return -logp[val].mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--block", type=int, default=64, help="context length in characters")
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-chars", type=int, default=2_000_000, help="text to read from the docstrings")
    p.add_argument("--val-batches", type=int, default=40, help="validation batches per evaluation")
    p.add_argument("--evals", type=int, default=5, help="validation passes (the steps are split into this many epochs)")
    p.add_argument("--log-dir", default="lightning_logs", help="CSV and TensorBoard logs go under here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    text = stdlib_docstrings(args.max_chars)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n_train = int(0.9 * len(data))
    train_data, val_data = data[:n_train], data[n_train:]
    print(f"text: {len(text):,} characters of standard-library docstrings, {len(chars)} distinct; "
          f"{len(train_data):,} train / {len(val_data):,} validation")

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    per_epoch = max(1, args.steps // args.evals)
    train = DataLoader(Windows(train_data, args.block, per_epoch * args.batch_size, g), batch_size=args.batch_size)
    val = DataLoader(Windows(val_data, args.block, args.val_batches * args.batch_size, g), batch_size=args.batch_size)

    model = CharGPT(len(chars), args.block, args.n_embd, args.n_head, args.n_layer, args.dropout, args.lr,
                    steps=per_epoch * args.evals)
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters, {args.n_layer} layers, "
          f"{args.n_head} heads, n_embd {args.n_embd}, block {args.block}")
    loggers = [CSVLogger(args.log_dir, name="char_gpt")]
    try:
        loggers.append(TensorBoardLogger(args.log_dir, name="char_gpt_tb"))
    except ImportError:
        print("tensorboard is not installed (pip install \".[tensorboard]\"): CSV logs only")
    trainer = torch.Trainer(max_epochs=args.evals, gradient_clip_val=1.0, seed=args.seed, logger=loggers,
                            log_every_n_steps=25)
    t0 = time.perf_counter()
    trainer.fit(model, train, val)
    elapsed = time.perf_counter() - t0

    baseline = unigram_loss(train_data, val_data, len(chars))
    val_loss = trainer.history[-1]["val_loss"]
    print(f"trained {trainer.global_step} steps in {elapsed:.1f}s; logs in {os.path.abspath(trainer.log_dir)}")
    print(f"validation loss {val_loss:.4f} nats/char; unigram baseline {baseline:.4f} "
          f"({val_loss / baseline:.0%} of the baseline, perplexity {math.exp(val_loss):.2f} vs {math.exp(baseline):.2f})")
    prompt = torch.tensor([[stoi[c] for c in "Return the "]], dtype=torch.long)
    sample = model.generate(prompt, 200, generator=torch.Generator().manual_seed(args.seed))[0].tolist()
    print("sample:\n" + "".join(chars[i] for i in sample))


if __name__ == "__main__":
    main()
