"""Run on every rank by tests/test_distributed_comm.py and tests/test_ddp_comm_hook.py: all_to_all,
all_to_all_single, batch_isend_irecv, monitored_barrier and Work.get_future against the
single-process result (every rank builds every rank's inputs), and DDP communication hooks against
single-process full-batch training.

    mpiexec -n 3 python tests/dist_comm_checks.py checks     # the collectives
    mpiexec -n 2 python tests/dist_comm_checks.py ddp        # DDP with communication hooks
    mpiexec -n 3 python tests/dist_comm_checks.py missing    # rank 2 skips a monitored_barrier
    mpiexec -n 3 python tests/dist_comm_checks.py missing_all
Prints "ALL OK" on each rank that passes.
"""
import copy
import datetime
import sys
import time

import gradcore as torch
import gradcore.distributed as dist
import gradcore.nn.functional as F
from gradcore.distributed.algorithms.ddp_comm_hooks import default_hooks
from gradcore.futures import Future
from gradcore.nn.parallel import DistributedDataParallel as DDP

from ddp_checks import B, close, data, mlp
from dist_checks import expect, inputs, same

DTYPES = [torch.float32, torch.float64, torch.int64, torch.int8, torch.bfloat16, torch.float16]


def split(src, dst):
    """Rows rank ``src`` sends to rank ``dst`` in the uneven checks (some are 0)."""
    return (src + 2 * dst) % 3


