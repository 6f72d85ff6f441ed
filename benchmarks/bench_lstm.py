"""A char-level LSTM training step, gradcore against PyTorch (when importable) in one process, same
weights, data and threads, interleaved round by round (issue 17's benchmark shape): Embedding
65 -> LSTM (2 layers, hidden 256) -> Linear 65, batch 32, sequence 64, cross_entropy, Adam. The
model is written once against the shared API and built by each library. Prints ms per step and
the ratio PyTorch time / gradcore time (> 1: gradcore faster). Goal (issue 17): >= 1.5x.

    PYTHONPATH=python python benchmarks/bench_lstm.py [--threads 1] [--rounds 5]
"""
import argparse

from _harness import compare_training_steps, print_step_comparison, token_batches

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


x_np, y_np = token_batches(VOCAB, (BATCH, SEQ))
losses, times = compare_training_steps(build, lambda lib, params: lib.optim.Adam(params, lr=1e-3),
                                       x_np, y_np, VOCAB, args)
print(f"char LSTM step (vocab {VOCAB}, embedding {EMBD}, LSTM {LAYERS}x{HIDDEN}, batch {BATCH}, seq {SEQ}, Adam), "
      f"threads={args.threads}")
print_step_comparison(losses, times, goal=1.5)
