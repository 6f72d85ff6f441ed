"""Tensor printing: repr/str must match PyTorch 2.x character for character.

Hard-coded expectations run everywhere; the parity tests print the same data with the real
PyTorch (skipped without it) under many print options, shapes, dtypes and value ranges."""
import math

import numpy as np
import pytest

import gradcore
from gradcore import _tensor_str


@pytest.fixture(autouse=True)
def default_printoptions():
    gradcore.set_printoptions(profile="default")
    yield
    gradcore.set_printoptions(profile="default")


# ---- hard-coded expectations (PyTorch 2.x output) ----

@pytest.mark.parametrize("make, expected", [
    (lambda: gradcore.tensor([1., 2., 3.]), "tensor([1., 2., 3.])"),
    (lambda: gradcore.tensor([[19, 22], [43, 50]]), "tensor([[19, 22],\n        [43, 50]])"),
    (lambda: gradcore.tensor(3.5), "tensor(3.5000)"),
    (lambda: gradcore.tensor(7), "tensor(7)"),
    (lambda: gradcore.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: gradcore.zeros(0), "tensor([])"),
    (lambda: gradcore.zeros(0, dtype=gradcore.int64), "tensor([], dtype=gradcore.int64)"),
    (lambda: gradcore.zeros(2, 0, dtype=gradcore.bool), "tensor([], size=(2, 0), dtype=gradcore.bool)"),
    (lambda: gradcore.tensor([True, False]), "tensor([ True, False])"),
    (lambda: gradcore.tensor([1.5, 2.25], dtype=gradcore.float64), "tensor([1.5000, 2.2500], dtype=gradcore.float64)"),
    (lambda: gradcore.tensor([1e-5, 1.]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: gradcore.tensor([1e9, 1.]), "tensor([1.0000e+09, 1.0000e+00])"),
    (lambda: gradcore.tensor([float("nan"), 1., float("inf")]), "tensor([nan, 1., inf])"),
    (lambda: gradcore.tensor([0., -0.]), "tensor([0., -0.])"),
    (lambda: gradcore.tensor([-1.5, float("-inf")]), "tensor([-1.5000,    -inf])"),
    (lambda: gradcore.tensor([1., 2.], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: gradcore.tensor([1., 2.], requires_grad=True) + 1, "tensor([2., 3.], grad_fn=<AddBackward0>)"),
    (lambda: gradcore.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
])
def test_known_outputs(make, expected):
    t = make()
    assert repr(t) == expected
    assert str(t) == expected


def test_summarised_matrix_and_wrapping():
    t = gradcore.arange(1200).reshape(40, 30)
    expected = ("tensor([[   0,    1,    2,  ...,   27,   28,   29],\n"
                "        [  30,   31,   32,  ...,   57,   58,   59],\n"
                "        [  60,   61,   62,  ...,   87,   88,   89],\n"
                "        ...,\n"
                "        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n"
                "        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n"
                "        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])")
    assert repr(t) == expected
    line = repr(gradcore.arange(30.))
    assert line == ("tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
                    "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
                    "        28., 29.])")


def test_suffix_wraps_to_new_line():
    t = gradcore.arange(13., dtype=gradcore.float64).requires_grad_()
    assert repr(t) == ("tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.],\n"
                       "       dtype=gradcore.float64, requires_grad=True)")


def test_set_printoptions():
    gradcore.set_printoptions(precision=2)
    assert repr(gradcore.tensor([1.12345])) == "tensor([1.12])"
    gradcore.set_printoptions(threshold=5)
    assert repr(gradcore.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    gradcore.set_printoptions(profile="default")
    assert repr(gradcore.tensor([1.12345])) == "tensor([1.1235])"
    gradcore.set_printoptions(sci_mode=True)
    assert repr(gradcore.tensor([1.5])) == "tensor([1.5000e+00])"
    gradcore.set_printoptions(sci_mode=False)
    assert repr(gradcore.tensor([1e-7, 1.])) == "tensor([0.0000, 1.0000])"
    gradcore.set_printoptions(edgeitems=0, threshold=2)
    assert repr(gradcore.arange(5)) == "tensor([...], size=(5,))"
    gradcore.set_printoptions(profile="default", linewidth=20)
    assert repr(gradcore.arange(8)) == "tensor([0, 1, 2, 3,\n        4, 5, 6, 7])"
    with pytest.raises(ValueError, match="profile"):
        gradcore.set_printoptions(profile="huge")


def test_printoptions_context_restores():
    with _tensor_str.printoptions(precision=1):
        assert repr(gradcore.tensor([0.25])) == "tensor([0.2])"
    assert repr(gradcore.tensor([0.25])) == "tensor([0.2500])"
    assert _tensor_str.get_printoptions()["precision"] == 4


def test_default_dtype_float64_names_float32():
    gradcore.set_default_dtype(gradcore.float64)
    try:
        assert repr(gradcore.tensor([1.5])) == "tensor([1.5000])"
        assert repr(gradcore.tensor([1.5], dtype=gradcore.float32)) == "tensor([1.5000], dtype=gradcore.float32)"
    finally:
        gradcore.set_default_dtype(gradcore.float32)


def test_non_contiguous_views_print_their_values():
    base = gradcore.arange(12.).reshape(3, 4)
    assert repr(base.t()) == ("tensor([[ 0.,  4.,  8.],\n        [ 1.,  5.,  9.],\n"
                              "        [ 2.,  6., 10.],\n        [ 3.,  7., 11.]])")
    assert repr(base._slice(1, 1, 4, 2)) == "tensor([[ 1.,  3.],\n        [ 5.,  7.],\n        [ 9., 11.]])"
    assert repr(gradcore.tensor([2.5]).expand(3)) == "tensor([2.5000, 2.5000, 2.5000])"


class _Sub(gradcore.Tensor):
    def __init__(self, data, requires_grad=False):
        super().__init__(data, requires_grad)


def test_subclass_prints_its_name():
    assert repr(_Sub(gradcore.tensor([1., 2.]))) == "_Sub([1., 2.])"
    assert repr(_Sub(gradcore.tensor([1., 2.]), True)) == "_Sub([1., 2.], requires_grad=True)"
    assert format(_Sub(gradcore.tensor(2.0))) == "_Sub(2.)"


def test_format_of_scalars():
    assert f"{gradcore.tensor(3.14159):.2f}" == "3.14"
    assert f"{gradcore.tensor(7):>4}" == "   7"
    assert f"{gradcore.tensor([1., 2.])}" == "tensor([1., 2.])"
    loss = gradcore.tensor([2.0], requires_grad=True).sum()
    assert f"{loss:.3f}" == "2.000"
    with pytest.raises(TypeError):
        format(gradcore.tensor([1., 2.]), ".2f")


def _slow_width(values):
    """torch's _Formatter width: every value formatted, no shortcut."""
    p = _tensor_str.PRINT_OPTS.precision
    f = _tensor_str._Formatter(values)
    flat = values.reshape(-1)
    if values.dtype.kind != "f":
        return max([1] + [len(f"{v}") for v in flat.tolist()])
    vals = flat[np.isfinite(flat) & (flat != 0)]
    if f.sci_mode:
        return max([1] + [len(f"{{:.{p}e}}".format(v)) for v in vals.tolist()])
    if f.int_mode:
        return max([1] + [len(f"{v:.0f}") + 1 for v in vals.tolist()])
    return max([1] + [len(f"{{:.{p}f}}".format(v)) for v in vals.tolist()])


def test_formatter_width_shortcut_matches_formatting_every_value():
    rng = np.random.default_rng(1)
    for trial in range(400):
        scale = 10.0 ** rng.integers(-120, 120)
        kind = trial % 4
        if kind == 0:
            a = rng.standard_normal(rng.integers(1, 30)) * scale
        elif kind == 1:
            a = np.round(rng.standard_normal(rng.integers(1, 30)) * 10.0 ** rng.integers(0, 12))
        elif kind == 2:
            a = rng.integers(-10 ** 12, 10 ** 12, size=rng.integers(1, 30))
        else:
            a = (rng.standard_normal(rng.integers(1, 30)) * 10.0 ** rng.integers(-30, 30)).astype(np.float32)
        with _tensor_str.printoptions(precision=int(rng.integers(0, 9)),
                                      sci_mode=[None, True, False][trial % 3]):
            assert _tensor_str._Formatter(a).width() == _slow_width(a), (a, trial)


# ---- parity with the real PyTorch ----

def _pair(arr, torch, requires_grad=False):
    t = torch.from_numpy(arr.copy())
    g = gradcore.tensor(arr.copy(), dtype={np.dtype(np.float32): gradcore.float32, np.dtype(np.float64): gradcore.float64,
                                           np.dtype(np.int64): gradcore.int64, np.dtype(np.bool_): gradcore.bool}[arr.dtype])
    if requires_grad:
        t.requires_grad_()
        g.requires_grad_()
    return t, g


def _expect(torch_t):
    """torch's repr with gradcore's dtype names. The names are longer (gradcore.float64 vs
    torch.float64), which moves where suffixes wrap, so torch must print them itself: its
    _tensor_str builds the suffix with the module-level name `str`, which is shadowed here."""
    import builtins
    import torch
    module = torch._tensor_str
    module.str = lambda x: builtins.str(x).replace("torch.", "gradcore.")
    try:
        return repr(torch_t)
    finally:
        del module.str


def _random_array(rng):
    ndim = int(rng.integers(0, 5))
    max_side = {0: 1, 1: 2500, 2: 45, 3: 14, 4: 7}[ndim]
    shape = tuple(int(rng.integers(0 if rng.random() < 0.05 else 1, max_side + 1)) for _ in range(ndim))
    if ndim == 1 and rng.random() < 0.6:
        shape = (int(rng.integers(1, 40)),)
    kind = rng.choice(["normal", "wide", "int_float", "int", "bool", "special", "tiny", "huge"])
    n = int(np.prod(shape))
    if kind == "int":
        return np.asarray(rng.integers(-10 ** int(rng.integers(1, 15)), 10 ** int(rng.integers(1, 15)), size=shape))
    if kind == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if kind == "normal":
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)
    elif kind == "wide":
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, size=shape)
    elif kind == "int_float":
        a = np.round(rng.standard_normal(shape) * 10.0 ** rng.integers(0, 10))
    elif kind == "tiny":
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-40, -4)
    elif kind == "huge":
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(8, 37)
    else:
        a = rng.standard_normal(shape)
        flat = a.reshape(-1)
        for v in (np.nan, np.inf, -np.inf, 0.0, -0.0):
            if n and rng.random() < 0.5:
                flat[rng.integers(0, n)] = v
    a = np.asarray(a)
    return a.astype(np.float32) if rng.random() < 0.6 else a.astype(np.float64)


def test_random_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1234)
    for trial in range(700):
        opts = {}
        if trial % 3 == 1:
            opts = dict(precision=int(rng.integers(0, 9)), threshold=int(rng.integers(1, 2000)),
                        edgeitems=int(rng.integers(0, 5)), linewidth=int(rng.integers(10, 200)),
                        sci_mode=[None, True, False][int(rng.integers(0, 3))])
        torch.set_printoptions(profile="default", **opts)
        gradcore.set_printoptions(profile="default", **opts)
        try:
            arr = _random_array(rng)
            rg = arr.dtype.kind == "f" and rng.random() < 0.3
            t, g = _pair(arr, torch, requires_grad=rg)
            assert repr(g) == _expect(t), f"trial {trial}, options {opts}, dtype {arr.dtype}, shape {arr.shape}"
        finally:
            torch.set_printoptions(profile="default")


