"""Whole CNN training steps against PyTorch: the classic pytorch/examples MNIST ``Net`` (two 3x3
convs, ReLU, max-pool, dropout, two Linear, log_softmax + nll_loss) and LeNet-5 built the same way
in both libraries, parameters copied from the PyTorch model, the same batch: the same losses, the
same gradients and the same updated parameters after several optimizer steps."""
import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")


def mnist_net(m, p_drop):
    nn, F = m.nn, m.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(p_drop)
            self.dropout2 = nn.Dropout(p_drop)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = m.flatten(self.dropout1(x), 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def lenet5(m, p_drop):
    nn = m.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Dropout(p_drop), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10), nn.LogSoftmax(dim=1))


def _copy_params(ours, theirs, dtype):
    if dtype == np.float64:
        ours.double()
    ours.load_state_dict({k: gradcore.tensor(v.detach().numpy().astype(dtype)) for k, v in theirs.state_dict().items()})
    if dtype == np.float64:
        theirs.double()


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-4), (np.float64, 1e-10)])
@pytest.mark.parametrize("optim", ["sgd_momentum", "adam"])
@pytest.mark.parametrize("build", [mnist_net, lenet5], ids=["mnist_net", "lenet5"])
def test_training_steps_match_pytorch(build, optim, dtype, tol):
    torch.manual_seed(0)
    theirs = build(torch, 0.0)  # dropout layers run, with p=0 so both sides keep the same units
    ours = build(gradcore, 0.0)
    _copy_params(ours, theirs, dtype)
    make = {"sgd_momentum": lambda m, params: m.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4),
            "adam": lambda m, params: m.optim.Adam(params, lr=1e-3)}[optim]
    opt_t, opt_g = make(torch, theirs.parameters()), make(gradcore, ours.parameters())
    # Adam's first steps move a weight by about lr * g / (|g| + eps) whatever g's size, so a float32
    # gradient of 1e-8 that differs in its last bits moves a weight differently by a visible fraction
    # of lr: the float32 parameters are compared to 5% of lr there, after one step only, since the
    # next gradients inherit that difference (float64 checks three steps of the formula to 1e-10).
    loose = optim == "adam" and dtype == np.float32
    param_atol = 0.05 * 1e-3 if loose else tol * 1e-2
    rng = np.random.default_rng(7)
    for step in range(1 if loose else 3):
        x = rng.random((8, 1, 28, 28)).astype(dtype)
        y = rng.integers(0, 10, 8)
        losses = []
        for m, model, opt in ((torch, theirs, opt_t), (gradcore, ours, opt_g)):
            opt.zero_grad()
            loss = m.nn.functional.nll_loss(model(m.tensor(x)), m.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[1] == pytest.approx(losses[0], rel=tol), f"step {step}"
        for (name, p_t), (name_g, p_g) in zip(theirs.named_parameters(), ours.named_parameters()):
            assert name == name_g
            np.testing.assert_allclose(p_g.grad.numpy(), p_t.grad.numpy(), rtol=tol, atol=tol * 1e-2,
                                       err_msg=f"grad of {name}, step {step}")
            np.testing.assert_allclose(p_g.detach().numpy(), p_t.detach().numpy(), rtol=tol, atol=param_atol,
                                       err_msg=f"{name} after step {step}")
