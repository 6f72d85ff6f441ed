"""Run by tests/test_distributed.py on N ranks (mpiexec or the launcher): every collective against
the single-process result, for each dtype. Every rank builds all ranks' inputs from the same seed,
so it knows what the collective must give; a failed check raises, which aborts the job.

    mpiexec -n 3 python tests/dist_checks.py checks
    mpiexec -n 2 python tests/dist_checks.py fail     # rank 1 raises: the job must end non-zero
    mpiexec -n 2 python tests/dist_checks.py exit     # rank 1 calls sys.exit(3): the same
    mpiexec -n 2 python tests/dist_checks.py raise_exit  # rank 1 raises SystemExit(3): the same
    mpiexec -n 2 python tests/dist_checks.py timeout  # rank 1 skips a collective: rank 0 must time out
"""
import datetime
import os
import sys
import time
import warnings

import gradcore as torch
import gradcore.distributed as dist

DTYPES = [torch.float32, torch.float64, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
          torch.bfloat16, torch.float16]
FLOATS = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def inputs(n, dtype, shape=(2, 3), seed=0):
    """Every rank's input: row r is rank r's. Floats are exact in bfloat16; ints in 1..3 (products fit int8)."""
    g = torch.Generator().manual_seed(seed)
    if dtype in FLOATS:
        return (torch.randint(-64, 64, (n,) + shape, generator=g).float() / 16).to(dtype)
    return torch.randint(1, 4, (n,) + shape, generator=g).to(dtype)


def reference(rows, op):
    """The single-process result of reducing ``rows`` over dim 0 (16-bit floats in float32, rounded once)."""
    wide = rows.double() if rows.dtype in FLOATS else rows.long()
    ReduceOp = dist.ReduceOp
    if op == ReduceOp.SUM:
        out = wide.sum(0)
    elif op == ReduceOp.AVG:
        out = wide.sum(0) / rows.shape[0]
    elif op == ReduceOp.PRODUCT:
        out = wide.prod(0)
    elif op == ReduceOp.MAX:
        out = wide.amax(0)
    else:
        out = wide.amin(0)
    return out.to(rows.dtype)


def same(actual, expected, what):
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {actual.shape} != {expected.shape}"
    a, e = actual.double(), expected.double()
    tol = 1e-2 if actual.dtype in (torch.bfloat16, torch.float16) else 1e-6
    ok = ((a - e).abs() <= tol * e.abs() + 1e-12).all().item()
    assert ok, f"{what}: got\n{actual}\nexpected\n{expected}"


def identical_on_all_ranks(t, what):
    """Every rank holds the same bits (MPI's reductions give each rank the same result)."""
    mine = t.detach().double().reshape(-1)
    rows = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, mine)
    for r, row in enumerate(rows):
        assert (row == mine).all().item(), f"{what}: rank {r} differs from rank {dist.get_rank()}"


def expect(exc, text, fn):
    try:
        fn()
    except exc as e:
        assert text in str(e), f"expected {text!r} in {exc.__name__}: {e}"
        return
    raise AssertionError(f"expected {exc.__name__} ({text})")


def check_reductions(n, r, dtype):
    ops = [dist.ReduceOp.SUM, dist.ReduceOp.PRODUCT, dist.ReduceOp.MAX, dist.ReduceOp.MIN]
    if dtype in FLOATS:
        ops.append(dist.ReduceOp.AVG)
    rows = inputs(n, dtype)
    for op in ops:
        t = rows[r].clone()
        dist.all_reduce(t, op=op)
        same(t, reference(rows, op), f"all_reduce {op} {dtype}")
        identical_on_all_ranks(t, f"all_reduce {op} {dtype}")
        t = rows[r].clone()
        work = dist.all_reduce(t, op=op, async_op=True)
        assert work.wait() is True and work.is_completed()
        same(t, reference(rows, op), f"async all_reduce {op} {dtype}")
        for dst in range(n):
            t = rows[r].clone()
            dist.reduce(t, dst=dst, op=op)
            same(t, reference(rows, op) if r == dst else rows[r], f"reduce to {dst} {op} {dtype}")
        big = inputs(n, dtype, shape=(n * 2, 3), seed=1)
        out = torch.zeros(2, 3, dtype=dtype)
        dist.reduce_scatter_tensor(out, big[r].clone(), op=op)
        same(out, reference(big, op)[2 * r:2 * r + 2], f"reduce_scatter_tensor {op} {dtype}")
    # A non-contiguous tensor: reduced through a contiguous copy written back into the view.
    wide = inputs(n, dtype, shape=(3, 4), seed=2)
    base = wide[r].clone()
    view = base.t()
    dist.all_reduce(view)
    same(base, reference(wide, dist.ReduceOp.SUM), f"all_reduce of a transposed view {dtype}")
    big = inputs(n, dtype, shape=(n * 2, 3), seed=3)
    out = torch.zeros(2, 3, dtype=dtype)
    dist.reduce_scatter(out, [big[r][2 * i:2 * i + 2] for i in range(n)])
    same(out, reference(big, dist.ReduceOp.SUM)[2 * r:2 * r + 2], f"reduce_scatter {dtype}")


