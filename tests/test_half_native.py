"""Issue 16: softmax / log_softmax, the class losses, the optimizer updates and the reductions
(max/min and their arg forms, var/std, norm, prod, any/all) read and write
bfloat16 / float16 themselves (float32 opmath: each value read as float, the float32 kernel's
arithmetic, one rounding on every 16-bit store). The bar is bit equality with the widening path
they replaced, which is the float32 kernel on the widened values followed by one rounding:

* where the float32 op's output is the whole story (forwards, the class-loss backwards, which
  rebuild softmax from the logits), the reference is the float32 op on ``x.float()`` rounded once;
* where a backward reads a saved 16-bit output (softmax's), the float32 op cannot be fed that
  output, so the reference is the widening path itself (``gradcore._C._force_half_widening``
  makes every kernel take float32 twins of its 16-bit arguments, as before the native kernels);
* optimizer steps are replayed in float32 one step at a time, each step's parameter and state
  rounded to the 16-bit dtype before the next, which is what a 16-bit optimizer stores.

Values are compared as float32 bit patterns (a 16-bit value widens exactly), so signed zeros
count too; a NaN only has to be a NaN where the reference has one (its sign bit comes from which
operand of a commutative operation the compiler put first, or whether it folded a negation into a
product, which can differ between instantiations of the same float code: x86's default NaN is
negative)."""
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as F

HALVES = [gradcore.bfloat16, gradcore.float16]


def bits(t):
    """float32 bit patterns of t's values, every NaN made the same quiet NaN."""
    a = t.detach().float().numpy().copy()
    a[np.isnan(a)] = np.nan
    return a.view(np.uint32)


def assert_same(got, want, msg=""):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(bits(got), bits(want), err_msg=msg)


@contextlib.contextmanager
def widening():
    gradcore._C._force_half_widening(True)
    try:
        yield
    finally:
        gradcore._C._force_half_widening(False)


def rand(shape, dtype, scale=3.0, seed=0, specials=False):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * scale).astype(np.float32)
    if specials and a.size >= 8:
        flat = a.reshape(-1)
        flat[1] = np.inf
        flat[5] = -np.inf
        flat[-2] = np.nan
    return gradcore.tensor(a).to(dtype)


# ------------------------------------------------------------------------------------ softmax

SOFTMAX_CASES = [
    ((7, 13), 1),          # odd class count: the SIMD loop's scalar tail
    ((4, 1000), 1),
    ((3, 2051), -1),       # past the float block of 512
    ((5, 9, 6), 1),        # class dim not last: tiles
    ((2, 300, 70), 1),     # past kFlush classes, a short second tile
    ((6, 11), 0),
    ((1, 1), 1),
    ((0, 5), 1),
]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES)
def test_softmax_forward_and_backward(dtype, log, shape, dim):
    fn = F.log_softmax if log else F.softmax
    x = rand(shape, dtype, seed=len(shape) + shape[-1])
    g = rand(shape, dtype, scale=1.0, seed=7)
    xr = x.clone().requires_grad_(True)
    y = fn(xr, dim)
    y.backward(g)
    assert_same(y, fn(x.float(), dim).to(dtype))
    with widening():
        xw = x.clone().requires_grad_(True)
        yw = fn(xw, dim)
        yw.backward(g)
    assert_same(y, yw)
    assert_same(xr.grad, xw.grad)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_non_contiguous_and_specials(dtype, log):
    fn = F.log_softmax if log else F.softmax
    base = rand((40, 66), dtype, scale=20.0, seed=3, specials=True)
    base[7] = float("-inf")                      # a row of -inf: NaN throughout, as in PyTorch
    base[9, :] = 0.0
    base[9, 4] = float("inf")
    for x, dim in [(base.t(), 0), (base.t(), 1), (base[:, ::3], 1), (base[::2, 1:], 0)]:
        g = rand(tuple(x.shape), dtype, scale=1.0, seed=11)
        xr = x.detach().requires_grad_(True)
        y = fn(xr, dim)
        y.backward(g)
        assert_same(y, fn(x.float(), dim).to(dtype))
        with widening():
            xw = x.detach().requires_grad_(True)
            yw = fn(xw, dim)
            yw.backward(g)
        assert_same(xr.grad, xw.grad)


