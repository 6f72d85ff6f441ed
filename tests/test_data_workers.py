"""DataLoader with worker processes: the same batches as num_workers=0, errors carried across, and
clean shutdown (no process left behind, no zombie)."""
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

import gradcore
from gradcore.utils.data import DataLoader, TensorDataset
from test_data import (DictDataset, FailingDataset, Stream, WorkerIdDataset, assert_same_batches, batches_np, gone,
                       mark_init, needs_proc, to_nested_np, xy)


def worker_pids(it):
    return [w.pid for w in it._workers]


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.05)
    return all(gone(p) for p in pids)


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class UnpicklableDataset(DictDataset):
    def __getitem__(self, i):
        return lambda: i


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_workers_yield_the_batches_of_num_workers_0(shuffle, drop_last):
    for ds in (TensorDataset(*xy(37)), DictDataset(23)):
        ref_loader = DataLoader(ds, batch_size=4, shuffle=shuffle, drop_last=drop_last)
        gradcore.manual_seed(11)
        ref = [batches_np(ref_loader) for _ in range(2)]
        loader = DataLoader(ds, batch_size=4, shuffle=shuffle, drop_last=drop_last, num_workers=2)
        gradcore.manual_seed(11)
        got = [batches_np(loader) for _ in range(2)]
        for r, g in zip(ref, got):
            assert_same_batches(g, r)
        assert len(loader) == len(got[0])


def test_workers_with_generator_and_prefetch():
    ds = TensorDataset(*xy(50))
    ref = batches_np(DataLoader(ds, batch_size=3, shuffle=True, generator=gradcore.Generator().manual_seed(5)))
    got = batches_np(DataLoader(ds, batch_size=3, shuffle=True, generator=gradcore.Generator().manual_seed(5),
                                num_workers=3, prefetch_factor=1))
    assert_same_batches(got, ref)


def test_spawn_workers():
    ds = TensorDataset(*xy(10))
    ref = batches_np(DataLoader(ds, batch_size=3))
    got = batches_np(DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context="spawn"))
    assert_same_batches(got, ref)


def test_out_of_order_yields_the_same_batches():
    ds = DictDataset(30)
    ref = batches_np(DataLoader(ds, batch_size=4))
    got = batches_np(DataLoader(ds, batch_size=4, num_workers=2, in_order=False))
    key = lambda b: (tuple(b["label"].array.tolist()), tuple(b["name"]))  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, ref))


@needs_proc
def test_persistent_workers_survive_epochs_and_early_break():
    ds = TensorDataset(*xy(20))
    gradcore.manual_seed(3)
    ref_loader = DataLoader(ds, batch_size=3, shuffle=True)
    ref = [batches_np(ref_loader) for _ in range(3)]
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True)
    gradcore.manual_seed(3)
    it = iter(loader)
    pids = worker_pids(it)
    assert_same_batches([to_nested_np(b) for b in it], ref[0])
    for b in loader:  # abandon the second epoch after one batch
        break
    third = batches_np(loader)
    assert worker_pids(loader._iterator) == pids and not any(gone(p) for p in pids)
    assert len(third) == len(ref[2])
    assert sorted(i for b in third for i in b[1].array.tolist()) == list(range(20))
    del loader, it
    gc.collect()
    assert wait_gone(pids)


def test_iterable_dataset_with_workers():
    sharded = [b.tolist() for b in DataLoader(Stream(10, shard=True), batch_size=2, num_workers=2)]
    assert sorted(i for b in sharded for i in b) == list(range(10))
    # Unsharded, every worker streams the whole dataset (PyTorch semantics); batches alternate workers.
    dup = [b.tolist() for b in DataLoader(Stream(5), batch_size=2, num_workers=2)]
    assert dup == [[0, 1], [0, 1], [2, 3], [2, 3], [4], [4]]
    loader = DataLoader(Stream(6, shard=True), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in loader] == [b.tolist() for b in loader] == [[0, 2], [1, 3], [4], [5]]


