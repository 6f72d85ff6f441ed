"""The narrow integer dtypes uint8, int8, int16, int32 (issue 17 item 4) against PyTorch: promotion
over every pair of dtypes (tensors, 0-dim tensors and Python scalars), arithmetic that wraps
around, comparisons, reductions, indexing with int32 and uint8 indices, casts both ways, NumPy
round trips without copies, safetensors round trips, and PyTorch's errors."""
import itertools

import numpy as np
import pytest

import gradcore

torch = pytest.importorskip("torch")

NARROW = ["uint8", "int8", "int16", "int32"]
ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def gc_dt(name):
    return getattr(gradcore, name)


def th_dt(name):
    return getattr(torch, name)


def same(g, t):
    assert str(g.dtype).split(".")[1] == str(t.dtype).split(".")[1], (g.dtype, t.dtype)
    assert tuple(g.shape) == tuple(t.shape)
    gv, tv = g.float().numpy() if g.dtype == gradcore.bfloat16 else g.numpy(), t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
    np.testing.assert_array_equal(gv, tv)


def values(name):
    if name == "bool":
        return [True, False, True]
    if name == "uint8":
        return [250, 3, 17]
    return [-7, 3, 100] if name not in ("float16", "bfloat16", "float32", "float64") else [-7.5, 3.25, 100.0]


@pytest.mark.parametrize("a,b", list(itertools.product(ALL, ALL)))
def test_promotion_table_over_all_pairs(a, b):
    ga, gb = gradcore.tensor(values(a), dtype=gc_dt(a)), gradcore.tensor(values(b), dtype=gc_dt(b))
    ta, tb = torch.tensor(values(a), dtype=th_dt(a)), torch.tensor(values(b), dtype=th_dt(b))
    assert str(gradcore.result_type(ga, gb)) == str(torch.result_type(ta, tb)).replace("torch", "gradcore")
    if "bool" not in (a, b):
        same(ga + gb, ta + tb)
    same(ga == gb, ta == tb)
    # a 0-dim tensor of b keeps the class of a
    g0, t0 = gradcore.tensor(values(b)[1], dtype=gc_dt(b)), torch.tensor(values(b)[1], dtype=th_dt(b))
    assert str((ga * g0).dtype).split(".")[1] == str((ta * t0).dtype).split(".")[1]


@pytest.mark.parametrize("name", NARROW)
@pytest.mark.parametrize("scalar", [3, -2, 2.5, True])
def test_python_scalars_keep_the_int_dtype_or_go_float(name, scalar):
    g, t = gradcore.tensor(values(name), dtype=gc_dt(name)), torch.tensor(values(name), dtype=th_dt(name))
    same(g + scalar, t + scalar)
    same(g * scalar, t * scalar)
    same(g / 2, t / 2)


@pytest.mark.parametrize("name", NARROW)
def test_arithmetic_wraps_around(name):
    info = torch.iinfo(th_dt(name))
    vals = [info.max, info.min, info.max - 1, 0, 1]
    g, t = gradcore.tensor(vals, dtype=gc_dt(name)), torch.tensor(vals, dtype=th_dt(name))
    for f in (lambda x: x + 1, lambda x: x - 1, lambda x: x * 3, lambda x: -x, lambda x: x + x, lambda x: x * x,
              lambda x: x // 3, lambda x: x % 3, lambda x: abs(x), lambda x: x.clamp(0, 5), lambda x: x ** 2,
              lambda x: x.maximum(x.flip(0))):
        same(f(g), f(t))
    gi, ti = g.clone(), t.clone()
    gi += 200
    ti += 200
    same(gi, ti)