# ------------------------------------------------------------------------------- class losses

def _ce_case(dtype, shape, prob, seed):
    rng = np.random.default_rng(seed)
    x = rand(shape, dtype, scale=4.0, seed=seed)
    C = shape[1]
    tshape = (shape[0],) + tuple(shape[2:])
    if prob:
        t = gradcore.tensor(rng.dirichlet(np.ones(C), size=int(np.prod(tshape))).astype(np.float32))
        t = t.reshape(*tshape, C)
        if len(shape) > 2:
            t = t.permute(0, t.dim() - 1, *range(1, t.dim() - 1))
        t = t.contiguous().to(dtype)
    else:
        t = gradcore.tensor(rng.integers(0, C, tshape).astype(np.int64))
    return x, t


def _ce_grads(x, t, w, prob_grad_t, **kw):
    xr = x.clone().requires_grad_(True)
    args = {}
    tr = t
    if prob_grad_t:
        tr = t.clone().requires_grad_(True)
    wr = w
    loss = F.cross_entropy(xr, tr, weight=wr, **kw)
    g = gradcore.ones_like(loss) if loss.dim() == 0 else rand(tuple(loss.shape), loss.dtype, scale=1.0, seed=5)
    loss.backward(g)
    args["loss"] = loss
    args["gx"] = xr.grad
    if prob_grad_t:
        args["gt"] = tr.grad
    return args, g


CE_SHAPES = [(9, 13), (8, 1000), (5, 7, 3), (4, 6, 70)]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_index_targets(dtype, shape, reduction, smoothing, weighted):
    x, t = _ce_case(dtype, shape, False, seed=shape[1])
    flat = t.reshape(-1)
    flat[1] = -100
    flat[2] = 3
    t = flat.reshape(*t.shape)
    x[0] = 0.0
    x[1, 2] = float("inf")  # an ignored row's infinities stay out of the loss
    w = rand((shape[1],), dtype, scale=1.0, seed=9).abs() if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100)
    got, g = _ce_grads(x, t, w, False, **kw)
    x32 = x.float().requires_grad_(True)
    loss32 = F.cross_entropy(x32, t, weight=None if w is None else w.float(), **kw)
    loss32.backward(g.float())
    assert_same(got["loss"], loss32.to(dtype))
    assert_same(got["gx"], x32.grad.to(dtype))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets(dtype, shape, reduction, smoothing, weighted):
    x, t = _ce_case(dtype, shape, True, seed=shape[1] + 1)
    w = rand((shape[1],), dtype, scale=1.0, seed=4).abs() if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    xr, tr = x.clone().requires_grad_(True), t.clone().requires_grad_(True)
    wr = None if w is None else w.clone().requires_grad_(True)
    loss = F.cross_entropy(xr, tr, weight=wr, **kw)
    g = gradcore.ones_like(loss) if loss.dim() == 0 else rand(tuple(loss.shape), dtype, scale=1.0, seed=5)
    loss.backward(g)
    x32, t32 = x.float().requires_grad_(True), t.float().requires_grad_(True)
    w32 = None if w is None else w.float().requires_grad_(True)
    loss32 = F.cross_entropy(x32, t32, weight=w32, **kw)
    loss32.backward(g.float())
    assert_same(loss, loss32.to(dtype))
    assert_same(xr.grad, x32.grad.to(dtype))
    assert_same(tr.grad, t32.grad.to(dtype))
    if w is not None:
        assert_same(wr.grad, w32.grad.to(dtype))


