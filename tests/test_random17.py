"""Issue 17 item 3: generators and sampling (Generator state, seeding, multinomial, randperm,
normal's overloads, bernoulli, exponential_, geometric_, random_), checked for determinism per
seed and per generator, against their distributions, against plain Python twins of the kernels,
and against PyTorch's dtypes, shapes and errors."""
import math

import numpy as np
import pytest

import gradcore as g

torch = pytest.importorskip("torch")

M64 = (1 << 64) - 1


# ---- plain twins of core/generator.h and the sampling kernels ----
def _mix(seed, counter):
    z = (seed * 0x9E3779B97F4A7C15 + counter * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _uniform(seed, counter):
    return (_mix(seed, counter) >> 11) * 2.0**-53


def _eq(a, b):
    return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype and a.tolist() == b.tolist()


def _gen(seed):
    return g.Generator().manual_seed(seed)


def _chi2(counts, expected):
    counts, expected = np.asarray(counts, float), np.asarray(expected, float)
    return float(((counts - expected) ** 2 / expected).sum())


# ---- Generator objects and the default generator ----
def test_generator_api_matches_torch():
    gen = g.Generator()
    assert gen.initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert gen.manual_seed(5) is gen and gen.initial_seed() == 5
    assert gen.device == g.device("cpu") and str(g.Generator("cpu").device) == "cpu"
    for s in (2**64 - 1, -1, -(2**63), 0):
        assert g.Generator().manual_seed(s).initial_seed() == torch.Generator().manual_seed(s).initial_seed()
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError):
            torch.Generator().manual_seed(bad)
        with pytest.raises(ValueError, match="Overflow"):
            g.Generator().manual_seed(bad)
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        g.Generator().manual_seed(1.5)
    s = gen.seed()
    assert isinstance(s, int) and gen.initial_seed() == s


def test_manual_seed_seed_initial_seed():
    assert g.manual_seed(3) is g.default_generator
    assert g.initial_seed() == 3 == g.random.initial_seed()
    assert g.manual_seed(1.9).initial_seed() == torch.manual_seed(1.9).initial_seed() == 1  # int(seed), as torch
    assert g.manual_seed("7").initial_seed() == 7
    s = g.seed()
    assert g.initial_seed() == s
    a = g.rand(4)
    g.manual_seed(s)
    assert _eq(a, g.rand(4))


def test_generator_state_roundtrip():
    gen = _gen(11)
    gen_state = gen.get_state()
    assert gen_state.dtype == g.uint8 and tuple(gen_state.shape) == (16,)
    a = g.randn(5, generator=gen)
    assert gen.set_state(gen_state) is gen
    assert _eq(a, g.randn(5, generator=gen))
    state = g.get_rng_state()
    x = g.rand(3)
    g.set_rng_state(state)
    assert _eq(x, g.rand(3))
    with pytest.raises(TypeError, match="RNG state must be a gradcore.ByteTensor"):
        gen.set_state(g.zeros(3))
    with pytest.raises(RuntimeError, match="Expected an RNG state of size 16 but found the input RNG state size to be 3"):
        gen.set_state(g.zeros(3, dtype=g.uint8))
    with pytest.raises(TypeError):
        gen.set_state([1, 2])
    with pytest.raises(TypeError):
        torch.Generator().set_state([1, 2])


def test_fork_rng_restores_the_default_stream():
    g.manual_seed(4)
    expected = g.rand(3)
    g.manual_seed(4)
    with g.random.fork_rng():
        g.manual_seed(99)
        g.randn(10)
    assert _eq(g.rand(3), expected)
    with g.random.fork_rng(enabled=False):
        pass


def test_generator_argument_type_and_device():
    with pytest.raises(TypeError, match="generator"):
        g.rand(3, generator=5)
    with pytest.raises(TypeError):
        torch.rand(3, generator=5)
    if not g.cuda.is_available():
        with pytest.raises(AssertionError, match="without CUDA"):  # gradcore's error for a missing device
            g.Generator(device="cuda")


