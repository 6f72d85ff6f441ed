"""The training doctor at work: the classic training-loop mistakes from the tutorials, made one by
one on a small classifier of scikit-learn's handwritten digits, and what gradcore.debug.doctor says
about each (on the first step it happens). The last loop is correct and gets no warning.

    python examples/doctor_demo.py
"""
import textwrap
import warnings

import numpy as np

import gradcore as torch
import gradcore.nn.functional as F
from gradcore import nn
from gradcore.debug import TrainingWarning, doctor


def digits():
    try:
        from sklearn.datasets import load_digits
        d = load_digits()
        x, y = d.data.astype(np.float32) / 16.0, d.target
    except ImportError:  # no scikit-learn: random data shows the same warnings
        rng = np.random.default_rng(0)
        x, y = rng.random((512, 64), dtype=np.float32), rng.integers(0, 10, 512)
    return torch.tensor(x[:512]), torch.tensor(y[:512])


X, Y = digits()
batches = [(X[i:i + 64], Y[i:i + 64]) for i in range(0, 512, 64)]


def model(dropout=0.2):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 10))


def forgot_zero_grad():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in batches[:3]:
        F.cross_entropy(net(x), y).backward()  # no opt.zero_grad(): gradients pile up
        opt.step()


def softmax_into_cross_entropy():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in batches[:2]:
        opt.zero_grad()
        F.cross_entropy(F.softmax(net(x), dim=1), y).backward()
        opt.step()


def logits_into_nll_loss():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in batches[:2]:
        opt.zero_grad()
        F.nll_loss(net(x), y).backward()
        opt.step()


def validation_left_in_eval_mode():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for epoch in range(2):
        for x, y in batches[:2]:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()  # validation ... but no net.train() afterwards
        with torch.no_grad():
            net(X[-64:])


def validation_in_train_mode():
    net = model()
    with torch.no_grad():  # no net.eval(): dropout is still on
        (net(X[-64:]).argmax(1) == Y[-64:]).float().mean()


def optimizer_misses_a_layer():
    net = model()
    opt = torch.optim.SGD(net[3].parameters(), lr=0.1)  # only the last layer
    for x, y in batches[:2]:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()


def detached_branch():
    class TwoTower(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 10), nn.Linear(64, 10)

        def forward(self, x):
            return self.a(x) + self.b(x).detach()  # tower b never learns

    net = TwoTower()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for x, y in batches[:2]:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()


def scheduler_first():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    for x, y in batches[:2]:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        sched.step()
        opt.step()


def unreduced_loss():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = batches[0]
    loss = F.cross_entropy(net(x), y, reduction="none")
    loss.backward(torch.ones_like(loss))
    opt.step()


def hidden_state_not_detached():
    torch.manual_seed(0)
    cell = nn.GRUCell(64, 32)
    head = nn.Linear(32, 10)
    opt = torch.optim.SGD(list(cell.parameters()) + list(head.parameters()), lr=0.1)
    h = torch.zeros(64, 32)
    for x, y in batches[:3]:
        opt.zero_grad()
        h = cell(x, h)  # should be cell(x, h.detach())
        F.cross_entropy(head(h), y).backward(retain_graph=True)
        opt.step()


def nan_in_the_forward_pass():
    net = model(dropout=0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = batches[0]
    opt.zero_grad()
    scores = net(x)
    loss = F.nll_loss(scores.softmax(1).log(), y) + 1e-3 * scores.log().mean()  # log of negative scores
    loss.backward()
    opt.step()


def running_total_of_losses():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    total = 0.0
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        total += loss  # should be loss.item(): every iteration's graph stays alive


def exploding_gradients():
    net = model(dropout=0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for step in range(14):
        x, y = batches[step % len(batches)]
        opt.zero_grad()
        scale = 1e4 if step == 12 else 1.0  # a bad batch, a loss spike
        (F.cross_entropy(net(x), y) * scale).backward()
        opt.step()


def correct_loop():
    net = model()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    for epoch in range(4):
        net.train()
        for x, y in batches[:-1]:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            acc = (net(batches[-1][0]).argmax(1) == batches[-1][1]).float().mean().item()
    return acc


def main():
    for mistake in (forgot_zero_grad, softmax_into_cross_entropy, logits_into_nll_loss, validation_left_in_eval_mode,
                    validation_in_train_mode, optimizer_misses_a_layer, detached_branch, scheduler_first,
                    unreduced_loss, hidden_state_not_detached, nan_in_the_forward_pass, running_total_of_losses,
                    exploding_gradients, correct_loop):
        result = error = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with doctor():
                try:
                    result = mistake()
                except RuntimeError as e:  # what the mistake does next, after the doctor's warning
                    error = str(e).split(". ")[0]
        said = [w for w in caught if issubclass(w.category, TrainingWarning)]
        print(f"== {mistake.__name__.replace('_', ' ')}")
        for w in said:
            print(textwrap.fill(f"TrainingWarning (line {w.lineno}): {w.message}", width=100,
                                initial_indent="   ", subsequent_indent="     "))
        if error:
            print(textwrap.fill(f"then RuntimeError: {error}", width=100, initial_indent="   ",
                                subsequent_indent="     "))
        if not said:
            print(f"   no warning (held-out accuracy {result:.3f})" if result is not None else "   no warning")


if __name__ == "__main__":
    main()
