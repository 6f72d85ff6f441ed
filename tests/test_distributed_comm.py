"""gradcore.distributed's all_to_all, all_to_all_single, batch_isend_irecv, monitored_barrier and
Work.get_future on 2 and 3 MPI ranks (tests/dist_comm_checks.py checks every rank against the
single-process result), and gradcore.futures.Future against torch.futures in this process.
"""
import os
import sys
import threading
import time

import pytest

import gradcore
from gradcore.distributed import run as launcher
from gradcore.futures import Future, collect_all, wait_all
from dist_helpers import launch, needs_mpi, report

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "dist_comm_checks.py")
LIMIT = 60  # seconds; a job that hangs fails the test instead of the suite



def _launch(cmd):
    return launch(cmd, LIMIT)


@needs_mpi
def test_all_to_all_p2p_batches_and_futures_two_ranks():
    proc, _ = _launch([launcher.find_mpiexec(), "-n", "2", sys.executable, CHECKS, "checks"])
    assert proc.returncode == 0 and proc.stdout.count("ALL OK") == 2, report(proc)


@needs_mpi
def test_all_to_all_p2p_batches_and_futures_three_ranks():
    proc, _ = _launch([sys.executable, "-m", "gradcore.distributed.run", "--nproc-per-node", "3", CHECKS, "checks"])
    assert proc.returncode == 0 and proc.stdout.count("ALL OK") == 3, report(proc)


@needs_mpi
@pytest.mark.parametrize("mode, missing", [("missing", "Rank 2 failed"), ("missing_all", "Ranks 1, 2 failed")])
def test_monitored_barrier_names_the_ranks_that_did_not_arrive(mode, missing):
    proc, seconds = _launch([launcher.find_mpiexec(), "-n", "3", sys.executable, CHECKS, mode])
    assert proc.returncode != 0, report(proc)
    assert seconds < 30, f"the job took {seconds:.1f} s though the monitored_barrier timeout was 1 s"
    assert f"[Rank 0]: {missing} to pass monitoredBarrier in 1000 ms" in proc.stderr, report(proc)
    assert "DistBackendError" in proc.stderr, report(proc)


# ---- gradcore.futures.Future against torch.futures.Future (no MPI) ----

def _outcome(fn):
    """("ok", value) or (exception type name, message's first line)."""
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the outcome is compared
        return type(e).__name__, str(e).splitlines()[0]


def test_future_matches_torch_futures():
    torch = pytest.importorskip("torch")
    results = {}
    for lib, make in (("gc", Future), ("torch", torch.futures.Future)):
        out = []
        f = make()
        out.append(f.done())
        out.append(_outcome(f.value)[0])  # both RuntimeError (torch's text is an internal assert)
        calls = []
        f.add_done_callback(lambda fut: calls.append(fut.value()))
        child = f.then(lambda fut: fut.value() * 10)
        f.set_result(4)
        out += [f.done(), f.wait(), f.value(), calls, child.wait()]
        out.append(_outcome(lambda: f.set_result(5)))
        out.append(f.then(lambda fut: fut.value() + 1).wait())  # on a completed Future: runs at once
        bad = f.then(lambda fut: 1 / 0)
        out.append(_outcome(bad.wait)[0])
        out.append(_outcome(bad.wait)[1].startswith("Got the following error when running the callback: "
                                                    "ZeroDivisionError"))
        e = make()
        e.set_exception(ValueError("broken"))
        out += [_outcome(e.wait), _outcome(e.value), e.done()]
        out.append(_outcome(lambda: make().set_exception(3))[0])
        out.append(_outcome(e.then(lambda fut: fut.value()).wait)[0])
        a, b = make(), make()
        both = (collect_all if lib == "gc" else torch.futures.collect_all)([a, b])
        a.set_result(1)
        out.append(both.done())
        b.set_result(2)
        out.append([x.wait() for x in both.wait()])
        out.append((wait_all if lib == "gc" else torch.futures.wait_all)([a, b]))
        results[lib] = out
    assert results["gc"] == results["torch"]


def test_future_wait_blocks_until_another_thread_sets_it():
    f = Future()
    threading.Thread(target=lambda: (time.sleep(0.05), f.set_result("late"))).start()
    assert f.wait() == "late"
    assert Future[gradcore.Tensor] == Future[gradcore.Tensor]  # hooks annotate Future[Tensor]
