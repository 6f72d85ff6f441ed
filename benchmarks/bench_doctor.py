"""The training doctor's overhead: the same training step with gradcore.debug.doctor off and on,
rounds interleaved in one process (issue 19's goal: <= 10% on the mnist_small MLP; zero when off,
since the doctor's hooks only exist while it is active). Configs: mnist_small (784-256-10 MLP,
batch 64, cross-entropy, SGD with momentum) and a small CNN (two 3x3 convolutions, max-pool,
dropout, two Linear layers, batch 32, Adam).

    PYTHONPATH=python python benchmarks/bench_doctor.py [--threads 1] [--rounds 7] [--steps 50]
"""
import argparse
import statistics
import time
import warnings

import numpy as np

import gradcore as torch
import gradcore.nn.functional as F
from gradcore import nn
from gradcore.debug import TrainingWarning, doctor

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--rounds", type=int, default=7)
parser.add_argument("--steps", type=int, default=50, help="steps per timed round")
args = parser.parse_args()


def mlp_step():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 64))
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(x), y)


def cnn_step():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 32))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 16, 3), nn.Conv2d(16, 32, 3)
            self.drop = nn.Dropout(0.25)
            self.fc1, self.fc2 = nn.Linear(32 * 12 * 12, 64), nn.Linear(64, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return self.fc2(F.relu(self.fc1(self.drop(x).flatten(1))))

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt, lambda: F.cross_entropy(model(x), y)


def per_step_ms(opt, loss_of, steps):
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss_of().backward()
        opt.step()
    return (time.perf_counter() - t) / steps * 1e3


torch.set_num_threads(args.threads)
print(f"training step with the doctor off and on, threads={args.threads}, {args.rounds} rounds of {args.steps} steps")
for name, make in (("mnist_small MLP", mlp_step), ("small CNN", cnn_step)):
    torch.manual_seed(0)
    model, opt, loss_of = make()
    per_step_ms(opt, loss_of, 5)
    off, on = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)  # a correct loop: any warning is a false alarm
        for _ in range(args.rounds):
            off.append(per_step_ms(opt, loss_of, args.steps))
            with doctor():
                on.append(per_step_ms(opt, loss_of, args.steps))
    t_off, t_on = statistics.median(off), statistics.median(on)
    print(f"{name:16s} off {t_off:7.3f} ms  on {t_on:7.3f} ms  overhead {100 * (t_on / t_off - 1):+5.1f}% "
          "(goal <= 10%)")
