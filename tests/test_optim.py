"""Optimizers: trajectories against NumPy reference formulas (always) and PyTorch (when
importable), state_dict round trips, zero_grad, closures, argument validation, and the checks of
the native entry points."""
import copy

import numpy as np
import pytest

import gradcore
import gradcore.optim as optim
from helpers import to_np

SHAPES = [(), (1,), (7,), (3, 5), (129,)]
BIG = (200, 300)  # above the kernels' parallel grain: exercises the OpenMP path


# ---- reference implementations: the textbook formulas in float64 NumPy ----

def ref_sgd(p, g, st, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    g = (-g if maximize else g) + weight_decay * p
    if momentum:
        st["b"] = g.copy() if "b" not in st else momentum * st["b"] + (1 - dampening) * g
        g = g + momentum * st["b"] if nesterov else st["b"]
    return p - lr * g


def ref_adam(p, g, st, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled_weight_decay=False):
    b1, b2 = betas
    g = -g if maximize else g
    t = st["t"] = st.get("t", 0) + 1
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    v = st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0), v)
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, st, weight_decay=1e-2, **kw):
    return ref_adam(p, g, st, weight_decay=weight_decay, decoupled_weight_decay=True, **kw)


def ref_rmsprop(p, g, st, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                maximize=False):
    g = (-g if maximize else g) + weight_decay * p
    v = st["v"] = alpha * st.get("v", 0) + (1 - alpha) * g * g
    if centered:
        ga = st["ga"] = alpha * st.get("ga", 0) + (1 - alpha) * g
        v = v - ga * ga
    step = g / (np.sqrt(v) + eps)
    if momentum > 0:
        step = st["b"] = momentum * st.get("b", 0) + step
    return p - lr * step


