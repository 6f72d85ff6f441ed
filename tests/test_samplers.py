"""Issue 17 item 3: the samplers, random_split and DataLoader(generator=) on the native randperm and
multinomial: PyTorch's argument checks, reproducibility per generator, independence from the
default stream, and the distributions they draw."""
import numpy as np
import pytest

import gradcore
from gradcore.utils.data import (DataLoader, RandomSampler, SubsetRandomSampler, TensorDataset,
                                 WeightedRandomSampler, random_split)

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _eq(a, b):
    return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype and a.tolist() == b.tolist()


def _gen(seed):
    return gradcore.Generator().manual_seed(seed)


def _same_error(make):
    with pytest.raises(Exception) as te:
        make(tdata, torch)
    with pytest.raises(Exception) as ge:
        make(gradcore.utils.data, gradcore)
    assert type(ge.value) is type(te.value)
    assert str(ge.value) == str(te.value)


@pytest.mark.parametrize("make", [
    lambda d, m: d.RandomSampler(range(3), replacement=1),
    lambda d, m: d.RandomSampler(range(3), num_samples=0),
    lambda d, m: d.RandomSampler(range(3), num_samples=-2),
    lambda d, m: d.RandomSampler(range(3), num_samples=1.5),
    lambda d, m: d.RandomSampler(range(0)),
    lambda d, m: d.WeightedRandomSampler([1.0, 2.0], 0),
    lambda d, m: d.WeightedRandomSampler([1.0, 2.0], 2, replacement=1),
    lambda d, m: d.WeightedRandomSampler([[1.0, 2.0]], 2),
])
def test_constructor_errors_match_torch(make):
    _same_error(make)


@pytest.mark.parametrize("weights, words", [([1.0, -1.0], "< 0"), ([0.0, 0.0], "sum of probabilities <= 0"),
                                            ([1.0, float("nan")], "nan"), ([float("inf"), 1.0], "inf")])
def test_weighted_sampler_bad_weights_raise_when_iterated_as_torch(weights, words):
    # PyTorch's wording differs between its float32 and float64 multinomial paths; gradcore's is
    # the one of its float32 path for every dtype.
    s = WeightedRandomSampler(weights, 2)
    with pytest.raises(RuntimeError):
        list(tdata.WeightedRandomSampler(weights, 2))
    with pytest.raises(RuntimeError, match=words.replace("(", r"\(")):
        list(s)


def test_random_sampler_generator_reproducible_and_isolated():
    a = list(RandomSampler(range(40), generator=_gen(3)))
    gradcore.manual_seed(0)
    ref = gradcore.rand(5)
    gradcore.manual_seed(0)
    b = list(RandomSampler(range(40), generator=_gen(3)))
    assert a == b and sorted(a) == list(range(40))
    assert _eq(gradcore.rand(5), ref)  # the default stream did not move
    assert a != list(RandomSampler(range(40), generator=_gen(4)))
    # without a generator each pass draws one seed from the default generator
    gradcore.manual_seed(8)
    s = RandomSampler(range(40))
    e1, e2 = list(s), list(s)
    gradcore.manual_seed(8)
    assert [list(s), list(s)] == [e1, e2] and e1 != e2


def test_random_sampler_with_replacement_is_uniform():
    draws = np.array(list(RandomSampler(range(7), replacement=True, num_samples=14001, generator=_gen(1))))
    assert len(draws) == 14001 and draws.min() == 0 and draws.max() == 6
    counts = np.bincount(draws, minlength=7)
    assert ((counts - 2000.14) ** 2 / 2000.14).sum() < 30.0  # chi-square, df 6


def test_weighted_sampler_frequencies_and_reproducibility():
    w = [0.0, 1.0, 3.0, 4.0]
    draws = np.array(list(WeightedRandomSampler(w, 16000, generator=_gen(0))))
    counts = np.bincount(draws, minlength=4)
    expected = 16000 * np.array(w[1:]) / 8.0
    assert counts[0] == 0 and ((counts[1:] - expected) ** 2 / expected).sum() < 22.0
    assert list(WeightedRandomSampler(w, 50, generator=_gen(2))) == list(WeightedRandomSampler(w, 50, generator=_gen(2)))
    s = WeightedRandomSampler(gradcore.tensor([1.0, 0.0, 5.0, 2.0]), 3, replacement=False, generator=_gen(1))
    assert sorted(s) == [0, 2, 3] and len(s) == 3
    # more samples than positive weights: the zero-weight indices come last, as in PyTorch
    assert sorted(WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == [0, 1]
    assert s.weights.dtype == gradcore.float64


def test_subset_random_sampler():
    idx = [10, 20, 30, 40, 50]
    a = list(SubsetRandomSampler(idx, generator=_gen(5)))
    assert sorted(a) == idx and a == list(SubsetRandomSampler(idx, generator=_gen(5)))
    orders = {tuple(SubsetRandomSampler(idx[:3], generator=g)) for g in [_gen(0)] for _ in range(200)}
    assert len(orders) == 6


def test_random_split_with_generator():
    parts = random_split(range(30), [10, 15, 5], generator=_gen(4))
    flat = [i for p in parts for i in p]
    assert [len(p) for p in parts] == [10, 15, 5] and sorted(flat) == list(range(30))
    again = random_split(range(30), [10, 15, 5], generator=_gen(4))
    assert [list(p) for p in parts] == [list(p) for p in again]
    assert [list(p) for p in parts] != [list(p) for p in random_split(range(30), [10, 15, 5], generator=_gen(5))]
    assert [len(p) for p in random_split(range(10), [0.5, 0.3, 0.2], generator=_gen(0))] == [5, 3, 2]


def test_dataloader_generator_drives_shuffling():
    ds = TensorDataset(gradcore.arange(24))

    def epoch(loader):
        return [b[0].tolist() for b in loader]

    gen = _gen(9)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=gen)
    e1, e2 = epoch(loader), epoch(loader)
    assert sorted(sum(e1, [])) == list(range(24)) and e1 != e2
    gradcore.manual_seed(123)  # the default stream does not matter when a generator is given
    gen.manual_seed(9)
    assert [epoch(loader), epoch(loader)] == [e1, e2]
    other = DataLoader(ds, batch_size=5, shuffle=True, generator=_gen(9))
    assert epoch(other) == e1
