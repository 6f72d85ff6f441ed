"""GradScaler (issue 16): scale, unscale_ (once per step, the fused C++ pass), step (skipped on
inf/NaN gradients, returning the optimizer's value otherwise), update (backoff, growth after
growth_interval clean steps), state_dict round trips, and its errors: every decision against
PyTorch's torch.amp.GradScaler("cpu"); seed 000's snippet runs unchanged under CPU autocast."""
import warnings

import numpy as np
import pytest

import gradcore


def _run(m, schedule, **kw):
    """Trains Linear(3, 2) with SGD; schedule[i] is None (a clean step) or a value planted in the
    weight's gradient (inf / nan) before step i. Returns scales, step return values, weights."""
    lin = m.nn.Linear(3, 2)
    with m.no_grad():
        lin.weight.copy_(m.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10))
        lin.bias.zero_()
    opt = m.optim.SGD(lin.parameters(), lr=0.1)
    scaler = m.amp.GradScaler("cpu", **kw)
    x = m.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
    scales, rets = [], []
    for planted in schedule:
        opt.zero_grad()
        loss = lin(x).pow(2).mean()
        scaler.scale(loss).backward()
        if planted is not None:
            with m.no_grad():
                lin.weight.grad[0, 0] = planted
        rets.append(scaler.step(opt))
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, rets, lin.weight.detach().numpy(), scaler.state_dict()


@pytest.mark.parametrize("kw", [dict(), dict(init_scale=8.0, growth_interval=2), dict(init_scale=2.0 ** 20,
                                                                                       backoff_factor=0.25,
                                                                                       growth_factor=4.0,
                                                                                       growth_interval=3)])
def test_decisions_match_pytorch(kw):
    torch = pytest.importorskip("torch")
    schedule = [None, float("inf"), None, None, float("nan"), None, None, None, None, float("-inf"), None]
    ours, theirs = _run(gradcore, schedule, **kw), _run(torch, schedule, **kw)
    assert ours[0] == theirs[0]  # scales after every update
    assert [r is None for r in ours[1]] == [r is None for r in theirs[1]]  # which steps were skipped
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6, atol=1e-7)
    assert ours[3] == theirs[3]


def test_unscale_once_step_once_and_state_round_trip():
    lin = gradcore.nn.Linear(2, 1)
    opt = gradcore.optim.SGD(lin.parameters(), lr=0.1)
    scaler = gradcore.amp.GradScaler("cpu", init_scale=4.0)
    with pytest.raises(AssertionError, match="_scale is None"):
        scaler.unscale_(opt)
    loss = lin(gradcore.ones(3, 2)).sum()
    scaler.scale(loss).backward()
    scaled = lin.weight.grad.clone()
    scaler.unscale_(opt)
    np.testing.assert_allclose(lin.weight.grad.numpy(), scaled.numpy() / 4.0)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)
    scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 4.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                     "_growth_tracker": 1}
    other = gradcore.amp.GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})
    scaler.update(new_scale=16.0)
    assert scaler.get_scale() == 16.0
    assert (scaler.scale([gradcore.ones(1), (gradcore.ones(2),)])[1][0] * 1).tolist() == [16.0, 16.0]


def test_fused_unscale_handles_strided_and_16_bit_gradients():
    found = gradcore.zeros((), dtype=gradcore.float32)
    a = gradcore.arange(12.0).reshape(3, 4).t()  # non-contiguous
    b = gradcore.ones(5, dtype=gradcore.bfloat16) * 8
    gradcore._C._amp_unscale_([a, b], found, 0.5)
    assert a.tolist() == (gradcore.arange(12.0).reshape(3, 4).t() * 0.5).tolist() and b.tolist() == [4.0] * 5
    assert found.item() == 0.0
    gradcore._C._amp_unscale_([gradcore.tensor([1.0, float("nan")])], found, 1.0)
    assert found.item() == 1.0


def test_disabled_and_deprecated_forms():
    if not gradcore.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
            scaler = gradcore.amp.GradScaler()  # no device: CUDA, as in PyTorch
        assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
        t = gradcore.ones(2)
        assert scaler.scale(t) is t
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gradcore.cuda.amp.GradScaler()
        assert any(w.category is FutureWarning and "gradcore.cuda.amp.GradScaler(args...)` is deprecated"
                   in str(w.message) for w in caught)
    with pytest.warns(FutureWarning, match="gradcore.cpu.amp.GradScaler"):
        assert gradcore.cpu.amp.GradScaler().is_enabled()


def test_seed_snippet_runs_unchanged_on_cpu():
    torch = gradcore  # the snippet, as users write it, with `import gradcore as torch`
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cpu")
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            out = model(x)
            loss = loss_fn(out, y)
        assert out.dtype == torch.bfloat16 and loss.dtype == torch.float32
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())
    assert losses[-1] < losses[0] * 0.9