def block(src, dst, dtype):
    """What rank ``src`` sends to rank ``dst``: its rows numbered 100 src + 10 dst + j."""
    rows = split(src, dst)
    return (torch.arange(rows * 2).reshape(rows, 2) // 2 + 100 * src + 10 * dst).to(dtype)


def check_all_to_all_single(n, r, dtype):
    every = inputs(n, dtype, shape=(2 * n, 3), seed=4)  # every[i]: rank i's input, 2 rows per rank
    out = torch.zeros(2 * n, 3, dtype=dtype)
    dist.all_to_all_single(out, every[r].clone())
    same(out, torch.cat([every[i][2 * r:2 * r + 2] for i in range(n)]), f"all_to_all_single {dtype}")
    # uneven splits, some empty, async with a Future
    mine = torch.cat([block(r, k, dtype) for k in range(n)])
    out = torch.full((sum(split(i, r) for i in range(n)), 2), -1).to(dtype)
    work = dist.all_to_all_single(out, mine, [split(i, r) for i in range(n)], [split(r, k) for k in range(n)],
                                  async_op=True)
    value = work.get_future().wait()
    assert isinstance(value, list) and value[0] is out
    same(out, torch.cat([block(i, r, dtype) for i in range(n)]), f"all_to_all_single uneven {dtype}")
    # into a non-contiguous output (a staged copy written back)
    base = torch.zeros(3, 2 * n, dtype=dtype)
    dist.all_to_all_single(base.t(), every[r].reshape(2 * n, 3).clone())
    same(base.t(), torch.cat([every[i][2 * r:2 * r + 2] for i in range(n)]), f"all_to_all_single into a view {dtype}")


def check_all_to_all(n, r, dtype):
    ins = [torch.full((k + 1, r + 1), 10 * r + k).to(dtype) for k in range(n)]  # to rank k: shape (k+1, r+1)
    outs = [torch.zeros(r + 1, i + 1, dtype=dtype) for i in range(n)]            # from rank i: (r+1, i+1)
    dist.all_to_all(outs, ins)
    for i in range(n):
        same(outs[i], torch.full((r + 1, i + 1), 10 * i + r).to(dtype), f"all_to_all from {i} {dtype}")
    outs = [torch.zeros(r + 1, i + 1, dtype=dtype) for i in range(n)]
    work = dist.all_to_all(outs, ins, async_op=True)
    assert work.wait() and work.result() is outs
    same(outs[n - 1], torch.full((r + 1, n), 10 * (n - 1) + r).to(dtype), f"async all_to_all {dtype}")


def check_batch_p2p(n, r):
    got = torch.zeros(4)
    ops = [dist.P2POp(dist.irecv, got, (r - 1) % n), dist.P2POp(dist.isend, torch.full((4,), float(r)), (r + 1) % n)]
    works = dist.batch_isend_irecv(ops)  # the receive listed first: non-blocking, so no deadlock
    assert len(works) == 2
    for w in works:
        w.wait()
    same(got, torch.full((4,), float((r - 1) % n)), "batch_isend_irecv ring")
    # both ways with one peer, by group_peer, with tags
    peer = r ^ 1
    if peer < n:
        a, b = torch.zeros(2, dtype=torch.int64), torch.zeros(3)
        works = dist.batch_isend_irecv([
            dist.P2POp(dist.isend, torch.tensor([r, 7]), group_peer=peer, tag=1),
            dist.P2POp(dist.isend, torch.full((3,), r + 0.5), group_peer=peer, tag=2),
            dist.P2POp(dist.irecv, b, group_peer=peer, tag=2),
            dist.P2POp(dist.irecv, a, group_peer=peer, tag=1)])
        for w in works:
            w.wait()
        assert a.tolist() == [peer, 7] and b.tolist() == [peer + 0.5] * 3, (a, b)
    op = dist.P2POp(dist.isend, torch.ones(1), (r + 1) % n)
    assert repr(op).startswith(f"P2POp(isend pg=default_pg, group_src={r}, group_dst={(r + 1) % n}")
    expect(ValueError, "Invalid ``op``", lambda: dist.P2POp(dist.send, torch.ones(1), 0))
    expect(ValueError, "of type ``torch.distributed.P2POp``", lambda: dist.batch_isend_irecv([op, "send"]))
    expect(ValueError, "Must specify", lambda: dist.P2POp(dist.isend, torch.ones(1)))
    expect(ValueError, "not part of group", lambda: dist.P2POp(dist.isend, torch.ones(1), n))


def check_futures(n, r):
    t = torch.full((3,), float(r + 1))
    fut = dist.all_reduce(t, async_op=True).get_future()
    doubled = fut.then(lambda f: f.value()[0] * 2)
    assert isinstance(fut, Future)
    same(doubled.wait(), torch.full((3,), n * (n + 1.0)), "Future.then of an all_reduce")
    assert fut.done() and fut.value()[0] is t
    work = dist.all_reduce(torch.ones(2), async_op=True)
    work.wait()
    seen = []
    work.get_future().add_done_callback(lambda f: seen.append(f.value()[0].tolist()))  # completed: runs at once
    assert seen == [[float(n)] * 2], seen
    futs = [dist.broadcast(torch.full((2,), float(r)), src=s, async_op=True).get_future() for s in range(n)]
    values = torch.futures.wait_all(futs)
    assert [v[0].tolist() for v in values] == [[float(s)] * 2 for s in range(n)]


def check_monitored_barrier(n, r):
    dist.monitored_barrier(timeout=datetime.timedelta(seconds=20))
    dist.monitored_barrier(wait_all_ranks=True)
    g = dist.new_group([0, n - 1])
    if r in (0, n - 1):
        dist.monitored_barrier(g, timeout=datetime.timedelta(seconds=20))
    expect(TypeError, "timedelta", lambda: dist.monitored_barrier(timeout="1s"))


def check_errors(n, r):
    expect(RuntimeError, "does not divide equally", lambda: dist.all_to_all_single(torch.zeros(n), torch.zeros(n + 1)))
    expect(RuntimeError, "Number of tensor splits not equal to group size",
           lambda: dist.all_to_all_single(torch.zeros(n), torch.zeros(n), [1] * n, [n]))
    expect(RuntimeError, "Split sizes doesn't match total dim 0 size",
           lambda: dist.all_to_all_single(torch.zeros(n), torch.zeros(n), None, [2] * n))
    expect(ValueError, "different dtypes", lambda: dist.all_to_all_single(torch.zeros(n), torch.zeros(n).double()))
    expect(RuntimeError, "one tensor per rank", lambda: dist.all_to_all([torch.zeros(1)] * n, [torch.zeros(1)]))
    expect(TypeError, "List[Tensor]", lambda: dist.all_to_all(torch.zeros(n), [torch.zeros(1)] * n))


def run_checks():
    dist.init_process_group()
    n, r = dist.get_world_size(), dist.get_rank()
    for dtype in DTYPES:
        check_all_to_all_single(n, r, dtype)
        check_all_to_all(n, r, dtype)
    check_batch_p2p(n, r)
    check_futures(n, r)
    check_monitored_barrier(n, r)
    check_errors(n, r)
    dist.barrier()


# ---- DDP communication hooks ----

def train_with_hook(state, hook, dtype=torch.float64, tol=1e-5, steps=2, **ddp_kwargs):
    """DDP with ``hook`` against one process on the whole batch (and the same DDP without a hook)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(11 + rank)
    model = mlp().to(dtype)
    ddp = DDP(model, **ddp_kwargs)
    if hook is not None:
        ddp.register_comm_hook(state, hook)
    ref = copy.deepcopy(model)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, ref)]
    for step in range(steps):
        x, y = data((6,), world, step)
        x = x.to(dtype)
        for o in opts:
            o.zero_grad()
        F.cross_entropy(ddp(x[rank * B:(rank + 1) * B]), y[rank * B:(rank + 1) * B]).backward()
        F.cross_entropy(ref(x), y).backward()
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            close(p.grad.double(), q.grad.double(), f"{getattr(hook, '__name__', hook)} step {step} {name}", tol)
        for o in opts:
            o.step()
    return model


def check_bucket_api():
    """The GradBucket a hook sees: buckets in order, index/is_last, buffer = the gradients
    concatenated (not yet averaged), gradients() views of it, parameters()."""
    world = dist.get_world_size()
    seen = []

    def recording_hook(state, bucket):
        flat = torch.cat([g.reshape(-1) for g in bucket.gradients()])
        assert (flat == bucket.buffer()).all().item(), "gradients() are the buffer's slices"
        assert [tuple(g.shape) for g in bucket.gradients()] == [tuple(p.shape) for p in bucket.parameters()]
        seen.append((bucket.index(), bucket.is_last(), bucket.buffer().numel(), state))
        return default_hooks.allreduce_hook(None, bucket)

    model = train_with_hook("my state", recording_hook, bucket_cap_mb=0.0005)
    assert seen and len(seen) % 2 == 0, seen  # each of the 2 steps runs the hook on every bucket
    per_step = len(seen) // 2
    assert [s[0] for s in seen] == list(range(per_step)) * 2 and [s[1] for s in seen][:per_step] == \
        [False] * (per_step - 1) + [True]
    assert sum(s[2] for s in seen[:per_step]) == sum(p.numel() for p in model.parameters())
    assert all(s[3] == "my state" for s in seen)

    def immediate_hook(state, bucket):  # a Future completed at once: a blocking all-reduce
        buf = bucket.buffer()
        dist.all_reduce(buf)
        fut = Future()
        fut.set_result(buf / world)  # a new tensor: DDP copies it into the bucket
        return fut

    train_with_hook(None, immediate_hook, gradient_as_bucket_view=True)


def check_hook_overlaps_backward():
    """With two buckets, the hook of the first (the last layers, over 1 MB) runs while backward
    still has the first layer's gradients to compute: its communication overlaps backward."""
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(6, 400), torch.nn.Tanh(), torch.nn.Linear(400, 400),
                                torch.nn.Linear(400, 3)).double()
    ddp = DDP(model)
    seen, at_first_layer = [], []

    def recording_hook(state, bucket):
        seen.append((bucket.index(), bucket.is_last(), len(bucket.parameters())))
        return default_hooks.allreduce_hook(state, bucket)

    ddp.register_comm_hook(None, recording_hook)
    model[0].weight.register_hook(lambda g: at_first_layer.append(list(seen)))
    ref = copy.deepcopy(model)
    x, y = data((6,), world, 0)
    F.cross_entropy(ddp(x[rank * B:(rank + 1) * B]), y[rank * B:(rank + 1) * B]).backward()
    F.cross_entropy(ref(x), y).backward()
    assert seen == [(0, False, 4), (1, True, 2)], seen
    assert at_first_layer == [[(0, False, 4)]], at_first_layer  # bucket 0 launched before layer 0's gradient
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        close(p.grad, q.grad, f"two buckets {name}")


