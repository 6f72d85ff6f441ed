"""Learning-rate schedulers: sequences against PyTorch's step by step (when importable) and
against the closed forms (always), state_dict round trips, warnings and validation."""
import copy
import math
import warnings
from bisect import bisect_right

import pytest

import gradcore
import gradcore.optim as optim
from gradcore.optim import lr_scheduler

STEPS = 40


def f1(epoch):
    return 0.95 ** epoch


def f2(epoch):
    return 1.0 / (epoch + 1)


def f3(epoch):
    return (epoch % 3) + 0.5


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5), "SGD"),
    ("StepLR", dict(step_size=3), "SGD"),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3), "SGD"),
    ("ExponentialLR", dict(gamma=0.9), "Adam"),
    ("CosineAnnealingLR", dict(T_max=10), "SGD"),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), "Adam"),
    ("LambdaLR", dict(lr_lambda=f1), "SGD"),
    ("LambdaLR", dict(lr_lambda=[f2, f3]), "SGD"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS + 5), "SGD"),
    ("OneCycleLR", dict(max_lr=[0.5, 2.0], epochs=5, steps_per_epoch=9, anneal_strategy="linear",
                        three_phase=True), "Adam"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=STEPS, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
                        cycle_momentum=False), "AdamW"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=STEPS + 1, base_momentum=[0.8, 0.7], max_momentum=0.9), "Adam"),
]
IDS = [f"{s}-{i}" for i, (s, _, _) in enumerate(SCHEDULERS)]


def make(lib, opt_name, sched_name, kwargs):
    """An optimizer with two param groups (lr 0.1 and 0.01) and a scheduler over it."""
    params = [lib.ones(2, requires_grad=True), lib.ones(3, requires_grad=True)]
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = getattr(lib.optim, opt_name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.01}], lr=0.1, **extra)
    sched = getattr(lib.optim.lr_scheduler, sched_name)(opt, **kwargs)
    return opt, sched


def trace(opt, sched, steps, metrics=None):
    """Per step: last lrs, group lrs and the momentum/beta1 of each group."""
    out = []
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        out.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                    [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]))
    return out


def assert_traces_equal(a, b):
    assert len(a) == len(b)
    for (la, ga, ma), (lb, gb, mb) in zip(a, b):
        assert la == pytest.approx(lb, rel=1e-12, abs=1e-15)
        assert ga == pytest.approx(gb, rel=1e-12, abs=1e-15)
        assert ma == pytest.approx(mb, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name,kwargs,opt_name", SCHEDULERS, ids=IDS)
def test_matches_torch(name, kwargs, opt_name):
    torch = pytest.importorskip("torch")
    opt, sched = make(gradcore, opt_name, name, kwargs)
    topt, tsched = make(torch, opt_name, name, kwargs)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    assert sched.base_lrs == pytest.approx(tsched.base_lrs, rel=1e-12)
    assert_traces_equal(trace(opt, sched, STEPS), trace(topt, tsched, STEPS))
    assert sched.last_epoch == tsched.last_epoch == STEPS


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.79995, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
                   0.71, 0.72, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4]
PLATEAUS = [
    dict(patience=2),
    dict(patience=1, factor=0.5, threshold=0.01),
    dict(mode="max", patience=1),
    dict(patience=1, threshold_mode="abs", threshold=0.05),
    dict(patience=0, cooldown=2, factor=0.5),
    dict(patience=0, factor=0.5, min_lr=[0.02, 0.004]),
    dict(patience=0, factor=0.999, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt, sched = make(gradcore, "SGD", "ReduceLROnPlateau", kwargs)
    topt, tsched = make(torch, "SGD", "ReduceLROnPlateau", kwargs)
    metrics = [m if kwargs.get("mode") != "max" else -m for m in PLATEAU_METRICS]
    got, want = trace(opt, sched, len(metrics), metrics), trace(topt, tsched, len(metrics), metrics)
    assert_traces_equal(got, want)
    assert got[-1][1] != [0.1, 0.01] or kwargs.get("eps")  # the lr did move (except when eps forbids it)
    assert sched.best == tsched.best and sched.num_bad_epochs == tsched.num_bad_epochs


# ---- closed forms, without torch ----

def lrs_over(opt, sched, steps):
    return [l for l, _, _ in trace(opt, sched, steps)]


def test_step_multistep_exponential_lambda_closed_forms():
    opt, sched = make(gradcore, "SGD", "StepLR", dict(step_size=4, gamma=0.5))
    for t, lrs in enumerate(lrs_over(opt, sched, 30), start=1):
        assert lrs == pytest.approx([0.1 * 0.5 ** (t // 4), 0.01 * 0.5 ** (t // 4)], rel=1e-12)
    opt, sched = make(gradcore, "SGD", "MultiStepLR", dict(milestones=[9, 3, 3], gamma=0.1))
    for t, lrs in enumerate(lrs_over(opt, sched, 30), start=1):
        assert lrs[0] == pytest.approx(0.1 * 0.1 ** bisect_right([3, 3, 9], t), rel=1e-12)
    opt, sched = make(gradcore, "SGD", "ExponentialLR", dict(gamma=0.8))
    for t, lrs in enumerate(lrs_over(opt, sched, 30), start=1):
        assert lrs[1] == pytest.approx(0.01 * 0.8 ** t, rel=1e-12)
    opt, sched = make(gradcore, "SGD", "LambdaLR", dict(lr_lambda=[f2, f3]))
    for t, lrs in enumerate(lrs_over(opt, sched, 30), start=1):
        assert lrs == pytest.approx([0.1 * f2(t), 0.01 * f3(t)], rel=1e-12)


def test_cosine_annealing_follows_the_closed_form_over_several_periods():
    opt, sched = make(gradcore, "SGD", "CosineAnnealingLR", dict(T_max=6, eta_min=0.002))
    assert sched.get_last_lr() == [0.1, 0.01]
    for t, lrs in enumerate(lrs_over(opt, sched, 36), start=1):
        for base, lr in zip([0.1, 0.01], lrs):
            assert lr == pytest.approx(0.002 + (base - 0.002) * (1 + math.cos(math.pi * t / 6)) / 2, abs=1e-12)


def test_one_cycle_shape():
    opt, sched = make(gradcore, "SGD", "OneCycleLR", dict(max_lr=1.0, total_steps=50, pct_start=0.3))
    assert sched.get_last_lr() == pytest.approx([1.0 / 25, 1.0 / 25])
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    lrs = [sched.get_last_lr()[0]] + [l[0] for l in lrs_over(opt, sched, 49)]
    peak = lrs.index(max(lrs))
    assert peak == 14 and lrs[peak] == pytest.approx(1.0)  # pct_start * total_steps - 1
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a > b for a, b in zip(lrs[peak:-1], lrs[peak + 1:]))
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    opt.step()
    sched.step()  # step 50 of 50 is the last one allowed
    with pytest.raises(ValueError, match="Tried to step 51 times"):
        sched.step()


def test_one_cycle_cycles_adam_beta1():
    opt, sched = make(gradcore, "Adam", "OneCycleLR", dict(max_lr=0.1, total_steps=20))
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)
    betas = [b for _, _, b in trace(opt, sched, 5)]
    assert betas[-1][0] < 0.95 and opt.param_groups[1]["betas"][1] == 0.999


def test_reduce_on_plateau_by_hand():
    opt, sched = make(gradcore, "SGD", "ReduceLROnPlateau", dict(patience=2, factor=0.5))
    lrs = [l[0] for l, _, _ in trace(opt, sched, 7, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5])]
    # bad epochs after the first: 1, 2, 3 > patience -> halve; then 0.5 is better, 1, 2.
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])


