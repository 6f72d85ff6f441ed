"""NAdam, RAdam and Adadelta against PyTorch (when importable):
parameters after every step on the same model and data, state_dict round trips (a
state_dict loaded mid-run continues identically) and argument validation."""

import numpy as np
import pytest

import gradcore
import gradcore.optim as optim
from helpers import to_np

RTOL = {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6)}


def _torch():
    return pytest.importorskip("torch")


# ---- a small model, written once for both libraries ----

def make_init(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((5, 4)) * 0.5,
        "b1": rng.standard_normal(5) * 0.1,
        "W2": rng.standard_normal((1, 5)) * 0.5,
        "b2": rng.standard_normal(1) * 0.1,
        "X": rng.standard_normal((16, 4)),
        "y": rng.standard_normal((16, 1)),
    }


def mlp_loss(lib, ps, X, y):
    W1, b1, W2, b2 = ps
    h = lib.tanh(X.matmul(W1.t()) + b1)
    out = h.matmul(W2.t()) + b2
    return ((out - y) ** 2).mean()


def run(lib, name, kwargs, dtype, steps, init, groups=None, closure=False, load_at=None):
    """Parameters (NumPy copies) after each of ``steps`` optimizer steps. ``groups`` maps the four
    parameters to param groups; ``load_at`` restarts the optimizer from its own state_dict (on
    fresh parameter tensors holding the same values) after that many steps."""
    dt = getattr(lib, dtype)
    ps = [lib.tensor(init[k], dtype=dt, requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    X, y = lib.tensor(init["X"], dtype=dt), lib.tensor(init["y"], dtype=dt)
    make = getattr(lib.optim, name)
    opt = make(ps if groups is None else groups(ps), **kwargs)
    out = []
    for i in range(steps):
        if load_at is not None and i == load_at:
            sd = opt.state_dict()
            ps = [lib.tensor(p.detach().numpy().copy(), dtype=dt, requires_grad=True) for p in ps]
            opt = make(ps if groups is None else groups(ps), **kwargs)
            opt.load_state_dict(sd)

        def fn():
            opt.zero_grad()
            loss = mlp_loss(lib, ps, X, y)
            loss.backward()
            return loss

        if closure:
            opt.step(fn)
        else:
            fn()
            opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out, opt


def assert_trajectories_close(got, want, dtype):
    rtol, atol = RTOL[dtype]
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            assert np.all(np.isfinite(a))
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"after step {step + 1}")


CASES = [
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, betas=(0.8, 0.99), momentum_decay=0.01, eps=1e-6, maximize=True)),
    ("NAdam", dict(lr=0.01, foreach=False)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9))),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.9, 0.95), eps=1e-4, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.95)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.3, weight_decay=0.05, maximize=True, foreach=False)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CASES]
STEPS = 15


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch(name, kwargs, dtype):
    torch = _torch()
    init = make_init()
    got, opt = run(gradcore, name, kwargs, dtype, STEPS, init)
    want, topt = run(torch, name, kwargs, dtype, STEPS, init)
    assert_trajectories_close(got, want, dtype)
    # the same state, under the same names
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    for i, st in tsd["state"].items():
        assert set(sd["state"][i]) == set(st)
        for key, value in st.items():
            got_v = to_np(sd["state"][i][key])
            assert got_v.dtype == value.numpy().dtype, key
            np.testing.assert_allclose(got_v, value.numpy(), rtol=RTOL[dtype][0] * 100, atol=RTOL[dtype][1])


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[7], CASES[12]], ids=[IDS[1], IDS[7], IDS[12]])
def test_param_groups_and_closure_match_torch(name, kwargs):
    torch = _torch()
    init = make_init(1)

    def groups(ps):
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": kwargs.get("lr", 1e-3) * 3, "weight_decay": 0.0}]

    got, _ = run(gradcore, name, kwargs, "float64", STEPS, init, groups=groups, closure=True)
    want, _ = run(torch, name, kwargs, "float64", STEPS, init, groups=groups, closure=True)
    assert_trajectories_close(got, want, "float64")


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_mid_run_continues_identically(name, kwargs):
    init = make_init(2)
    straight, _ = run(gradcore, name, kwargs, "float32", 10, init)
    resumed, _ = run(gradcore, name, kwargs, "float32", 10, init, load_at=4)
    for a, b in zip(straight, resumed):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name,kwargs", [CASES[3], CASES[8], CASES[13]], ids=[IDS[3], IDS[8], IDS[13]])
def test_state_dict_mid_run_matches_torch(name, kwargs):
    torch = _torch()
    init = make_init(3)
    got, _ = run(gradcore, name, kwargs, "float64", 10, init, load_at=4)
    want, _ = run(torch, name, kwargs, "float64", 10, init, load_at=4)
    assert_trajectories_close(got, want, "float64")


def test_state_dict_round_trip():
    init = make_init(4)
    _, opt = run(gradcore, "NAdam", dict(lr=0.01), "float64", 3, init)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].dtype == gradcore.float32
    assert sd["state"][0]["step"].item() == 3.0
    ps = [gradcore.zeros(p.shape, dtype=gradcore.float64, requires_grad=True) for p in opt.param_groups[0]["params"]]
    opt2 = optim.NAdam(ps, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    sd2 = opt2.state_dict()
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(to_np(sd2["state"][2][key]), to_np(sd["state"][2][key]))
    # the loaded state is a copy
    sd["state"][0]["exp_avg"].fill_(5.0)
    assert to_np(opt2.state[ps[0]]["exp_avg"]).max() != 5.0


# ---- argument validation: PyTorch's exception types and messages ----

BAD = [
    ("NAdam", dict(lr=-1.0)),
    ("NAdam", dict(eps=-1.0)),
    ("NAdam", dict(betas=(1.0, 0.999))),
    ("NAdam", dict(betas=(0.9, -0.1))),
    ("NAdam", dict(weight_decay=-0.1)),
    ("NAdam", dict(momentum_decay=-0.1)),
    ("RAdam", dict(lr=-1e-3)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(betas=(-0.1, 0.9))),
    ("RAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(weight_decay=-1.0)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)),
]


@pytest.mark.parametrize("name,kwargs", BAD, ids=[f"{n}-{kw}" for n, kw in BAD])
def test_bad_arguments(name, kwargs):
    p = gradcore.zeros(3, requires_grad=True)
    with pytest.raises(ValueError) as err:
        getattr(optim, name)([p], **kwargs)
    try:
        import torch
    except ImportError:
        return
    with pytest.raises(ValueError) as terr:
        getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)], **kwargs)
    assert str(err.value) == str(terr.value)


def test_bad_arguments_without_torch():
    p = gradcore.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.RAdam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid rho value: 2"):
        optim.Adadelta([p], rho=2)
    with pytest.raises(ValueError, match="Invalid momentum_decay value"):
        optim.NAdam([p], momentum_decay=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.NAdam([])
    for name in ("NAdam", "RAdam", "Adadelta"):
        with pytest.raises(NotImplementedError):
            getattr(optim, name)([p], differentiable=True)


def test_defaults_match_torch():
    torch = _torch()
    import inspect
    for name in ("NAdam", "RAdam", "Adadelta"):
        ours = getattr(optim, name)([gradcore.zeros(2, requires_grad=True)]).defaults
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        assert ours == theirs, name
        sig, tsig = inspect.signature(getattr(optim, name)), inspect.signature(getattr(torch.optim, name))
        assert list(sig.parameters) == list(tsig.parameters), name
