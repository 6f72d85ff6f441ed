"""gradcore.utils.data: datasets, samplers, collation and the DataLoader (single and multi-process)."""
import collections
import gc
import math
import os
import signal
import sys
import time
import warnings

import numpy as np
import pytest

import gradcore
from gradcore.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                 RandomSampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                                 WeightedRandomSampler, default_collate, default_convert, get_worker_info,
                                 random_split)
from helpers import to_np

Point = collections.namedtuple("Point", ["x", "y"])


class TensorLeaf:
    """A batch's tensor as (dtype name, values), comparable with ==."""

    def __init__(self, dtype, array):
        self.dtype, self.array = dtype, array

    def __eq__(self, other):
        return (isinstance(other, TensorLeaf) and self.dtype == other.dtype
                and self.array.shape == other.array.shape and np.array_equal(self.array, other.array))

    def __repr__(self):
        return f"TensorLeaf({self.dtype}, {self.array!r})"


def to_nested_np(b):
    """A batch with every tensor replaced by a TensorLeaf, containers kept."""
    if isinstance(b, gradcore.Tensor):
        return TensorLeaf(str(b.dtype), b.numpy().copy())
    if isinstance(b, dict):
        return type(b)((k, to_nested_np(v)) for k, v in b.items())
    if isinstance(b, tuple) and hasattr(b, "_fields"):
        return type(b)(*(to_nested_np(v) for v in b))
    if isinstance(b, (list, tuple)):
        return type(b)(to_nested_np(v) for v in b)
    return b


def batches_np(loader):
    return [to_nested_np(b) for b in loader]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert_nested_equal(x, y)


def assert_nested_equal(x, y):
    assert type(x) is type(y), (type(x), type(y))
    if isinstance(x, dict):
        assert list(x) == list(y)
        for k in x:
            assert_nested_equal(x[k], y[k])
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            assert_nested_equal(u, v)
    else:
        assert x == y, (x, y)


def xy(n=10, feat=3):
    x = gradcore.arange(n * feat, dtype=gradcore.float32).reshape(n, feat)
    return x, gradcore.arange(n)


class DictDataset(Dataset):
    """Samples of mixed types, as a user's own dataset returns them."""

    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, dtype=np.float32), "label": i % 3, "w": i / 7, "name": f"s{i}"}


class FailingDataset(Dataset):
    def __init__(self, bad=5, exc=ValueError, n=20, delay=0.0):
        self.bad, self.exc, self.n, self.delay = bad, exc, n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay:
            time.sleep(self.delay)
        if i == self.bad:
            raise self.exc(f"bad sample {i}")
        return gradcore.tensor([float(i)])


class WorkerIdDataset(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id, "init": _INIT_MARK.get("id", -1),
                "r": gradcore.rand(()).item()}


_INIT_MARK = {}


def mark_init(worker_id):
    _INIT_MARK["id"] = worker_id


class Stream(IterableDataset):
    def __init__(self, n, shard=False):
        self.n, self.shard = n, shard

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if self.shard and info is not None:
            return iter(range(info.id, self.n, info.num_workers))
        return iter(range(self.n))


def gone(pid):
    """True once the process is reaped: no zombie left in the process table."""
    return not os.path.exists(f"/proc/{pid}")


needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to look for zombies")


# ---- datasets ----

def test_tensor_dataset_items_and_len():
    x, y = xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    a, b = ds[3]
    np.testing.assert_array_equal(a.numpy(), [9, 10, 11])
    assert b.item() == 3 and b.dim() == 0
    np.testing.assert_array_equal(ds[-1][0].numpy(), [27, 28, 29])
    np.testing.assert_array_equal(ds[np.int64(2)][0].numpy(), [6, 7, 8])
    with pytest.raises(IndexError):
        ds[10]