def check_movement(n, r, dtype):
    rows = inputs(n, dtype)
    for src in range(n):
        t = rows[r].clone()
        work = dist.broadcast(t, src=src, async_op=(src % 2 == 1))
        if work is not None:
            work.wait()
        same(t, rows[src], f"broadcast from {src} {dtype}")
    base = rows[r].t().contiguous()
    dist.broadcast(base.t(), src=0)  # into a transposed view, through a contiguous copy
    same(base.t(), rows[0], f"broadcast into a view {dtype}")
    got = [torch.zeros(2, 3, dtype=dtype) for _ in range(n)]
    dist.all_gather(got, rows[r])
    for i in range(n):
        same(got[i], rows[i], f"all_gather [{i}] {dtype}")
    out = torch.zeros(n * 2, 3, dtype=dtype)
    work = dist.all_gather_into_tensor(out, rows[r], async_op=True)
    work.wait()
    same(out, rows.reshape(n * 2, 3), f"all_gather_into_tensor {dtype}")
    stacked = torch.zeros(n, 2, 3, dtype=dtype)
    dist.all_gather_into_tensor(stacked, rows[r])
    same(stacked, rows, f"all_gather_into_tensor stacked {dtype}")
    for dst in range(n):
        lst = [torch.zeros(2, 3, dtype=dtype) for _ in range(n)] if r == dst else None
        dist.gather(rows[r], lst, dst=dst)
        if r == dst:
            for i in range(n):
                same(lst[i], rows[i], f"gather to {dst} [{i}] {dtype}")
    for src in range(n):
        t = torch.zeros(2, 3, dtype=dtype)
        dist.scatter(t, [rows[i] for i in range(n)] if r == src else None, src=src)
        same(t, rows[r], f"scatter from {src} {dtype}")
    # A ring of isend/irecv, and a blocking send/recv from any source.
    t = torch.zeros(2, 3, dtype=dtype)
    works = [dist.isend(rows[r], dst=(r + 1) % n), dist.irecv(t, src=(r - 1) % n)]
    for w in works:
        w.wait()
    same(t, rows[(r - 1) % n], f"isend/irecv ring {dtype}")
    if r == 1:
        dist.send(rows[1], dst=0, tag=7)
    elif r == 0:
        t = torch.zeros(2, 3, dtype=dtype)
        assert dist.recv(t, tag=7) == 1
        same(t, rows[1], f"recv from any source {dtype}")


def check_groups(n, r):
    g = dist.new_group([0, 1])
    if r < 2:
        assert dist.get_rank(g) == r and dist.get_world_size(g) == 2 and dist.get_process_group_ranks(g) == [0, 1]
        t = torch.tensor([float(r + 1)])
        dist.all_reduce(t, group=g)
        same(t, torch.tensor([3.0]), "all_reduce on new_group([0, 1])")
        t = torch.tensor([float(r)])
        dist.broadcast(t, src=1, group=g)
        same(t, torch.tensor([1.0]), "broadcast on a group")
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1 and dist.get_world_size(g) == -1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert dist.all_reduce(torch.ones(1), group=g) is None
        assert any("does not belong to the given group" in str(w.message) for w in caught)
    if n > 2:  # a group in another order of global ranks: src is a global rank, group_src a group rank
        h = dist.new_group([n - 1, 0])
        if r in (0, n - 1):
            t = torch.tensor([float(r)])
            dist.broadcast(t, group=h, group_src=1)
            same(t, torch.tensor([float(n - 1)]), "broadcast group_src")
            assert dist.get_global_rank(h, 1) == n - 1 and dist.get_group_rank(h, n - 1) == 1
    dist.barrier()