@pytest.mark.parametrize("dtype", HALVES)
def test_cross_entropy_non_contiguous_and_nan(dtype):
    x = rand((30, 17), dtype, scale=5.0, seed=1, specials=True).t()  # [17, 30], strided
    t = gradcore.tensor(np.arange(17) % 30)
    xr = x.detach().requires_grad_(True)
    loss = F.cross_entropy(xr, t, reduction="none")
    loss.backward(gradcore.ones_like(loss))
    x32 = x.float().requires_grad_(True)
    loss32 = F.cross_entropy(x32, t, reduction="none")
    loss32.backward(gradcore.ones_like(loss32))
    assert np.isnan(loss.detach().float().numpy()).any()
    assert_same(loss, loss32.to(dtype))
    assert_same(xr.grad, x32.grad.to(dtype))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape", [(9, 13), (5, 7, 3)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(dtype, shape, reduction, weighted):
    x, t = _ce_case(dtype, shape, False, seed=2)
    flat = t.reshape(-1)
    flat[0] = 1
    flat[3] = 1   # a class twice
    flat[4] = -1  # ignore_index below
    t = flat.reshape(*t.shape)
    w = rand((shape[1],), dtype, scale=1.0, seed=9).abs() if weighted else None
    kw = dict(reduction=reduction, ignore_index=-1)
    xr = x.clone().requires_grad_(True)
    loss = F.nll_loss(xr, t, weight=w, **kw)
    g = gradcore.ones_like(loss) if loss.dim() == 0 else rand(tuple(loss.shape), dtype, scale=1.0, seed=5)
    loss.backward(g)
    x32 = x.float().requires_grad_(True)
    loss32 = F.nll_loss(x32, t, weight=None if w is None else w.float(), **kw)
    loss32.backward(g.float())
    assert_same(loss, loss32.to(dtype))
    assert_same(xr.grad, x32.grad.to(dtype))


# --------------------------------------------------------------------------------- optimizers

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, dampening=0.0)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
]


def _state_tensors(opt, p):
    return {k: v for k, v in opt.state[p].items() if k != "step" and hasattr(v, "dtype")}


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_steps(dtype, name, kw):
    n = 40_000 + 3  # past the parallel grain, odd
    p16 = gradcore.nn.Parameter(rand((n,), dtype, scale=1.0, seed=1))
    grads = [rand((n,), dtype, scale=0.5 * (k + 1), seed=10 + k, specials=(k == 3)) for k in range(5)]
    opt16 = getattr(gradcore.optim, name)([p16], **kw)
    # the float32 replay: p and the state rounded to the 16-bit dtype before every step
    p32 = gradcore.nn.Parameter(p16.detach().float())
    opt32 = getattr(gradcore.optim, name)([p32], **kw)
    for k, g in enumerate(grads):
        p16.grad = g
        opt16.step()
        with gradcore.no_grad():
            p32.copy_(p32.to(dtype).float())
            for key, v in _state_tensors(opt32, p32).items():
                v.copy_(v.to(dtype).float())
        p32.grad = g.float()
        opt32.step()
        assert_same(p16, p32.detach().to(dtype), f"param after step {k}")
        s16, s32 = _state_tensors(opt16, p16), _state_tensors(opt32, p32)
        assert s16.keys() == s32.keys()
        for key in s16:
            assert s16[key].dtype == dtype
            assert_same(s16[key], s32[key].to(dtype), f"{key} after step {k}")


@pytest.mark.parametrize("dtype", HALVES)
def test_amp_unscale(dtype):
    # GradScaler refuses float16 gradients (as PyTorch does) but the kernel takes both.
    for bad in (None, float("inf"), float("nan")):
        g = rand((1001,), dtype, scale=1000.0, seed=3)
        if bad is not None:
            g[17] = bad
        want = g.float()
        found32 = gradcore.zeros((), dtype=gradcore.float32)
        gradcore._C._amp_unscale_([want], found32, 2.0 ** -10 / 3)
        found = gradcore.zeros((), dtype=gradcore.float32)
        gradcore._C._amp_unscale_([g], found, 2.0 ** -10 / 3)
        assert_same(g, want.to(dtype))
        assert found.item() == found32.item() == (0.0 if bad is None else 1.0)


# --------------------------------------------------------------------------------- reductions