def test_tensor_dataset_errors():
    with pytest.raises(AssertionError, match="Size mismatch between tensors.*\\[4, 5\\]"):
        TensorDataset(gradcore.zeros(4, 2), gradcore.zeros(5))
    with pytest.raises(AssertionError, match="0-dimensional"):
        TensorDataset(gradcore.zeros(3), gradcore.tensor(1.0))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(gradcore.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_subset_concat_chain():
    ds = TensorDataset(gradcore.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7 and sub[-1][0].item() == 5
    assert [s[0].item() for s in sub.__getitems__([2, 0])] == [5, 7]
    cat = ds + TensorDataset(gradcore.arange(100, 103))
    assert isinstance(cat, ConcatDataset) and len(cat) == 13 and cat.cumulative_sizes == [10, 13]
    assert [cat[i][0].item() for i in (0, 9, 10, 12, -1, -13)] == [0, 9, 100, 102, 102, 0]
    with pytest.raises(IndexError, match="out of range"):
        cat[13]
    with pytest.raises(ValueError, match="out of range"):
        cat[-14]
    with pytest.raises(AssertionError, match="empty"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="IterableDataset"):
        ConcatDataset([Stream(3)])
    chain = Stream(3) + Stream(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5


def test_subset_subclass_must_override_getitems():
    class Bad(Subset):
        def __getitem__(self, i):
            return 0

    with pytest.raises(NotImplementedError, match="__getitems__"):
        Bad(range(3), [0])


# ---- random_split ----

@pytest.mark.parametrize("n,fracs", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1]),
                                     (5, [0.1, 0.9]), (3, [1 / 3] * 3)])
def test_random_split_fraction_rounding_matches_torch_rule(n, fracs):
    parts = random_split(range(n), fracs, generator=gradcore.Generator().manual_seed(0))
    sizes = [int(math.floor(n * f)) for f in fracs]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    assert [len(p) for p in parts] == sizes
    assert sorted(i for p in parts for i in p) == list(range(n))
    torch = pytest.importorskip("torch")
    ref = torch.utils.data.random_split(range(n), fracs, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in ref]


def test_random_split_ints_reproducible_and_disjoint():
    a = random_split(range(20), [5, 15], generator=gradcore.Generator().manual_seed(3))
    b = random_split(range(20), [5, 15], generator=gradcore.Generator().manual_seed(3))
    c = random_split(range(20), [5, 15], generator=gradcore.Generator().manual_seed(4))
    assert [list(p) for p in a] == [list(p) for p in b] != [list(p) for p in c]
    assert sorted(list(a[0]) + list(a[1])) == list(range(20))
    gradcore.manual_seed(9)
    d = random_split(range(20), [10, 10])
    gradcore.manual_seed(9)
    assert [list(p) for p in random_split(range(20), [10, 10])] == [list(p) for p in d]


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])


# ---- samplers ----