@pytest.mark.parametrize("values", [
    [1., 2., 3.], [0.1, 0.25, 100.], [1e-4, 1.], [9.99e-5, 1.], [1e8, 1.], [1.0001e8, 1.], [1000., 1.], [1001., 1.],
    [float("nan")], [float("inf"), -float("inf")], [0., 0.], [-0.], [123456789.], [1e-30, 1e30], [2.5e-45, 1.],
    [0.99999, 9.99999], [99999.5, 0.5], [1e-310, 1.], [1e300, -1e-300], [-1.0, float("nan"), 0.5],
    [3., float("nan"), float("-inf")], [0.00015, 0.15], [1.5, -2.5, 1e5],
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hand_picked_values_match_torch(values, dtype):
    torch = pytest.importorskip("torch")
    with np.errstate(over="ignore"):  # 1e300 is inf in float32, as in torch
        arr = np.array(values, dtype=dtype)
    for shape in [arr.shape, (1,) + arr.shape, arr.shape + (1,)]:
        t, g = _pair(arr.reshape(shape), torch)
        assert repr(g) == _expect(t)
    if arr.size == 1:
        t, g = _pair(arr.reshape(()), torch)
        assert repr(g) == _expect(t)


@pytest.mark.parametrize("opts", [
    dict(precision=0), dict(precision=10), dict(threshold=0), dict(threshold=float("inf")), dict(edgeitems=0),
    dict(edgeitems=1, threshold=10), dict(linewidth=1), dict(linewidth=300), dict(profile="short"),
    dict(profile="full"), dict(sci_mode=True, precision=2), dict(sci_mode=False, precision=6),
])
def test_printoption_parity_with_torch(opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((12, 9)).astype(np.float32), rng.standard_normal((5, 4, 3)) * 1e6,
              rng.integers(-5000, 5000, size=(30, 40)), rng.random((3, 3)) < 0.5,
              np.arange(2000, dtype=np.float32), np.array(2.5, dtype=np.float32), np.zeros((0, 4), np.float32),
              rng.standard_normal((2, 2, 2, 30)).astype(np.float32)]
    torch.set_printoptions(**opts)
    gradcore.set_printoptions(**opts)
    try:
        for arr in arrays:
            t, g = _pair(arr, torch)
            assert repr(g) == _expect(t), (opts, arr.shape, arr.dtype)
            if arr.dtype.kind == "f":
                t, g = _pair(arr, torch, requires_grad=True)
                assert repr(g) == _expect(t), (opts, arr.shape, arr.dtype)
    finally:
        torch.set_printoptions(profile="default")


def test_grad_fn_and_wrapping_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for n in [1, 5, 11, 12, 13, 14, 40]:
        for dt in (np.float32, np.float64):
            arr = rng.standard_normal(n).astype(dt)
            t, g = _pair(arr, torch, requires_grad=True)
            assert repr(g * 2) == _expect(t * 2)
            assert repr(g + 1) == _expect(t + 1)
            assert repr(g) == _expect(t)


def test_default_dtype_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    torch.set_default_dtype(torch.float64)
    gradcore.set_default_dtype(gradcore.float64)
    try:
        for arr in [rng.standard_normal(4), rng.standard_normal(4).astype(np.float32), np.zeros(0),
                    np.zeros((0, 2), np.float32), np.arange(3)]:
            t, g = _pair(arr, torch)
            assert repr(g) == _expect(t)
    finally:
        torch.set_default_dtype(torch.float32)
        gradcore.set_default_dtype(gradcore.float32)


def test_non_contiguous_parity_with_torch():
    torch = pytest.importorskip("torch")
    arr = np.random.default_rng(9).standard_normal((6, 5, 4)).astype(np.float32)
    t, g = _pair(arr, torch)
    assert repr(g.permute(2, 0, 1)) == _expect(t.permute(2, 0, 1))
    assert repr(g.transpose(0, 2)._slice(0, 1, 4, 2)) == _expect(t.transpose(0, 2)[1:4:2])
    assert repr(g.select(1, 3)) == _expect(t.select(1, 3))


def test_repr_builds_no_graph_and_keeps_grad_mode():
    x = gradcore.tensor([1., 2.], requires_grad=True)
    y = x * 3
    repr(y)
    assert gradcore.is_grad_enabled()
    assert math.isclose(y.sum().item(), 9.0)