SAMPLERS = {
    "rand": lambda gen: g.rand(6, generator=gen),
    "randn": lambda gen: g.randn(2, 3, generator=gen),
    "randint": lambda gen: g.randint(0, 50, (7,), generator=gen),
    "randperm": lambda gen: g.randperm(9, generator=gen),
    "rand_like": lambda gen: g.rand_like(g.zeros(4), generator=gen),
    "normal_tt": lambda gen: g.normal(g.zeros(3), g.ones(2, 1), generator=gen),
    "normal_tf": lambda gen: g.normal(g.zeros(5), 2.0, generator=gen),
    "normal_ft": lambda gen: g.normal(1.0, g.ones(5), generator=gen),
    "normal_ff": lambda gen: g.normal(0.0, 1.0, (4,), generator=gen),
    "multinomial": lambda gen: g.multinomial(g.tensor([1.0, 2.0, 3.0]), 8, True, generator=gen),
    "multinomial_norep": lambda gen: g.multinomial(g.tensor([[1.0, 2.0, 3.0, 4.0]]), 3, generator=gen),
    "bernoulli": lambda gen: g.bernoulli(g.full((6,), 0.5), generator=gen),
    "bernoulli_p": lambda gen: g.bernoulli(g.zeros(6), 0.3, generator=gen),
    "bernoulli_": lambda gen: g.zeros(6).bernoulli_(0.5, generator=gen),
    "bernoulli_t": lambda gen: g.zeros(6).bernoulli_(g.full((6,), 0.5), generator=gen),
    "uniform_": lambda gen: g.zeros(5).uniform_(-1, 1, generator=gen),
    "normal_": lambda gen: g.zeros(5).normal_(generator=gen),
    "exponential_": lambda gen: g.zeros(5).exponential_(2.0, generator=gen),
    "geometric_": lambda gen: g.zeros(5).geometric_(0.3, generator=gen),
    "random_": lambda gen: g.zeros(5).random_(3, 40, generator=gen),
}


CONTINUOUS = {"rand", "randn", "rand_like", "normal_tt", "normal_tf", "normal_ft", "normal_ff", "uniform_", "normal_",
              "exponential_"}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_determinism_per_generator_and_isolation(name):
    draw = SAMPLERS[name]
    a, b = draw(_gen(7)), draw(_gen(7))
    assert _eq(a, b), name
    if name in CONTINUOUS:
        assert not _eq(draw(_gen(7)), draw(_gen(8)))
    # a private generator leaves the default stream and other generators alone
    g.manual_seed(1)
    ref = g.rand(8)
    other = _gen(3)
    ref_other = g.rand(8, generator=other)
    g.manual_seed(1)
    other = _gen(3)
    draw(_gen(7))
    assert _eq(g.rand(8), ref)
    assert _eq(g.rand(8, generator=other), ref_other)
    # and the default generator is used (and advanced) when none is given
    g.manual_seed(2)
    first = draw(None)
    g.manual_seed(2)
    assert _eq(first, draw(None))


def test_strided_fill_draws_row_major_values():
    t = g.zeros(3, 4).t()
    t.exponential_(generator=_gen(5))
    c = g.zeros(4, 3).exponential_(generator=_gen(5))
    assert _eq(t, c)


# ---- the kernels against plain Python twins (same counters) ----
def test_randperm_matches_fisher_yates_twin():
    seed, n = 1234, 37
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = _mix(seed, i) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    assert g.randperm(n, generator=_gen(seed)).tolist() == perm


def test_multinomial_matches_twins():
    seed = 77
    w = np.array([[0.5, 0.0, 2.0, 1.5, 0.25], [1.0, 1.0, 0.0, 3.0, 0.0]])
    rows, C = w.shape
    k = 9
    got = g.multinomial(g.tensor(w), k, True, generator=_gen(seed)).numpy()
    for r in range(rows):
        cdf = np.cumsum(w[r])
        want = [min(int(np.searchsorted(cdf, _uniform(seed, r * k + s) * cdf[-1], side="right")),
                    int(np.nonzero(w[r])[0][-1])) for s in range(k)]
        assert got[r].tolist() == want
    k = 4
    got = g.multinomial(g.tensor(w), k, False, generator=_gen(seed)).numpy()
    for r in range(rows):
        keys = [math.log1p(-_uniform(seed, r * C + c)) / w[r, c] if w[r, c] > 0 else -math.inf for c in range(C)]
        want = sorted(range(C), key=lambda c: (-keys[c], c))[:k]
        assert got[r].tolist() == want


def test_exponential_matches_twin():
    seed = 9
    got = g.zeros(6, dtype=g.float64).exponential_(0.5, generator=_gen(seed)).tolist()
    want = [-math.log1p(-_uniform(seed, i)) / 0.5 for i in range(6)]
    np.testing.assert_allclose(got, want, rtol=1e-15)