@pytest.mark.parametrize("name", NARROW)
def test_comparisons_division_and_float_math(name):
    a, b = values(name), [3, 3, 4]
    g, gb = gradcore.tensor(a, dtype=gc_dt(name)), gradcore.tensor(b, dtype=gc_dt(name))
    t, tb = torch.tensor(a, dtype=th_dt(name)), torch.tensor(b, dtype=th_dt(name))
    for f in (lambda x, y: x < y, lambda x, y: x >= y, lambda x, y: x != y, lambda x, y: x == 3, lambda x, y: x / y,
              lambda x, y: x.true_divide(y), lambda x, y: gradcore.where(x > y, x, y) if isinstance(x, gradcore.Tensor)
              else torch.where(x > y, x, y)):
        same(f(g, gb), f(t, tb))
    np.testing.assert_allclose(g.sqrt().numpy(), t.sqrt().numpy(), rtol=1e-6)
    np.testing.assert_allclose(g.exp().numpy(), t.exp().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", NARROW)
def test_reductions(name):
    rng = np.random.default_rng(1)
    lo = 0 if name == "uint8" else -50
    a = rng.integers(lo, 100, (4, 5))
    g, t = gradcore.tensor(a, dtype=gc_dt(name)), torch.tensor(a, dtype=th_dt(name))
    for f in (lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.sum(0, keepdim=True), lambda x: x.prod(1),
              lambda x: x.max(), lambda x: x.amin(0), lambda x: x.argmax(1), lambda x: x.any(), lambda x: x.all(1),
              lambda x: x.max(1).values, lambda x: x.max(1).indices, lambda x: x.float().mean()):
        same(f(g), f(t))
    with pytest.raises(RuntimeError, match="could not infer output dtype"):
        g.mean()
    with pytest.raises(RuntimeError):
        torch.tensor(a, dtype=th_dt(name)).mean()


@pytest.mark.parametrize("name", NARROW)
def test_indexing_and_views(name):
    a = np.arange(24).reshape(4, 6) % 120
    g, t = gradcore.tensor(a, dtype=gc_dt(name)), torch.tensor(a, dtype=th_dt(name))
    i32 = [2, 0, 3]
    same(g[gradcore.tensor(i32, dtype=gradcore.int32)], t[torch.tensor(i32, dtype=torch.int32)])
    same(g[:, gradcore.tensor([5, 1], dtype=gradcore.int32)], t[:, torch.tensor([5, 1], dtype=torch.int32)])
    same(g[1], t[1])
    same(g[1:3, ::2], t[1:3, ::2])
    same(g[g > 10], t[t > 10])
    same(g.t().contiguous(), t.t().contiguous())
    same(gradcore.cat([g, g]), torch.cat([t, t]))
    same(gradcore.stack([g[0], g[1]]), torch.stack([t[0], t[1]]))
    gi, ti = g.clone(), t.clone()
    gi[gi > 10] = 7
    ti[ti > 10] = 7
    same(gi, ti)
    gi[0, 1] = 9
    ti[0, 1] = 9
    same(gi, ti)
    same(g.index_select(1, gradcore.tensor([0, 4])), t.index_select(1, torch.tensor([0, 4])))
    same(g.reshape(-1)[3:9].view(2, 3), t.reshape(-1)[3:9].view(2, 3))
    same(g.masked_fill(g > 5, 1), t.masked_fill(t > 5, 1))


def test_uint8_index_is_a_mask_and_other_narrow_indices_raise():
    g, t = gradcore.arange(4), torch.arange(4)
    with pytest.warns(UserWarning):
        expected = t[torch.tensor([1, 0, 1, 1], dtype=torch.uint8)]
    same(g[gradcore.tensor([1, 0, 1, 1], dtype=gradcore.uint8)], expected)
    for name in ("int8", "int16"):
        with pytest.raises(IndexError, match="long, int, byte or bool"):
            g[gradcore.tensor([1], dtype=gc_dt(name))]
        with pytest.raises(IndexError):
            t[torch.tensor([1], dtype=th_dt(name))]


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", NARROW)
def test_casts_both_ways(src, dst):
    vals = {"bool": [True, False], "uint8": [0, 255, 128]}.get(src, [-129, 127, 300, -1, 0, 65537] if src in (
        "int8", "int16", "int32", "int64") else [-1.0, 2.75, -3.5, 200.0, 0.0])
    if src in ("int8",):
        vals = [-128, 127, -1, 0]
    if src == "int16":
        vals = [-32768, 300, -1, 255]
    g, t = gradcore.tensor(vals, dtype=gc_dt(src)), torch.tensor(vals, dtype=th_dt(src))
    same(g.to(gc_dt(dst)), t.to(th_dt(dst)))
    same(g.to(gc_dt(dst)).to(gc_dt(src)), t.to(th_dt(dst)).to(th_dt(src)))


def test_cast_methods_names_and_info():
    g = gradcore.tensor([1, 2, 300])
    t = torch.tensor([1, 2, 300])
    for m in ("byte", "char", "short", "int", "long"):
        same(getattr(g, m)(), getattr(t, m)())
    assert gradcore.int is gradcore.int32 and gradcore.short is gradcore.int16
    for name in NARROW:
        d = gc_dt(name)
        assert repr(d) == f"gradcore.{name}" and not d.is_floating_point and d.itemsize == torch.iinfo(th_dt(name)).bits // 8
        gi, ti = gradcore.iinfo(d), torch.iinfo(th_dt(name))
        assert (gi.bits, gi.min, gi.max) == (ti.bits, ti.min, ti.max)
        x = gradcore.zeros(3, dtype=d)
        assert x.element_size() == torch.zeros(3, dtype=th_dt(name)).element_size()
        assert not x.is_floating_point()
        assert repr(gradcore.tensor([1, 2], dtype=d)) == repr(torch.tensor([1, 2], dtype=th_dt(name))).replace("torch", "gradcore")
    with pytest.raises(TypeError):
        gradcore.finfo(gradcore.uint8)
    for legacy, name in (("ByteTensor", "uint8"), ("CharTensor", "int8"), ("ShortTensor", "int16"), ("IntTensor", "int32")):
        same(getattr(gradcore, legacy)([1, 2]), getattr(torch, legacy)([1, 2]))
        assert getattr(gradcore, legacy)(2, 3).dtype == gc_dt(name)
        assert gradcore.zeros(2, dtype=gc_dt(name)).type() == f"gradcore.{legacy}"


@pytest.mark.parametrize("name", NARROW)
def test_creation(name):
    d, td = gc_dt(name), th_dt(name)
    same(gradcore.arange(5, dtype=d), torch.arange(5, dtype=td))
    same(gradcore.full((2,), 7, dtype=d), torch.full((2,), 7, dtype=td))
    same(gradcore.ones(2, 2, dtype=d), torch.ones(2, 2, dtype=td))
    same(gradcore.zeros_like(gradcore.ones(3, dtype=d)), torch.zeros_like(torch.ones(3, dtype=td)))
    r = gradcore.randint(0, 100, (1000,), dtype=d)
    assert r.dtype == d and int(r.min()) >= 0 and int(r.max()) < 100 and len(np.unique(r.numpy())) > 50
    same(gradcore.as_tensor([1, 2], dtype=d), torch.as_tensor([1, 2], dtype=td))


@pytest.mark.parametrize("name", NARROW)
def test_numpy_round_trip_shares_memory(name):
    a = np.arange(12, dtype=name).reshape(3, 4)
    g = gradcore.from_numpy(a)
    assert g.dtype == gc_dt(name)
    a[0, 0] = 9
    assert int(g[0, 0]) == 9
    back = g.numpy()
    assert back.dtype == np.dtype(name) and np.shares_memory(back, a)
    same(gradcore.tensor(a), torch.tensor(a))
    same(gradcore.as_tensor(a[:, ::2]), torch.as_tensor(a[:, ::2]))
    same(gradcore.tensor(a).T.contiguous(), torch.tensor(a).T.contiguous())


def test_image_path_and_dataloader():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (10, 1, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 10, 10)
    g = gradcore.from_numpy(imgs).float().div(255)
    t = torch.from_numpy(imgs).float().div(255)
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-7)
    from gradcore.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(gradcore.from_numpy(imgs), gradcore.tensor(labels))
    seen = []
    for x, y in DataLoader(ds, batch_size=4):
        assert x.dtype == gradcore.uint8 and y.dtype == gradcore.int64
        seen.append(x.numpy())
    np.testing.assert_array_equal(np.concatenate(seen), imgs)


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    sd = {name: gradcore.tensor(values(name), dtype=gc_dt(name)) for name in NARROW}
    path = str(tmp_path / "ints.safetensors")
    gradcore.save(sd, path)
    back = gradcore.load(path)
    for name in NARROW:
        assert back[name].dtype == gc_dt(name)
        np.testing.assert_array_equal(back[name].numpy(), sd[name].numpy())


def test_errors_match_pytorch():
    u = gradcore.tensor([1, 2], dtype=gradcore.uint8)
    with pytest.raises(RuntimeError):
        u.float().requires_grad_().int().requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        gradcore.tensor([1, 2], dtype=gradcore.int32, requires_grad=True)
    with pytest.raises(RuntimeError):
        u.var()
    with pytest.raises(RuntimeError):
        gradcore.tensor([2], dtype=gradcore.int16) // gradcore.tensor([0], dtype=gradcore.int16)
    with pytest.raises(RuntimeError):
        gradcore.tensor([2], dtype=gradcore.int8) ** gradcore.tensor(-1, dtype=gradcore.int8)
    with pytest.raises(TypeError):
        gradcore.from_numpy(np.zeros(2, dtype=np.uint16))