def test_scheduler_sets_initial_lr_and_base_lrs():
    opt, sched = make(gradcore, "SGD", "StepLR", dict(step_size=2))
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert sched.base_lrs == [0.1, 0.01] and sched.last_epoch == 0
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([gradcore.ones(1, requires_grad=True)], lr=0.1), 2, last_epoch=3)


# ---- state_dict ----

@pytest.mark.parametrize("name,kwargs,opt_name", SCHEDULERS, ids=IDS)
def test_state_dict_round_trip(name, kwargs, opt_name):
    opt, sched = make(gradcore, opt_name, name, kwargs)
    trace(opt, sched, 10)
    opt_sd, sched_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sched_sd and sched_sd["last_epoch"] == 10
    opt2, sched2 = make(gradcore, opt_name, name, kwargs)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert_traces_equal(trace(opt2, sched2, STEPS - 10), trace(opt, sched, STEPS - 10))


def test_reduce_on_plateau_state_dict_round_trip():
    opt, sched = make(gradcore, "SGD", "ReduceLROnPlateau", dict(patience=1, cooldown=1))
    trace(opt, sched, 12, PLATEAU_METRICS)
    opt2, sched2 = make(gradcore, "SGD", "ReduceLROnPlateau", {})
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    sched2.load_state_dict(copy.deepcopy(sched.state_dict()))
    rest = PLATEAU_METRICS[12:]
    assert_traces_equal(trace(opt2, sched2, len(rest), rest), trace(opt, sched, len(rest), rest))


def test_lambda_lr_state_dict_saves_callable_objects_only():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    opt, _ = make(gradcore, "SGD", "StepLR", dict(step_size=1))
    sched = lr_scheduler.LambdaLR(opt, [Warmup(5), f1])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"n": 5}, None]
    sd["lr_lambdas"] = [{"n": 10}, None]
    sched.load_state_dict(sd)
    assert sched.lr_lambdas[0].n == 10


# ---- warnings and validation ----

def test_warns_when_stepped_before_the_optimizer():
    opt, sched = make(gradcore, "SGD", "StepLR", dict(step_size=2))
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_no_warning_in_the_right_order_and_get_lr_outside_step_warns():
    opt, sched = make(gradcore, "SGD", "StepLR", dict(step_size=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_epoch_argument_is_deprecated_and_uses_the_closed_form():
    opt, sched = make(gradcore, "SGD", "StepLR", dict(step_size=3, gamma=0.5))
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(7)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.25, 0.01 * 0.25])


@pytest.mark.parametrize("build,exc,match", [
    (lambda o: lr_scheduler.StepLR("not an optimizer", 2), TypeError, "is not an Optimizer"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), ValueError, "total_steps OR"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError, "positive integer total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=0), ValueError, "steps_per_epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=2.0), ValueError, "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.1, 0.2, 0.3], total_steps=10), ValueError, "max_lr must have"),
    (lambda o: lr_scheduler.OneCycleLR(optim.Adagrad([gradcore.ones(1, requires_grad=True)]), max_lr=0.1,
                                       total_steps=10), ValueError, "momentum or beta1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: lr_scheduler.LambdaLR(o, [f1]), ValueError, "Expected 2 lr_lambdas, but got 1"),
])
def test_validation(build, exc, match):
    opt, _ = make(gradcore, "SGD", "StepLR", dict(step_size=1))
    with pytest.raises(exc, match=match):
        build(opt)
