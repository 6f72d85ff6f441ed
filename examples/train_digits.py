"""Train an MLP on scikit-learn's handwritten digits (8x8 images, 10 classes) with gradcore.

The data ships inside scikit-learn, so nothing is downloaded. The script is written against
PyTorch's API: only the import differs. It trains with the Lightning-style Trainer (progress bar,
early stopping, best-checkpoint saving), reloads the best checkpoint and reports test accuracy.

    python examples/train_digits.py [--epochs 40] [--batch-size 64] [--lr 0.05] [--out checkpoints] [--amp]

With ``--amp`` the steps run under bfloat16 autocast (``Trainer(precision="bf16-mixed")``: the Linear
layers compute in bfloat16, the loss in float32, the parameters stay float32).
"""
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import gradcore as torch
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.utils.data import DataLoader, TensorDataset
from gradcore.callbacks import EarlyStopping, ModelCheckpoint, LearningRateMonitor


class DigitsMLP(nn.Module):
    def __init__(self, lr=0.05, epochs=40):
        super().__init__()
        self.lr, self.epochs = lr, epochs
        self.net = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)  # smoothing regularises this small data set
        self.log("train_acc", (logits.argmax(1) == y).float().mean())
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_acc", (logits.argmax(1) == y).float().mean())
        return F.cross_entropy(logits, y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
        return [opt], [sched]


def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--out", default="checkpoints", help="folder for the best and last checkpoints")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amp", action="store_true", help="mixed precision: bfloat16 autocast")
    args = p.parse_args()

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel values 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=args.seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.125, random_state=args.seed,
                                                      stratify=y_train)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    norm = lambda a: torch.tensor((a - mean) / std)  # noqa: E731

    torch.manual_seed(args.seed)
    train = DataLoader(TensorDataset(norm(x_train), torch.tensor(y_train)), batch_size=args.batch_size, shuffle=True)
    val = DataLoader(TensorDataset(norm(x_val), torch.tensor(y_val)), batch_size=256)
    test = DataLoader(TensorDataset(norm(x_test), torch.tensor(y_test)), batch_size=256)
    print(f"digits: {len(x_train)} train / {len(x_val)} validation / {len(x_test)} test images, 10 classes")

    model = DigitsMLP(lr=args.lr, epochs=args.epochs)
    checkpoint = ModelCheckpoint(dirpath=args.out, monitor="val_loss", mode="min")
    trainer = torch.Trainer(max_epochs=args.epochs, seed=args.seed, precision="bf16-mixed" if args.amp else "32-true",
                            callbacks=[EarlyStopping(monitor="val_loss", patience=15), checkpoint, LearningRateMonitor()])
    t0 = time.perf_counter()
    trainer.fit(model, train, val)
    elapsed = time.perf_counter() - t0

    model.load_state_dict(torch.load(checkpoint.best_model_path))
    last = trainer.history[-1]
    print(f"trained {len(trainer.history)} epochs in {elapsed:.1f}s; last epoch: train_loss {last['train_loss']:.4f}, "
          f"val_loss {last['val_loss']:.4f}, val_acc {last['val_acc']:.4f}")
    print(f"best checkpoint (val_loss {checkpoint.best_model_score:.4f}): {os.path.abspath(checkpoint.best_model_path)}")
    print(f"test accuracy: {accuracy(model, test):.4f}")


if __name__ == "__main__":
    main()