def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    bs = BatchSampler(SequentialSampler(range(10)), 3, False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and len(bs) == 4
    bs = BatchSampler(SequentialSampler(range(10)), 3, True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(bs) == 3
    assert list(BatchSampler(range(6), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 1)


def test_random_sampler_permutations_and_reproducibility():
    g = gradcore.Generator().manual_seed(1)
    s = RandomSampler(range(50), generator=g)
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(50)) and e1 != e2
    g.manual_seed(1)
    assert list(s) == e1
    gradcore.manual_seed(5)
    a = list(RandomSampler(range(30)))
    gradcore.manual_seed(5)
    assert list(RandomSampler(range(30))) == a
    over = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(over) == 10 and sorted(over[:4]) == sorted(over[4:8]) == [0, 1, 2, 3]
    rep = list(RandomSampler(range(5), replacement=True, num_samples=70, generator=g))
    assert len(rep) == 70 and set(rep) <= set(range(5)) and len(set(rep)) == 5
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(0))
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


def test_permutations_are_uniform():
    # 6000 shuffles of 3 items: each of the 6 orders ~1000 times (sd ~ 29); 5 sd bounds.
    g = gradcore.Generator().manual_seed(0)
    counts = collections.Counter(tuple(RandomSampler(range(3), generator=g)) for _ in range(6000))
    assert len(counts) == 6 and all(abs(c - 1000) < 150 for c in counts.values())


def test_subset_random_sampler():
    g = gradcore.Generator().manual_seed(2)
    s = SubsetRandomSampler([10, 20, 30, 40], generator=g)
    assert sorted(s) == [10, 20, 30, 40] and len(s) == 4


def test_weighted_random_sampler():
    g = gradcore.Generator().manual_seed(0)
    w = [0.0, 1.0, 3.0]
    draws = list(WeightedRandomSampler(w, 8000, generator=g))
    c = collections.Counter(draws)
    assert c[0] == 0 and abs(c[2] / 8000 - 0.75) < 0.03
    no_rep = list(WeightedRandomSampler([1.0, 0.0, 5.0, 2.0], 3, replacement=False, generator=g))
    assert sorted(no_rep) == [0, 2, 3]
    first = collections.Counter(list(WeightedRandomSampler([1.0, 9.0], 1, replacement=False, generator=g))[0]
                                for _ in range(2000))
    assert abs(first[1] / 2000 - 0.9) < 0.04
    # as PyTorch's: weights are checked by multinomial when the sampler is iterated
    assert sorted(WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == [0, 1]
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(RuntimeError, match="element < 0"):
        list(WeightedRandomSampler([1.0, -1.0], 1))


# ---- collation ----

def test_collate_tensors_arrays_numbers():
    out = default_collate([gradcore.tensor([1.0, 2.0]), gradcore.tensor([3.0, 4.0])])
    np.testing.assert_array_equal(out.numpy(), [[1, 2], [3, 4]])
    for dt in (np.float32, np.float64, np.int64, np.bool_):
        out = default_collate([np.ones(3, dtype=dt), np.zeros(3, dtype=dt)])
        assert out.shape == (2, 3) and out.numpy().dtype == dt
    out = default_collate([np.float32(1.5), np.float32(2.5)])
    assert out.dtype == gradcore.float32 and out.shape == (2,)
    assert default_collate([np.float64(1.5), np.float64(2.0)]).dtype == gradcore.float64
    f = default_collate([1.5, 2.0])
    assert f.dtype == gradcore.float64 and f.tolist() == [1.5, 2.0]
    i = default_collate([1, 2, 3])
    assert i.dtype == gradcore.int64 and i.tolist() == [1, 2, 3]
    b = default_collate([True, False])
    assert b.dtype == gradcore.bool and b.tolist() == [True, False]
    assert default_collate(["a", "b"]) == ["a", "b"] and default_collate([b"a", b"b"]) == [b"a", b"b"]
    zero_d = default_collate([gradcore.tensor(1.0), gradcore.tensor(2.0)])
    assert zero_d.shape == (2,)


def test_collate_containers():
    out = default_collate([(gradcore.tensor([1.0]), 0), (gradcore.tensor([2.0]), 1)])
    assert isinstance(out, list) and len(out) == 2  # tuples become lists, as in PyTorch
    np.testing.assert_array_equal(out[0].numpy(), [[1.0], [2.0]])
    assert out[1].tolist() == [0, 1]
    out = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(out, list) and out[0].dtype == gradcore.int64 and out[1].dtype == gradcore.float64
    d = default_collate([{"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}}])
    assert list(d) == ["a", "b"] and d["a"].tolist() == [1, 2] and d["b"] == {"c": ["x", "y"]}
    od = default_collate([collections.OrderedDict(k=1.0), collections.OrderedDict(k=2.0)])
    assert type(od) is collections.OrderedDict
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(p) is Point and p.x.tolist() == [1, 3] and p.y.dtype == gradcore.float64
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float32(1.0), "s"), "c": 4})
    assert isinstance(out["a"], gradcore.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list) and isinstance(out["b"][0], gradcore.Tensor) and out["b"][1] == "s"
    assert out["c"] == 4
    strings = np.array(["x"])
    assert default_convert(strings) is strings


def torch_to_nested(x, torch):
    if isinstance(x, torch.Tensor):
        return TensorLeaf(str(x.dtype).replace("torch.", "gradcore."), x.numpy().copy())
    if isinstance(x, dict):
        return {k: torch_to_nested(v, torch) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(torch_to_nested(v, torch) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(torch_to_nested(v, torch) for v in x)
    return x


def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    samples = [{"img": np.full((2, 2), i, dtype=np.float32), "label": i, "w": i * 0.5, "flag": i % 2 == 0,
                "name": f"n{i}", "pair": (i, float(i)), "seq": [np.int64(i), np.float64(i)],
                "pt": Point(i, np.float32(i)), "mask": np.array([i > 1, True])} for i in range(4)]
    ours = to_nested_np(default_collate(samples))
    ref = torch_to_nested(torch_collate(samples), torch)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert_nested_equal(ours[k], ref[k])


# ---- DataLoader: single process ----

def test_loader_batches_order_len_drop_last():
    x, y = xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert isinstance(batches[0], list) and batches[0][0].shape == (4, 3)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(range(10))) == 10
    samples = list(DataLoader(DictDataset(3), batch_size=None))
    assert isinstance(samples[0]["x"], gradcore.Tensor) and samples[0]["x"].shape == (2, 3)
    assert samples[2]["label"] == 2
    custom = DataLoader(range(6), batch_sampler=[[5, 0], [1, 2, 3]])
    assert [b.tolist() for b in custom] == [[5, 0], [1, 2, 3]]
    assert [b for b in DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b))] == [1, 5, 4]


def test_loader_argument_errors():
    ds = range(5)
    for kwargs, msg in [(dict(num_workers=-1), "num_workers"), (dict(timeout=-1), "timeout"),
                        (dict(prefetch_factor=2), "prefetch_factor"), (dict(persistent_workers=True), "persistent"),
                        (dict(sampler=SequentialSampler(ds), shuffle=True), "mutually exclusive with shuffle"),
                        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
                        (dict(batch_size=None, drop_last=True), "disables auto-batching")]:
        with pytest.raises(ValueError, match=msg):
            DataLoader(ds, **kwargs)
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Stream(3), shuffle=True)
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # not frozen, as in PyTorch