# ---- distributions ----
def test_multinomial_with_replacement_frequencies():
    p = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    n = 20000
    s = g.multinomial(g.tensor(p), n, replacement=True, generator=_gen(0)).numpy()
    counts = np.bincount(s, minlength=5)
    assert counts[4] == 0
    assert _chi2(counts[:4], n * p[:4] / p.sum()) < 25.0  # df 3: p < 1e-4 for a correct sampler


def test_multinomial_without_replacement():
    p = np.array([1.0, 2.0, 3.0, 4.0])
    n = 8000
    s = g.multinomial(g.tensor(p).expand(n, 4).contiguous(), 2, generator=_gen(1)).numpy()
    assert (s[:, 0] != s[:, 1]).all()
    assert _chi2(np.bincount(s[:, 0], minlength=4), n * p / p.sum()) < 25.0
    # second pick given the first is 0: p[1:] renormalised
    second = s[s[:, 0] == 0, 1]
    assert _chi2(np.bincount(second, minlength=4)[1:], len(second) * p[1:] / p[1:].sum()) < 22.0
    full = g.multinomial(g.tensor([0.0, 5.0, 0.0, 1.0]), 4, generator=_gen(2)).tolist()
    assert sorted(full) == [0, 1, 2, 3] and sorted(full[:2]) == [1, 3]  # zero weights come last


def test_randperm_is_uniform():
    counts = {}
    gen = _gen(3)
    for _ in range(4800):
        key = tuple(g.randperm(4, generator=gen).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    assert _chi2(list(counts.values()), [200] * 24) < 60.0  # df 23


def test_continuous_fills_moments():
    gen = _gen(4)
    e = g.empty(200000, dtype=g.float64).exponential_(2.0, generator=gen).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.006 and abs(e.var() - 0.25) < 0.01
    geo = g.empty(200000).geometric_(0.25, generator=gen).numpy()
    assert geo.min() >= 1 and (geo == np.round(geo)).all()
    assert abs(geo.mean() - 4.0) < 0.05 and abs(geo.var() - 12.0) < 0.4
    mean = g.tensor([[-2.0], [3.0]], dtype=g.float64)
    std = g.tensor([0.5, 1.0, 2.0], dtype=g.float64)
    x = g.normal(mean.expand(2, 3), std, generator=gen)
    assert tuple(x.shape) == (2, 3)
    big = g.normal(g.full((100000,), 3.0, dtype=g.float64), 2.0, generator=gen).numpy()
    assert abs(big.mean() - 3.0) < 0.03 and abs(big.std() - 2.0) < 0.03
    big = g.normal(-1.0, g.full((100000,), 0.5, dtype=g.float64), generator=gen).numpy()
    assert abs(big.mean() + 1.0) < 0.01 and abs(big.std() - 0.5) < 0.01
    z = g.normal(g.zeros(3), g.zeros(3), generator=gen)
    assert z.tolist() == [0.0, 0.0, 0.0]


def test_bernoulli_and_random_frequencies():
    gen = _gen(5)
    p = g.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=g.float64)
    draws = g.bernoulli(p.expand(40000, 5).contiguous(), generator=gen).numpy()
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(0), p.numpy(), atol=0.012)
    assert draws[:, 0].sum() == 0 and draws[:, 4].all()
    assert abs(g.zeros(40000).bernoulli_(0.3, generator=gen).mean().item() - 0.3) < 0.012
    r = g.empty(70000, dtype=g.int64).random_(3, 10, generator=gen).numpy()
    assert r.min() == 3 and r.max() == 9
    assert _chi2(np.bincount(r - 3, minlength=7), [10000] * 7) < 30.0  # df 6
    r = g.empty(10000).random_(generator=gen).numpy()
    assert r.min() >= 0 and r.max() <= 2**24 and (r == np.round(r)).all()
    assert set(g.empty(100, dtype=g.bool).random_(generator=gen).tolist()) == {False, True}
    r = g.empty(1000, dtype=g.int64).random_(5, generator=gen).numpy()
    assert r.min() == 0 and r.max() == 4