def ref_adagrad(p, g, st, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False):
    g = (-g if maximize else g) + weight_decay * p
    t = st["t"] = st.get("t", 0) + 1
    s = st["s"] = st.get("s", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


REFS = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "RMSprop": ref_rmsprop, "Adagrad": ref_adagrad}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.5)),
    ("RMSprop", dict(weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.3, centered=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr_decay=0.1)),
    ("Adagrad", dict(weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CASES]


def make_data(shapes, steps, seed=0, skip=True):
    """Initial params and a gradient per step; with `skip`, param k has no grad on steps t
    where (t + k) % 4 == 3 (an optimizer must leave it and its state alone then)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in shapes]
    grads = [[None if skip and (t + k) % 4 == 3 else rng.standard_normal(s) for k, s in enumerate(shapes)]
             for t in range(steps)]
    return params, grads


def run_gradcore(name, kwargs, params, grads, dtype=gradcore.float64):
    ps = [gradcore.tensor(p, dtype=dtype, requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, **kwargs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = None if g is None else gradcore.tensor(g, dtype=dtype)
        opt.step()
    return [to_np(p) for p in ps], opt


def run_reference(name, kwargs, params, grads, dtype=np.float64):
    ps = [p.astype(dtype).astype(np.float64) for p in params]
    states = [{} for _ in ps]
    for gs in grads:
        for k, g in enumerate(gs):
            if g is not None:
                ps[k] = REFS[name](ps[k], g.astype(dtype).astype(np.float64), states[k], **kwargs)
    return ps


def run_torch(torch, name, kwargs, params, grads, dtype, groups=None):
    ps = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in params]
    opt = getattr(torch.optim, name)(ps if groups is None else groups(ps), **kwargs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = None if g is None else torch.tensor(g, dtype=dtype)
        opt.step()
    return [p.detach().numpy() for p in ps], opt


# ---- trajectories ----

@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_matches_reference_float64(name, kwargs):
    params, grads = make_data(SHAPES, 12)
    got, _ = run_gradcore(name, kwargs, params, grads)
    for g, e in zip(got, run_reference(name, kwargs, params, grads)):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_matches_reference_float32(name, kwargs):
    params, grads = make_data(SHAPES, 12)
    got, _ = run_gradcore(name, kwargs, params, grads, dtype=gradcore.float32)
    assert all(g.dtype == np.float32 for g in got)
    for g, e in zip(got, run_reference(name, kwargs, params, grads, dtype=np.float32)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_matches_torch(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    params, grads = make_data(SHAPES, 20)
    got, opt = run_gradcore(name, kwargs, params, grads, getattr(gradcore, dtype))
    want, topt = run_torch(torch, name, kwargs, params, grads, getattr(torch, dtype))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    # The state matches too, entry by entry.
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    for k, st in sd["state"].items():
        assert st.keys() == tsd["state"][k].keys()
        for key, value in st.items():
            np.testing.assert_allclose(to_np(value), tsd["state"][k][key].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c[1]][::4])
def test_large_parameter_matches_torch(name, kwargs):
    """A parameter above the parallel grain goes through the threaded loop."""
    torch = pytest.importorskip("torch")
    params, grads = make_data([BIG, (5,)], 4, skip=False)
    got, _ = run_gradcore(name, kwargs, params, grads, gradcore.float32)
    want, _ = run_torch(torch, name, kwargs, params, grads, torch.float32)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


GROUP_CASES = [
    ("SGD", dict(lr=0.1), lambda ps: [{"params": ps[:2], "momentum": 0.9}, {"params": ps[2:], "lr": 0.01}]),
    ("Adam", dict(lr=0.01), lambda ps: [{"params": ps[:1], "amsgrad": True}, {"params": ps[1:], "weight_decay": 0.1}]),
    ("AdamW", dict(), lambda ps: [{"params": ps[:3], "lr": 0.05}, {"params": ps[3:], "betas": (0.5, 0.9)}]),
    ("RMSprop", dict(), lambda ps: [{"params": ps[:2], "centered": True}, {"params": ps[2:], "momentum": 0.5}]),
    ("Adagrad", dict(), lambda ps: [{"params": ps[:2], "lr_decay": 0.1}, {"params": ps[2:], "lr": 0.1}]),
]


@pytest.mark.parametrize("name,kwargs,groups", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_have_their_own_options(name, kwargs, groups):
    torch = pytest.importorskip("torch")
    params, grads = make_data(SHAPES, 10)
    ps = [gradcore.tensor(p, dtype=gradcore.float32, requires_grad=True) for p in params]
    opt = getattr(optim, name)(groups(ps), **kwargs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = None if g is None else gradcore.tensor(g, dtype=gradcore.float32)
        opt.step()
    want, topt = run_torch(torch, name, kwargs, params, grads, torch.float32, groups)
    for p, w in zip(ps, want):
        np.testing.assert_allclose(to_np(p), w, rtol=1e-6, atol=1e-6)
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("name", list(REFS))
def test_non_contiguous_parameter(name):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 6))
    p = gradcore.tensor(a, dtype=gradcore.float32).t().detach().requires_grad_(True)
    assert not p.is_contiguous() and p.is_leaf
    opt = getattr(optim, name)([p], lr=0.1)
    ref, st = a.T.copy(), {}
    for _ in range(3):
        g = rng.standard_normal((6, 4))
        p.grad = gradcore.tensor(g, dtype=gradcore.float32)
        opt.step()
        ref = REFS[name](ref, g.astype(np.float32).astype(np.float64), st, lr=0.1)
    np.testing.assert_allclose(to_np(p), ref, rtol=1e-4, atol=1e-5)


def test_training_a_quadratic_with_a_closure():
    target = gradcore.tensor([1.0, -2.0, 3.0])
    p = gradcore.zeros(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    calls = []

    def closure():
        calls.append(gradcore.is_grad_enabled())
        opt.zero_grad()
        loss = ((p - target) * (p - target)).sum()
        loss.backward()
        return loss

    with gradcore.no_grad():
        first = opt.step(closure)
    assert calls == [True]  # the closure runs with grad enabled, even under no_grad
    assert first.item() == pytest.approx(14.0)
    for _ in range(60):
        loss = opt.step(closure)
    assert loss.item() < 1e-6
    np.testing.assert_allclose(to_np(p), [1.0, -2.0, 3.0], atol=1e-3)


def test_step_without_closure_returns_none_and_bumps_versions():
    p = gradcore.ones(3, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = gradcore.ones(3)
    v = p._version
    assert opt.step() is None
    assert p._version > v


def test_params_without_grad_are_skipped():
    a, b = gradcore.ones(2, requires_grad=True), gradcore.ones(3, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = gradcore.ones(2)
    opt.step()
    assert b not in opt.state and a in opt.state
    np.testing.assert_array_equal(to_np(b), np.ones(3))
    assert opt.state[a]["step"].item() == 1.0


# ---- zero_grad ----

def test_zero_grad_sets_to_none_by_default():
    p = gradcore.ones(3, requires_grad=True)
    p.grad = gradcore.ones(3)
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_zero_grad_in_place():
    p = gradcore.ones(3, requires_grad=True)
    (p * 2).sum().backward()
    g = p.grad
    optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is g
    np.testing.assert_array_equal(to_np(p.grad), np.zeros(3))
    assert not p.grad.requires_grad
    (p * 3).sum().backward()
    np.testing.assert_array_equal(to_np(p.grad), np.full(3, 3.0))


# ---- state_dict ----

@pytest.mark.parametrize("name,kwargs", CASES[::3], ids=CASE_IDS[::3])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    params, grads = make_data(SHAPES, 10)
    ps = [gradcore.tensor(p, dtype=gradcore.float32, requires_grad=True) for p in params]
    opt = getattr(optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}], **kwargs)

    def run(opt, ps, gs_seq):
        for gs in gs_seq:
            for p, g in zip(ps, gs):
                p.grad = None if g is None else gradcore.tensor(g, dtype=gradcore.float32)
            opt.step()

    run(opt, ps, grads[:5])
    saved = copy.deepcopy(opt.state_dict())
    ps2 = [p.detach().clone().requires_grad_(True) for p in ps]
    opt2 = getattr(optim, name)([{"params": ps2[:2]}, {"params": ps2[2:]}], **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02  # options come back with the state
    for st in saved["state"].values():  # loading copied the tensors in
        for v in st.values():
            if isinstance(v, gradcore.Tensor):
                v.fill_(1234.0)
    run(opt, ps, grads[5:])
    run(opt2, ps2, grads[5:])
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(to_np(a), to_np(b))


def test_state_dict_layout_is_pytorchs():
    torch = pytest.importorskip("torch")
    params, grads = make_data(SHAPES, 3, skip=False)
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}]  # noqa: E731
    ps = [gradcore.tensor(p, dtype=gradcore.float32, requires_grad=True) for p in params]
    opt = optim.Adam(groups(ps), amsgrad=True)
    for p, g in zip(ps, grads[0]):
        p.grad = gradcore.tensor(g, dtype=gradcore.float32)
    opt.step()
    _, topt = run_torch(torch, "Adam", dict(amsgrad=True), params, grads[:1], torch.float32, groups)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3, 4]]
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3, 4]
    step = sd["state"][0]["step"]
    assert step.dim() == 0 and step.dtype == gradcore.float32 and step.item() == 1.0


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(amsgrad=True)),
                                         ("RMSprop", dict(centered=True, momentum=0.2)), ("Adagrad", {})])
def test_loads_a_torch_state_dict(name, kwargs):
    torch = pytest.importorskip("torch")
    params, grads = make_data(SHAPES, 8, skip=False)
    mid, topt = run_torch(torch, name, kwargs, params, grads[:4], torch.float32)
    ps = [gradcore.tensor(p, dtype=gradcore.float32, requires_grad=True) for p in mid]
    opt = getattr(optim, name)(ps, **kwargs)
    opt.load_state_dict(topt.state_dict())
    for gs in grads[4:]:
        for p, g in zip(ps, gs):
            p.grad = gradcore.tensor(g, dtype=gradcore.float32)
        opt.step()
        for p, g in zip(topt.param_groups[0]["params"], gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        topt.step()
    for p, tp in zip(ps, topt.param_groups[0]["params"]):
        np.testing.assert_allclose(to_np(p), tp.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_load_state_dict_casts_to_param_dtype_and_accepts_number_steps():
    p = gradcore.ones(3, dtype=gradcore.float64, requires_grad=True)
    saved = {"state": {0: {"step": 3, "exp_avg": gradcore.ones(3), "exp_avg_sq": gradcore.ones(3)}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "params": [0]}]}
    opt = optim.Adam([p])
    opt.load_state_dict(saved)
    st = opt.state[p]
    assert st["exp_avg"].dtype == gradcore.float64
    assert isinstance(st["step"], gradcore.Tensor) and st["step"].item() == 3.0
    assert opt.param_groups[0]["amsgrad"] is False  # options missing from an old dict get defaults
    p.grad = gradcore.ones(3, dtype=gradcore.float64)
    opt.step()
    assert st["step"].item() == 4.0


def test_load_state_dict_validates_groups():
    a, b = gradcore.ones(2, requires_grad=True), gradcore.ones(2, requires_grad=True)
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"lr": 0.1})


def test_state_of_the_wrong_shape_is_reported_at_step():
    p = gradcore.ones(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {"momentum_buffer": gradcore.ones(4)}},
                         "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    p.grad = gradcore.ones(3)
    with pytest.raises(RuntimeError, match=r"momentum_buffer of parameter 0 has shape \[4\].*\[3\]"):
        opt.step()
    np.testing.assert_array_equal(to_np(p), np.ones(3))


# ---- construction and validation ----

@pytest.mark.parametrize("make,match", [
    (lambda ps: optim.SGD(ps, lr=-1), "Invalid learning rate: -1"),
    (lambda ps: optim.SGD(ps, momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda ps: optim.SGD(ps, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda ps: optim.SGD(ps, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda ps: optim.Adam(ps, lr=-0.5), "Invalid learning rate: -0.5"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "Invalid epsilon value"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.5), "Invalid alpha value: -0.5"),
    (lambda ps: optim.RMSprop(ps, momentum=-1), "Invalid momentum value"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda ps: optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
    (lambda ps: optim.SGD([{"params": ps}, {"params": ps}], lr=0.1), "more than one parameter group"),
    (lambda ps: optim.SGD([(ps[0] * 2)], lr=0.1), "can't optimize a non-leaf Tensor"),
])
def test_argument_errors(make, match):
    ps = [gradcore.ones(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(ps)


def test_type_errors_and_unsupported_flags():
    p = gradcore.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        optim.SGD([p], lr=0.1).add_param_group([p])
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.Adam([p], differentiable=True)
    optim.Adam([p], foreach=True, fused=True)  # hints: the update is always one fused call


def test_add_param_group_defaults_and_duplicates():
    a, b, c = (gradcore.ones(2, requires_grad=True) for _ in range(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [c, a]})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([c, c], lr=0.1)


def test_named_parameters_and_repr():
    a, b = gradcore.ones(2, requires_grad=True), gradcore.ones(3, requires_grad=True)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text and text.endswith(")")


def test_optimizer_pickles_through_deepcopy():
    p = gradcore.ones(3, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = gradcore.ones(3)
    opt.step()
    clone = copy.deepcopy(opt)
    assert clone.param_groups[0]["lr"] == 0.1
    (q,) = clone.param_groups[0]["params"]
    np.testing.assert_array_equal(to_np(clone.state[q]["exp_avg"]), to_np(opt.state[p]["exp_avg"]))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "NAdam", "RAdam"])
def test_an_older_pickled_optimizer_gets_the_newer_group_options(name):
    # __setstate__ fills the param-group options PyTorch added over its releases (with PyTorch's
    # values) and turns numeric steps into 0-dim tensors, for every optimizer alike.
    p = gradcore.ones(3, requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.1)
    p.grad = gradcore.ones(3)
    opt.step()
    state = opt.__getstate__() if hasattr(opt, "__getstate__") else dict(opt.__dict__)
    state = copy.deepcopy(state)
    for group in state["param_groups"]:
        for key in ("maximize", "foreach", "differentiable"):
            group.pop(key, None)
    for s in state["state"].values():
        if "step" in s and isinstance(s["step"], gradcore.Tensor):
            s["step"] = float(s["step"].item())
    old = getattr(optim, name).__new__(getattr(optim, name))
    old.__setstate__(state)
    group = old.param_groups[0]
    assert group["maximize"] is False and group["foreach"] is None and group["differentiable"] is False
    for s in old.state.values():
        if "step" in s:
            assert isinstance(s["step"], gradcore.Tensor) == (name != "SGD")


# ---- the native entry points ----

def test_native_step_checks_everything_before_writing():
    a, b = gradcore.ones(3), gradcore.ones(2)
    ga, gb = gradcore.ones(3), gradcore.ones(2)
    steps = [gradcore.zeros(()), gradcore.zeros(())]
    good = [gradcore.zeros(3), gradcore.zeros(2)]
    with pytest.raises(RuntimeError, match=r"exp_avg_sq of parameter 1 has shape \[5\]"):
        gradcore._C._adam_step([a, b], [ga, gb], good, [gradcore.zeros(3), gradcore.zeros(5)], [], steps,
                               0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    np.testing.assert_array_equal(to_np(a), np.ones(3))  # parameter 0 was not touched
    assert steps[0].item() == 0.0
    with pytest.raises(ValueError, match="got 2 parameters but 1 gradients"):
        gradcore._C._sgd_step([a, b], [ga], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match="gradient of parameter 0 has shape.*dtype float64"):
        gradcore._C._sgd_step([a], [gradcore.ones(3, dtype=gradcore.float64)], [], 0.1, 0.0, 0.0, 0.0, False, False,
                              False)
    with pytest.raises(RuntimeError, match="parameter 0 has dtype int64"):
        gradcore._C._adagrad_step([gradcore.ones(3, dtype=gradcore.int64)], [ga], [good[0]], [steps[0]], 0.1, 0.0,
                                  0.0, 1e-10, False)
    with pytest.raises(ValueError, match="momentum_buffer of parameter 0 is None"):
        gradcore._C._sgd_step([a], [ga], [None], 0.1, 0.9, 0.0, 0.0, False, False, [True])
    with pytest.raises(TypeError, match="must be a list of Tensors"):
        gradcore._C._rmsprop_step(a, [ga], [good[0]], [], [], [steps[0]], 0.1, 0.99, 1e-8, 0.0, 0.0, False, False)


def test_native_sgd_first_step_flag_initialises_the_buffer():
    p, g, buf = gradcore.zeros(3), gradcore.tensor([1.0, 2.0, 3.0]), gradcore.full((3,), 100.0)
    gradcore._C._sgd_step([p], [g], [buf], 1.0, 0.9, 0.5, 0.0, False, False, [True])
    np.testing.assert_array_equal(to_np(buf), [1.0, 2.0, 3.0])  # a clone of the gradient, undamped
    np.testing.assert_array_equal(to_np(p), [-1.0, -2.0, -3.0])
    gradcore._C._sgd_step([p], [g], [buf], 1.0, 0.9, 0.5, 0.0, False, False, [False])
    np.testing.assert_allclose(to_np(buf), [1.4, 2.8, 4.2], rtol=1e-6)


def test_steps_in_two_threads_match_sequential_steps():
    """The native step releases the GIL: two optimizers stepping at once in two threads (on their
    own parameters) give exactly what they give one after the other."""
    import threading

    params, grads = make_data([BIG], 3, skip=False)

    def run(results, key):
        got, _ = run_gradcore("Adam", dict(lr=0.01, amsgrad=True), params, grads, gradcore.float32)
        results[key] = got[0]

    sequential, concurrent = {}, {}
    run(sequential, 0)
    threads = [threading.Thread(target=run, args=(concurrent, k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        np.testing.assert_array_equal(concurrent[k], sequential[0])


def test_linear_regression_loop_matches_torch():
    """The tutorial loop (forward, loss, zero_grad, backward, step, scheduler step) after the
    import swap gives PyTorch's losses."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 64)
    y = 2 * x + 1 + 0.1 * rng.standard_normal(64)

    def train(lib):
        xs, ys = lib.tensor(x, dtype=lib.float32), lib.tensor(y, dtype=lib.float32)
        w, b = lib.zeros((), requires_grad=True), lib.zeros((), requires_grad=True)
        opt = lib.optim.SGD([w, b], lr=0.1, momentum=0.9)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
        losses = []
        for _ in range(50):
            loss = ((w * xs + b - ys) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        return losses, w.item(), b.item()

    ours, theirs = train(gradcore), train(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-7)
    assert ours[1] == pytest.approx(2.0, abs=0.1) and ours[2] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(amsgrad=True)),
                                         ("AdamW", dict(lr=0.01)), ("RMSprop", dict(centered=True, momentum=0.5)),
                                         ("Adagrad", dict(lr_decay=0.01))])
