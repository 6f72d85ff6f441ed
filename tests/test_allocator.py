"""The CPU caching allocator: a training loop's steady state asks the system for no memory, freed
blocks are reused, and emptying the cache gives them back."""
import numpy as np
import pytest

import gradcore
from gradcore import _C, nn, optim


def _caching():
    _C._cpu_empty_cache()
    a = gradcore.empty(1000)
    del a
    b = gradcore.empty(1000)
    del b
    return _C._cpu_allocator_stats()["hits"] > 0


pytestmark = pytest.mark.skipif(not _caching(), reason="the cache is off in sanitizer builds")


def test_steady_state_training_allocates_nothing_new():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = gradcore.randn(16, 20), gradcore.randint(0, 5, (16,))

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    before = _C._cpu_allocator_stats()
    losses = [step() for _ in range(20)]
    after = _C._cpu_allocator_stats()
    assert after["misses"] == before["misses"]
    assert after["hits"] > before["hits"]
    assert losses[-1] < losses[0]


def test_reused_block_is_a_fresh_tensor():
    a = gradcore.full((257,), 7.0)
    del a
    b = gradcore.zeros(257)  # most likely the block a just freed: must read as zeros
    np.testing.assert_array_equal(b.numpy(), np.zeros(257, np.float32))


def test_empty_cache_releases_blocks():
    ts = [gradcore.empty(4096) for _ in range(4)]
    del ts
    assert _C._cpu_allocator_stats()["cached_bytes"] >= 4 * 4096 * 4
    _C._cpu_empty_cache()
    assert _C._cpu_allocator_stats()["cached_bytes"] == 0


def test_sizes_share_bins_and_views_keep_storage_alive():
    t = gradcore.arange(10000, dtype=gradcore.float32)
    v = t[5000:]
    del t
    w = gradcore.empty(10000)  # must not be handed t's block while v still views it
    w.fill_(-1.0)
    np.testing.assert_array_equal(v.numpy(), np.arange(5000, 10000, dtype=np.float32))