def check_errors(n, r):
    expect(RuntimeError, "world_size (", lambda: dist.all_gather_into_tensor(torch.zeros(n * 2 + 1), torch.ones(2)))
    expect(RuntimeError, "same dtype", lambda: dist.all_gather_into_tensor(torch.zeros(n * 2).double(), torch.ones(2)))
    expect(RuntimeError, "world_size (", lambda: dist.reduce_scatter_tensor(torch.zeros(2), torch.ones(2)))
    expect(RuntimeError, "invalid tensor size", lambda: dist.all_gather([torch.zeros(3)] * n, torch.ones(2)))
    expect(RuntimeError, "expected length", lambda: dist.all_gather([torch.zeros(2)] * (n + 1), torch.ones(2)))
    expect(RuntimeError, "invalid src rank", lambda: dist.broadcast(torch.ones(2), src=n))
    expect(ValueError, "Must specify src", lambda: dist.broadcast(torch.ones(2)))
    expect(ValueError, "needs a floating-point", lambda: dist.all_reduce(torch.ones(2).long(), op=dist.ReduceOp.AVG))
    expect(ValueError, "bitwise", lambda: dist.all_reduce(torch.ones(2), op=dist.ReduceOp.BAND))
    expect(TypeError, "ReduceOp", lambda: dist.all_reduce(torch.ones(2), op="sum"))
    expect(TypeError, "of type Tensor", lambda: dist.all_reduce([1.0]))
    expect(ValueError, "should not be the same", lambda: dist.send(torch.ones(2), dst=r))
    expect(ValueError, "twice", lambda: dist.init_process_group())
    expect(ValueError, "less or equal", lambda: dist.new_group(list(range(n + 1))))
    expect(ValueError, "gather_list`` must NOT",
           lambda: dist.gather(torch.ones(1), [torch.ones(1)] * n, dst=(r + 1) % n))
    expect(ValueError, "scatter_list`` must be specified", lambda: dist.scatter(torch.ones(1), None, src=r))
    expect(ValueError, "Invalid backend", lambda: dist.Backend("tcp"))


def check_misc(n, r):
    assert dist.is_initialized() and dist.get_backend() == "mpi" and dist.get_rank() == r
    assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(n)
    assert os.environ["LOCAL_WORLD_SIZE"] == str(n) and os.environ["LOCAL_RANK"] == str(r)
    assert dist.get_node_local_rank() == r
    if "OMP_NUM_THREADS" not in os.environ:
        assert torch.get_num_threads() == max(1, len(os.sched_getaffinity(0)) // n), torch.get_num_threads()
    # A parameter that requires grad: broadcast writes its data (as DDP's first broadcast does).
    p = torch.nn.Parameter(torch.full((4,), float(r)))
    dist.broadcast(p, src=0)
    same(p.detach(), torch.zeros(4), "broadcast into a Parameter")
    bits = torch.tensor([r == 0, True, False])
    dist.all_reduce(bits)  # SUM of bools is a logical or
    assert bits.tolist() == [True, True, False]
    objs = [{"rank": r}] if r == 1 else [None]
    dist.broadcast_object_list(objs, src=1)
    assert objs == [{"rank": 1}]
    every = [None] * n
    dist.all_gather_object(every, ("hello", r))
    assert every == [("hello", i) for i in range(n)]
    work = dist.barrier(async_op=True)
    work.wait()
    t = torch.empty(0)
    dist.all_reduce(t)
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group(backend="mpi", timeout=datetime.timedelta(seconds=30))
    t = torch.ones(1)
    dist.all_reduce(t)
    same(t, torch.tensor([float(n)]), "all_reduce after re-initialising")


def main(mode):
    if mode == "checks":
        dist.init_process_group()
        n, r = dist.get_world_size(), dist.get_rank()
        for dtype in DTYPES:
            check_reductions(n, r, dtype)
            check_movement(n, r, dtype)
        check_groups(n, r)
        check_errors(n, r)
        check_misc(n, r)
        dist.barrier()
        print(f"rank {r}: ALL OK", flush=True)
    elif mode == "fail":
        dist.init_process_group()
        if dist.get_rank() == 1:
            raise RuntimeError("rank 1 fails on purpose")
        dist.barrier()
        time.sleep(60)  # never reached: the job is aborted
    elif mode == "reorder":  # RANK given per process (the launcher's way) wins over MPI's numbering
        from mpi4py import MPI
        dist.init_process_group()
        assert dist.get_rank() == int(os.environ["RANK"]) != MPI.COMM_WORLD.Get_rank()
        ranks = [None] * dist.get_world_size()
        dist.all_gather_object(ranks, MPI.COMM_WORLD.Get_rank())
        assert ranks == list(reversed(range(dist.get_world_size()))), ranks
        print(f"rank {dist.get_rank()}: ALL OK", flush=True)
    elif mode in ("exit", "raise_exit"):
        dist.init_process_group()
        if dist.get_rank() == 1:
            if mode == "exit":
                sys.exit(3)
            raise SystemExit(3)
        dist.barrier()
        time.sleep(60)
    elif mode == "timeout":
        dist.init_process_group(timeout=datetime.timedelta(seconds=1))
        if dist.get_rank() != 1:
            dist.all_reduce(torch.ones(3))
        time.sleep(60)  # rank 1 waits here until rank 0's timeout aborts the job


if __name__ == "__main__":
    main(sys.argv[1])