def test_checkpoint_through_gradcore_save_resumes_identically(tmp_path, name, kwargs):
    params, grads = make_data(SHAPES, 8)

    def run(opt, ps, gs_seq):
        for gs in gs_seq:
            for p, g in zip(ps, gs):
                p.grad = None if g is None else gradcore.tensor(g, dtype=gradcore.float32)
            opt.step()

    ps = [gradcore.tensor(p, dtype=gradcore.float32, requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, **kwargs)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    run(opt, ps, grads[:4])
    sched.step()
    path = tmp_path / "ckpt.safetensors"
    gradcore.save({"params": [p.detach() for p in ps], "optimizer": opt.state_dict(),
                   "scheduler": sched.state_dict()}, path)
    ckpt = gradcore.load(path)
    ps2 = [p.clone().requires_grad_(True) for p in ckpt["params"]]
    opt2 = getattr(optim, name)(ps2, **kwargs)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    for o, s, p in ((opt, sched, ps), (opt2, sched2, ps2)):
        run(o, p, grads[4:])
        s.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(to_np(a), to_np(b))


def test_avx512_avx2_and_baseline_update_loops_agree_bitwise():
    """The optimizer loops run with the widest vectors the CPU has (AVX-512, AVX2); without FMA
    they round exactly as the baseline loops (forced by GRADCORE_CPU_ISA=baseline) do."""
    import os
    import subprocess
    import sys

    code = (
        "import gradcore, numpy as np\n"
        "gradcore.manual_seed(0)\n"
        "out = []\n"
        "for name, kw in [('SGD', dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),\n"
        "                 ('Adam', dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)), ('AdamW', dict(lr=1e-2)),\n"
        "                 ('RMSprop', dict(lr=1e-2, centered=True, momentum=0.5)), ('Adagrad', dict(lr=0.1))]:\n"
        "    p = gradcore.nn.Parameter(gradcore.randn(1037))\n"
        "    opt = getattr(gradcore.optim, name)([p], **kw)\n"
        "    for _ in range(5):\n"
        "        p.grad = gradcore.randn(1037)\n"
        "        opt.step()\n"
        "    out.append(p.detach().numpy().tobytes().hex())\n"
        "print('|'.join(out))\n"
    )
    runs = []
    for isa in ("avx512", "avx2", "baseline"):
        env = dict(os.environ, GRADCORE_CPU_ISA=isa)
        runs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert runs[0] == runs[2] and runs[1] == runs[2]