def _reduce_inputs(dtype):
    x = rand((37, 70), dtype, scale=2.0, seed=21)
    xs = rand((37, 70), dtype, scale=2.0, seed=22, specials=True)  # inf, -inf and a NaN
    ties = gradcore.tensor(np.random.default_rng(3).integers(-2, 3, (37, 70)).astype(np.float32)).to(dtype)
    return [x, xs, ties, x.t(), x[:, 1::3], rand((5, 6, 7), dtype, seed=4).permute(2, 0, 1),
            rand((3000,), dtype, scale=0.5, seed=5)]


REDUCTIONS = {
    "amax": lambda x, d: x.amax() if d is None else x.amax(d),
    "amin": lambda x, d: x.amin() if d is None else x.amin(d, keepdim=True),
    "max_values": lambda x, d: x.max() if d is None else x.max(d)[0],
    "min_values": lambda x, d: x.min() if d is None else x.min(d)[0],
    "argmax": lambda x, d: x.argmax() if d is None else x.argmax(d),
    "argmin": lambda x, d: x.argmin() if d is None else x.argmin(d),
    "var": lambda x, d: x.var() if d is None else x.var(d),
    "std": lambda x, d: x.std() if d is None else x.std(d, correction=0),
    "norm2": lambda x, d: x.norm() if d is None else x.norm(2, d),
    "norm1": lambda x, d: x.norm(1) if d is None else x.norm(1, d),
    "norm_inf": lambda x, d: x.norm(float("inf")) if d is None else x.norm(float("inf"), d),
    "norm_3.5": lambda x, d: x.norm(3.5) if d is None else x.norm(3.5, d),
    "prod": lambda x, d: x.prod() if d is None else x.prod(d),
    "any": lambda x, d: x.any() if d is None else x.any(d),
    "all": lambda x, d: x.all() if d is None else x.all(d),
}


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions(dtype, name):
    fn = REDUCTIONS[name]
    for x in _reduce_inputs(dtype):
        if name == "prod":
            x = x * 0.125 + 1  # products that stay finite (in the 16-bit dtype, before both runs)
        for d in [None] + list(range(x.dim())):
            got = fn(x, d)
            want = fn(x.float(), d)
            if want.dtype == gradcore.float32:
                want = want.to(dtype)
            if got.dtype in (gradcore.int64, gradcore.bool):
                np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{name} dim={d}")
            else:
                assert_same(got, want, f"{name} dim={d}")


@pytest.mark.parametrize("dtype", HALVES)
def test_prod_and_max_backward(dtype):
    x = rand((9, 11), dtype, scale=1.0, seed=8)
    x[2, 3] = 0.0             # one zero in a row
    x[4, 1] = x[4, 7] = 0.0   # two zeros in a row
    for op in ("prod", "max", "min"):
        for d in (0, 1):
            xr = x.clone().requires_grad_(True)
            out = xr.prod(d) if op == "prod" else getattr(xr, op)(d)[0]
            g = rand(tuple(out.shape), dtype, scale=1.0, seed=d)
            out.backward(g)
            x32 = x.float().requires_grad_(True)
            out32 = x32.prod(d) if op == "prod" else getattr(x32, op)(d)[0]
            out32.backward(g.float())
            assert_same(xr.grad, x32.grad.to(dtype), f"{op} dim={d}")


# ------------------------------------------------------------------------------------- ISAs

@pytest.mark.skipif(os.environ.get("GRADCORE_HALF_NATIVE_ISA_RUN") == "1", reason="inside the ISA run")
def test_same_on_every_isa():
    # The 16-bit conversions and the optimizer bodies run loops compiled for the widest vectors
    # the CPU has; every forced ISA must pass the same checks (no FMA anywhere, so the bits agree).
    here = os.path.dirname(__file__)
    for isa in ("baseline", "avx2"):
        env = dict(os.environ, GRADCORE_CPU_ISA=isa, GRADCORE_HALF_NATIVE_ISA_RUN="1")
        env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(gradcore.__file__)),
                                             env.get("PYTHONPATH", "")])
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__,
                              "-k", "not every_isa"], env=env, cwd=here, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"GRADCORE_CPU_ISA={isa}\n" + run.stdout[-4000:] + run.stderr[-2000:]