# ---- dtypes, shapes and autograd against torch ----
RESULTS = [
    (lambda m: m.multinomial(m.tensor([1.0, 2.0]), 3, True), None),
    (lambda m: m.multinomial(m.ones(3, 4, dtype=m.float64), 2), None),
    (lambda m: m.multinomial(m.ones(0, 4), 2), None),
    (lambda m: m.randperm(5), None),
    (lambda m: m.randperm(0), None),
    (lambda m: m.randperm(5, dtype=m.float32), None),
    (lambda m: m.normal(m.zeros(3), m.ones(3, 1, dtype=m.float64)), None),
    (lambda m: m.normal(m.zeros(2, dtype=m.float64), 2.0), None),
    (lambda m: m.normal(1.0, m.ones(4, 1)), None),
    (lambda m: m.normal(0.0, 1.0, (2, 3)), None),
    (lambda m: m.normal(0.0, 1.0, size=(2,), dtype=m.float64), None),
    (lambda m: m.normal(m.zeros(2)), None),
    (lambda m: m.bernoulli(m.full((2, 2), 0.5, dtype=m.float64)), None),
    (lambda m: m.bernoulli(m.zeros(3, dtype=m.int64), 0.5), None),
    (lambda m: m.zeros(3, dtype=m.int64).bernoulli_(0.5), None),
    (lambda m: m.zeros(3, dtype=m.int64).geometric_(0.5), None),
    (lambda m: m.zeros(3).random_(7), None),
    (lambda m: m.zeros(2, 2, dtype=m.float64).exponential_(), None),
    (lambda m: m.ones(2, 3).multinomial(2), None),
    (lambda m: m.full((3,), 0.5).bernoulli(), None),
]


@pytest.mark.parametrize("i", range(len(RESULTS)))
def test_result_dtype_and_shape_match_torch(i):
    fn = RESULTS[i][0]
    a, b = fn(g), fn(torch)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)


@pytest.mark.parametrize("make", [
    lambda m, x: m.normal(x, 1.0),
    lambda m, x: m.normal(0.0, x.abs() + 1),
    lambda m, x: m.normal(x, x.abs()),
    lambda m, x: m.bernoulli(x.sigmoid()),
])
def test_gradient_is_zero_as_torch(make):
    a = np.array([0.3, -0.2, 0.8])
    xg = g.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    yg, yt = make(g, xg), make(torch, xt)
    assert yg.requires_grad and type(yt.grad_fn).__name__.startswith(yg.grad_fn.name())
    yg.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())


ERRORS = [
    lambda m: m.multinomial(m.tensor([-1.0, 1.0]), 1),
    lambda m: m.multinomial(m.tensor([float("inf"), 1.0]), 1),
    lambda m: m.multinomial(m.tensor([float("nan"), 1.0]), 1),
    lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
    lambda m: m.multinomial(m.tensor([[1.0, 1.0], [0.0, 0.0]]), 1, True),
    lambda m: m.multinomial(m.tensor([0.0, 1.0]), 3),
    lambda m: m.multinomial(m.tensor([0.0, 1.0]), 0),
    lambda m: m.multinomial(m.tensor([0.0, 1.0]), -2, True),
    lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    lambda m: m.multinomial(m.tensor(1.0), 1),
    lambda m: m.multinomial(m.tensor([1, 2]), 1),
    lambda m: m.multinomial(m.ones(0), 1),
    lambda m: m.randperm(-1),
    lambda m: m.randperm(3000, dtype=m.float16),
    lambda m: m.randperm(3, dtype=m.bool),
    lambda m: m.normal(m.zeros(3), -1.0),
    lambda m: m.normal(0.0, m.tensor([1.0, -1.0])),
    lambda m: m.normal(0.0, -1.0, (2,)),
    lambda m: m.normal(m.zeros(3, dtype=m.int64), 1.0),
    lambda m: m.normal(m.zeros(2), m.ones(3)),
    lambda m: m.bernoulli(m.tensor([0.5, 2.0])),
    lambda m: m.bernoulli(m.tensor([0.5, float("nan")])),
    lambda m: m.bernoulli(m.tensor([1, 0])),
    lambda m: m.bernoulli(m.zeros(3), 1.5),
    lambda m: m.zeros(3).bernoulli_(-0.3),
    lambda m: m.zeros(3).bernoulli_(m.tensor([0.1, 2.0, 0.3])),
    lambda m: m.zeros(3).exponential_(0),
    lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    lambda m: m.zeros(3).geometric_(1.0),
    lambda m: m.zeros(3).random_(5, 2),
    lambda m: m.zeros(3).random_(-5),
    lambda m: m.zeros(3, dtype=m.bool).random_(0, 3),
    lambda m: m.zeros(3, requires_grad=True).exponential_(),
    lambda m: m.zeros(3, requires_grad=True).random_(4),
]
EXACT = {0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17, 24, 26, 28, 29, 30, 31}  # messages PyTorch's own


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch)
    with pytest.raises(Exception) as ge:
        ERRORS[i](g)
    assert type(ge.value) is type(te.value), (ge.value, te.value)
    if i in EXACT:
        assert str(te.value).split("\n")[0].split(" (")[0] in str(ge.value)