def test_shuffle_reproducible_under_manual_seed_and_generator():
    ds = TensorDataset(*xy(40))
    gradcore.manual_seed(123)
    run1 = [[b[1].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True)] for _ in range(2)]
    gradcore.manual_seed(123)
    run2 = [[b[1].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True)] for _ in range(2)]
    assert run1 == run2 and run1[0] != run1[1]
    for epoch in run1:
        assert sorted(i for b in epoch for i in b) == list(range(40))
    g = gradcore.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=g)
    e1 = [b[1].tolist() for b in loader]
    gradcore.randn(100)  # the global stream does not touch a loader with its own generator
    e2 = [b[1].tolist() for b in loader]
    g.manual_seed(7)
    assert [b[1].tolist() for b in loader] == e1
    assert [b[1].tolist() for b in loader] == e2 and e1 != e2


@pytest.mark.parametrize("shuffle", [False, True])
def test_tensor_dataset_fast_path_equals_per_sample_collation(shuffle):
    x = gradcore.arange(21 * 4, dtype=gradcore.float64).reshape(4, 21).t()  # non-contiguous source
    y = gradcore.arange(21) * 3
    m = (gradcore.arange(21) % 2) == 0
    ds = TensorDataset(x, y, m)
    slow = DataLoader(ds, batch_size=5, shuffle=shuffle, generator=gradcore.Generator().manual_seed(0),
                      collate_fn=lambda b: default_collate(b))
    fast = DataLoader(ds, batch_size=5, shuffle=shuffle, generator=gradcore.Generator().manual_seed(0))
    assert_same_batches(batches_np(fast), batches_np(slow))
    train, _ = random_split(ds, [0.7, 0.3], generator=gradcore.Generator().manual_seed(1))
    slow = DataLoader(train, batch_size=4, collate_fn=lambda b: default_collate(b))
    assert_same_batches(batches_np(DataLoader(train, batch_size=4)), batches_np(slow))


def test_fast_path_skips_per_sample_indexing(monkeypatch):
    ds = TensorDataset(*xy(9))
    expected = batches_np(DataLoader(ds, batch_size=4))

    def boom(self, i):
        raise AssertionError("per-sample __getitem__ called on the batched path")

    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    assert_same_batches(batches_np(DataLoader(ds, batch_size=4)), expected)
    with pytest.raises(AssertionError, match="per-sample"):
        list(DataLoader(ds, batch_size=4, collate_fn=lambda b: default_collate(b)))


def test_tensor_dataset_subclass_uses_its_getitem():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(t.select(0, i) * 2 for t in self.tensors)

    out = list(DataLoader(Doubled(gradcore.arange(4)), batch_size=2))
    assert [b[0].tolist() for b in out] == [[0, 2], [4, 6]]


def test_iterable_dataset_single_process():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert list(DataLoader(Stream(2), batch_size=None)) == [0, 1]


def test_pin_memory_is_a_no_op_without_cuda():
    ds = TensorDataset(*xy(6))
    assert_same_batches(batches_np(DataLoader(ds, batch_size=4, pin_memory=True)),
                        batches_np(DataLoader(ds, batch_size=4)))


def test_pin_memory_pins_every_tensor_of_the_batch_when_cuda_is_there(monkeypatch):
    pinned = []

    def fake_pin(self):
        pinned.append(tuple(self.shape))
        return self

    monkeypatch.setattr(gradcore.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gradcore.Tensor, "pin_memory", fake_pin, raising=False)
    out = list(DataLoader(DictDataset(4), batch_size=2, pin_memory=True))
    assert sorted(pinned) == [(2,)] * 4 + [(2, 2, 3)] * 2  # x, label and w of both batches; names are not tensors
    assert list(out[0]) == ["x", "label", "w", "name"] and out[0]["name"] == ["s0", "s1"]