def test_worker_info_init_fn_and_seeds():
    assert gradcore.utils.data.get_worker_info() is None
    gradcore.manual_seed(0)
    out = list(DataLoader(WorkerIdDataset(), batch_size=3, num_workers=2, worker_init_fn=mark_init))
    workers = [b["worker"].tolist() for b in out]
    assert workers == [[0] * 3, [1] * 3, [0] * 3, [1] * 3]
    assert [b["init"].tolist() for b in out] == workers
    gradcore.manual_seed(0)
    again = list(DataLoader(WorkerIdDataset(), batch_size=3, num_workers=2))
    assert [b["r"].tolist() for b in out] == [b["r"].tolist() for b in again]
    first_draws = [out[0]["r"].tolist()[0], out[1]["r"].tolist()[0]]
    assert first_draws[0] != first_draws[1]  # each worker has its own seed


@needs_proc
def test_worker_exception_is_reraised_with_traceback_and_workers_stop():
    loader = DataLoader(FailingDataset(bad=5), batch_size=2, num_workers=2)
    it = iter(loader)
    pids = worker_pids(it)
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 0.*"
                                         r"Traceback.*in __getitem__.*bad sample 5"):
        for _ in it:
            pass
    assert wait_gone(pids)
    with pytest.raises(StopIteration):
        next(it)


def test_worker_exception_types():
    with pytest.raises(KeyError, match="bad sample 3"):
        list(DataLoader(FailingDataset(bad=3, exc=KeyError), num_workers=2))
    with pytest.raises(RuntimeError, match="Caught TwoArgError"):
        list(DataLoader(FailingDataset(bad=1, exc=lambda msg: TwoArgError(msg, 0)), num_workers=1))
    with pytest.raises(Exception, match="while pickling the batch"):
        list(DataLoader(UnpicklableDataset(4), batch_size=None, num_workers=1))

    def bad_init(worker_id):
        raise OSError(f"init failed in {worker_id}")

    with pytest.raises(OSError, match="init failed in 0"):
        list(DataLoader(range(4), num_workers=2, worker_init_fn=bad_init))


@needs_proc
def test_early_break_and_garbage_collection_leave_no_process():
    loader = DataLoader(TensorDataset(*xy(100)), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    pids = worker_pids(it)
    assert not any(gone(p) for p in pids)
    del it
    gc.collect()
    assert wait_gone(pids)
    for b in loader:
        break
    gc.collect()
    assert not [p for p in multiprocessing.active_children() if p.pid in pids]


@needs_proc
def test_workers_exit_at_end_of_epoch():
    it = iter(DataLoader(range(6), batch_size=2, num_workers=2))
    pids = worker_pids(it)
    assert [b.tolist() for b in it] == [[0, 1], [2, 3], [4, 5]]
    assert wait_gone(pids)


def test_timeout_raises():
    loader = DataLoader(FailingDataset(bad=-1, delay=3.0, n=4), num_workers=1, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(loader))
    assert time.monotonic() - t0 < 2.5


@needs_proc
def test_killed_worker_is_reported():
    it = iter(DataLoader(FailingDataset(bad=-1, delay=0.5, n=40), num_workers=2))
    next(it)
    os.kill(worker_pids(it)[1], signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"exited unexpectedly.*exit code -9"):
        for _ in it:
            pass
    assert wait_gone(worker_pids(it))


ORPHAN_SCRIPT = """
import os, signal, sys
sys.path[:0] = [{python_dir!r}, {tests_dir!r}]
from gradcore.utils.data import DataLoader
from test_data import FailingDataset
it = iter(DataLoader(FailingDataset(bad=-1, delay=0.2, n=100), num_workers=2))
next(it)
print(" ".join(str(w.pid) for w in it._workers), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def running(pid):
    """Alive and not a zombie (a re-parented zombie may wait for a reaper that never comes)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@needs_proc
def test_workers_exit_when_the_main_process_is_killed():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    python_dir = os.path.dirname(os.path.dirname(gradcore.__file__))
    proc = subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT.format(python_dir=python_dir, tests_dir=tests_dir)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.1)
    assert not any(running(p) for p in pids)