def check_hook_errors():
    ddp = DDP(mlp().double())
    expect(TypeError, "must be callable", lambda: ddp.register_comm_hook(None, 3))
    ddp.register_comm_hook(None, default_hooks.allreduce_hook)
    expect(RuntimeError, "can only be called once",
           lambda: ddp.register_comm_hook(None, default_hooks.fp16_compress_hook))
    x, y = data((6,), 1, 0)
    for bad, exc, text in ((lambda s, b: b.buffer(), TypeError, "must return a gradcore.futures.Future"),
                           (lambda s, b: _done(torch.zeros(1)), RuntimeError, "must hold a tensor of the bucket's")):
        ddp = DDP(mlp().double())
        ddp.register_comm_hook(None, bad)
        expect(exc, text, lambda: F.cross_entropy(ddp(x), y).backward())


def _done(value):
    fut = Future()
    fut.set_result(value)
    return fut


def run_ddp():
    dist.init_process_group()
    train_with_hook(None, default_hooks.allreduce_hook)
    train_with_hook(None, default_hooks.allreduce_hook, bucket_cap_mb=0.0005, gradient_as_bucket_view=True)
    train_with_hook(dist.group.WORLD, default_hooks.fp16_compress_hook, torch.float32, tol=2e-3)
    train_with_hook(None, default_hooks.bf16_compress_hook, torch.float32, tol=2e-2)
    train_with_hook(None, default_hooks.fp16_compress_wrapper(default_hooks.allreduce_hook), torch.float32, tol=2e-3)
    check_bucket_api()
    check_hook_overlaps_backward()
    check_hook_errors()
    dist.barrier()


def run_missing(wait_all):
    """Rank 2 (ranks 1 and 2 with wait_all) never reaches the monitored barrier: rank 0 must raise
    naming it (them); the others wait until the job is aborted."""
    dist.init_process_group()
    if dist.get_rank() == 2 or (wait_all and dist.get_rank() == 1):
        time.sleep(60)
    dist.monitored_barrier(timeout=datetime.timedelta(seconds=1), wait_all_ranks=wait_all)
    time.sleep(60)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "checks":
        run_checks()
    elif mode == "ddp":
        run_ddp()
    else:
        run_missing(mode == "missing_all")
    print(f"rank {dist.get_rank()}: ALL OK", flush=True)
