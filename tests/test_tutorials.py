"""The PyTorch tutorials' training loops, written once and run with `torch` and with `gradcore`
from the same initial weights and data: losses must agree to 1e-4 relative."""
import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")


def copy_weights(src_model, dst_model, lib):
    with lib.no_grad():
        for (_, ps), (_, pd) in zip(src_model.named_parameters(), dst_model.named_parameters()):
            pd.copy_(lib.tensor(ps.detach().numpy()))


def mlp_loop(lib, init_from=None, steps=30):
    nn = lib.nn
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256).astype(np.int64)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.tensor(x), lib.tensor(y)), batch_size=64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if init_from is not None:
        copy_weights(init_from, model, lib)
    loss_fn = nn.CrossEntropyLoss()
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    losses, val_losses = [], []
    for epoch in range(steps // 4):
        model.train()
        for xb, yb in loader:
            pred = model(xb)
            loss = loss_fn(pred, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        model.eval()
        with lib.no_grad():
            val_losses.append(sum(loss_fn(model(xb), yb).item() for xb, yb in loader) / len(loader))
    return model, losses, val_losses


def test_mlp_sgd_momentum_steplr_matches_torch():
    torch.manual_seed(1)
    init = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    _, t_losses, t_val = mlp_loop(torch, init_from=init)
    _, g_losses, g_val = mlp_loop(gradcore, init_from=init)
    np.testing.assert_allclose(g_losses, t_losses, rtol=1e-4)
    np.testing.assert_allclose(g_val, t_val, rtol=1e-4)
    assert g_losses[-1] < g_losses[0]


def adam_regression(lib, w0, b0):
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((64, 3)).astype(np.float32))
    y = lib.tensor(rng.standard_normal((64, 1)).astype(np.float32))
    model = lib.nn.Linear(3, 1)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(w0))
        model.bias.copy_(lib.tensor(b0))
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    out = []
    for _ in range(50):
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        out.append(loss.item())
    return out


def test_adam_with_clipping_matches_torch():
    w0 = np.array([[0.3, -0.2, 0.1]], dtype=np.float32)
    b0 = np.array([0.05], dtype=np.float32)
    np.testing.assert_allclose(adam_regression(gradcore, w0, b0), adam_regression(torch, w0, b0), rtol=1e-4)
