"""The collectives and point-to-point operations, PyTorch's signatures and semantics.

Each operation starts MPI's non-blocking twin (Iallreduce, Ibcast, ...) on the group's
communicator and returns a Work: the caller's handle with ``async_op=True``, waited for here
otherwise; waiting is bounded by the group's timeout. CUDA tensors of an ``nccl`` group go to
NCCL instead, on the current stream. A rank outside ``group`` warns and does nothing, as PyTorch.
"""
import warnings

import gradcore
from . import _nccl
from ._mpi import Staged, load_mpi, mpi_op
from ._work import Work
from .distributed_c10d import GroupMember, ReduceOp, _resolve



def _check_tensor(t, name, op):
    if not isinstance(t, gradcore.Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type Tensor but got {type(t)} "
                        f"instead ({op}).")


def _check_tensor_list(ts, name, op):
    if not isinstance(ts, list) or not all(isinstance(t, gradcore.Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[Tensor] but got "
                        f"{type(ts)} instead ({op}).")


def _check_op(op, dtype, name):
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(f"{name}: op must be a ReduceOp (ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR), "
                        f"got {op!r}")
    if op == ReduceOp.AVG and not dtype.is_floating_point:
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}. Hint: reduce with "
                         "ReduceOp.SUM and divide by get_world_size().")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.is_floating_point:
        raise ValueError(f"{name}: {op.name} is a bitwise reduction and needs an integer or bool tensor, got {dtype}")


def _like(t, ref, index, op, what):
    """RuntimeError unless ``t`` has ``ref``'s shape and dtype (as PyTorch's backends check)."""
    if t.dtype != ref.dtype:
        raise RuntimeError(f"{op}: invalid tensor type at index {index} (expected {ref.dtype}, got {t.dtype}) "
                           f"in {what}")
    if tuple(t.shape) != tuple(ref.shape):
        raise RuntimeError(f"{op}: invalid tensor size at index {index} (expected {list(ref.shape)}, got "
                           f"{list(t.shape)}) in {what}")


def _group_rank(pg, global_rank, group_rank, what, op):
    """The group rank named by a global ``src``/``dst`` or by ``group_src``/``group_dst``."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"Can't specify both group_{what} and {what}")
        if not 0 <= group_rank < pg.size():
            raise RuntimeError(f"{op}: invalid {what} rank: group_{what}={group_rank} for a group of {pg.size()} ranks")
        return group_rank
    if global_rank is None:
        raise ValueError(f"Must specify {what} or group_{what}")
    if global_rank not in pg.ranks:
        raise RuntimeError(f"{op}: invalid {what} rank: {global_rank} (the group's global ranks are {pg.ranks})")
    return pg.ranks.index(global_rank)


def _outside(pg, op):
    if pg is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running {op} on global rank {_resolve(None).global_rank} which does not belong to the given "
                      "group.", stacklevel=3)
        return True
    return False


def _nccl_group(pg, tensor):
    """The group's NCCL communicator when ``tensor`` is a CUDA tensor of an nccl group, else None."""
    if pg.backend == "nccl" and tensor.is_cuda:
        return _nccl.communicator(pg, tensor)
    return None


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _average(staged_list, n):
    """Divides each staged buffer by the group size (ReduceOp.AVG), before its copy-back."""
    def divide():
        with gradcore.no_grad():
            for s in staged_list:
                s.staged.div_(n)
    return divide


def _run(op_name, pg, requests, staged, async_op, before=(), after=(), result=None):
    """The Work of the started ``requests``: once they complete it runs ``before`` (on the staged
    buffers), writes the staged copies back, then runs ``after``."""
    finish = list(before) + [s.finish for s in staged] + list(after)
    work = Work(requests, op_name, pg, finish=finish, keep=staged, result=result)
    return _finish(work, async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copies ``tensor`` from rank ``src`` (a global rank; ``group_src`` names it in ``group``) to every rank."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "broadcast")
    if _outside(pg, "broadcast"):
        return None
    root = _group_rank(pg, src, group_src, "src", "broadcast")
    if (nccl := _nccl_group(pg, tensor)) is not None:
        return _finish(nccl.broadcast(tensor, root), async_op)
    s = Staged(tensor, writes=True)
    return _run("broadcast", pg, [pg.comm.Ibcast(s.spec, root=root)], [s], async_op, result=[tensor])


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``tensor`` over every rank with ``op``; every rank gets the result in ``tensor``."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "all_reduce")
    _check_op(op, tensor.dtype, "all_reduce")
    if _outside(pg, "all_reduce"):
        return None
    if (nccl := _nccl_group(pg, tensor)) is not None:
        return _finish(nccl.all_reduce(tensor, op), async_op)
    MPI = load_mpi()
    s = Staged(tensor, reducing=True, writes=True)
    avg = [_average([s], pg.size())] if op == ReduceOp.AVG else []
    return _run("all_reduce", pg, [pg.comm.Iallreduce(MPI.IN_PLACE, s.spec, mpi_op(MPI, op, tensor.dtype))],
                [s], async_op, before=avg, result=[tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduces ``tensor`` over every rank with ``op`` into ``tensor`` on rank ``dst`` only."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "reduce")
    _check_op(op, tensor.dtype, "reduce")
    if _outside(pg, "reduce"):
        return None
    root = _group_rank(pg, dst, group_dst, "dst", "reduce")
    if (nccl := _nccl_group(pg, tensor)) is not None:
        return _finish(nccl.reduce(tensor, op, root), async_op)
    MPI = load_mpi()
    mine = pg.rank() == root
    s = Staged(tensor, reducing=True, writes=mine)
    avg = [_average([s], pg.size())] if op == ReduceOp.AVG and mine else []
    mop = mpi_op(MPI, op, tensor.dtype)
    if mine:
        start = [pg.comm.Ireduce(MPI.IN_PLACE, s.spec, mop, root=root)]
    else:
        start = [pg.comm.Ireduce(s.spec, None, mop, root=root)]
    return _run("reduce", pg, start, [s], async_op, before=avg, result=[tensor])


def _copy_rows(rows, targets):
    """Copies row i of ``rows`` (a [n, ...] tensor) into ``targets[i]``."""
    def copy():
        with gradcore.no_grad():
            for i, t in enumerate(targets):
                t.copy_(rows[i])
    return copy


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gathers ``tensor`` of every rank into ``tensor_list`` (one tensor per rank, in rank order)."""
    pg = _resolve(group)
    _check_tensor_list(tensor_list, "tensor_list", "all_gather")
    _check_tensor(tensor, "tensor", "all_gather")
    if _outside(pg, "all_gather"):
        return None
    n = pg.size()
    if len(tensor_list) != n:
        raise RuntimeError(f"all_gather: invalid output tensor list (expected length {n}, got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        _like(t, tensor, i, "all_gather", "tensor_list")
    rows = gradcore.empty((n,) + tuple(tensor.shape), dtype=tensor.dtype, device=tensor.device)
    work = all_gather_into_tensor(rows, tensor, pg, async_op=True)
    work._then(_copy_rows(rows, tensor_list))
    work._result = tensor_list
    return _finish(work, async_op)


def _check_numel_ratio(big, small, n, op, big_name, small_name):
    if big.dtype != small.dtype:
        raise RuntimeError(f"{op}: {big_name} and {small_name} must have the same dtype, got {big.dtype} and "
                           f"{small.dtype}")
    if big.numel() != n * small.numel():
        raise RuntimeError(f"{op}: {big_name} must have world_size ({n}) times as many elements as {small_name} "
                           f"({small.numel()}), got {big_name} of shape {list(big.shape)} ({big.numel()} elements) "
                           f"and {small_name} of shape {list(small.shape)}")
    if big.device != small.device:
        raise RuntimeError(f"{op}: {big_name} and {small_name} must be on the same device, got {big.device} and "
                           f"{small.device}")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gathers ``input_tensor`` of every rank, concatenated in rank order along dim 0 (or stacked),
    into ``output_tensor`` (world_size times its elements)."""
    pg = _resolve(group)
    _check_tensor(output_tensor, "output_tensor", "all_gather_into_tensor")
    _check_tensor(input_tensor, "input_tensor", "all_gather_into_tensor")
    if _outside(pg, "all_gather_into_tensor"):
        return None
    _check_numel_ratio(output_tensor, input_tensor, pg.size(), "all_gather_into_tensor", "output_tensor",
                       "input_tensor")
    if (nccl := _nccl_group(pg, input_tensor)) is not None:
        return _finish(nccl.all_gather(output_tensor, input_tensor), async_op)
    src, dst = Staged(input_tensor), Staged(output_tensor, writes=True)
    return _run("all_gather_into_tensor", pg, [pg.comm.Iallgather(src.spec, dst.spec)], [src, dst], async_op,
                result=[output_tensor])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``input`` (world_size blocks along dim 0) over every rank with ``op``; rank r gets
    block r of the result in ``output``."""
    pg = _resolve(group)
    _check_tensor(output, "output", "reduce_scatter_tensor")
    _check_tensor(input, "input", "reduce_scatter_tensor")
    _check_op(op, input.dtype, "reduce_scatter_tensor")
    if _outside(pg, "reduce_scatter_tensor"):
        return None
    _check_numel_ratio(input, output, pg.size(), "reduce_scatter_tensor", "input", "output")
    if (nccl := _nccl_group(pg, input)) is not None:
        return _finish(nccl.reduce_scatter(output, input, op), async_op)
    MPI = load_mpi()
    src, dst = Staged(input, reducing=True), Staged(output, reducing=True, writes=True)
    avg = [_average([dst], pg.size())] if op == ReduceOp.AVG else []
    mop = mpi_op(MPI, op, input.dtype)
    return _run("reduce_scatter_tensor", pg, [pg.comm.Ireduce_scatter_block(src.spec, dst.spec, mop)],
                [src, dst], async_op, before=avg, result=[output])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``input_list`` (one tensor per rank) over every rank; rank r gets entry r in ``output``."""
    pg = _resolve(group)
    _check_tensor(output, "output", "reduce_scatter")
    _check_tensor_list(input_list, "input_list", "reduce_scatter")
    if _outside(pg, "reduce_scatter"):
        return None
    if len(input_list) != pg.size():
        raise RuntimeError(f"reduce_scatter: invalid input tensor list (expected length {pg.size()}, got "
                           f"{len(input_list)})")
    for i, t in enumerate(input_list):
        _like(t, output, i, "reduce_scatter", "input_list")
    return reduce_scatter_tensor(output, gradcore.stack(input_list), op, pg, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Gathers ``tensor`` of every rank into ``gather_list`` on rank ``dst`` (None elsewhere)."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "gather")
    if _outside(pg, "gather"):
        return None
    root = _group_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst", "gather")
    mine = pg.rank() == root
    if mine:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_tensor_list(gather_list, "gather_list", "gather")
        if len(gather_list) != pg.size():
            raise RuntimeError(f"gather: invalid output tensor list (expected length {pg.size()}, got "
                               f"{len(gather_list)})")
        for i, t in enumerate(gather_list):
            _like(t, tensor, i, "gather", "gather_list")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    src = Staged(tensor)
    if not mine:
        return _run("gather", pg, [pg.comm.Igather(src.spec, None, root=root)], [src], async_op)
    rows = gradcore.empty((pg.size(),) + tuple(tensor.shape), dtype=tensor.dtype, device=tensor.device)
    dst_s = Staged(rows, writes=True)
    return _run("gather", pg, [pg.comm.Igather(src.spec, dst_s.spec, root=root)], [src, dst_s], async_op,
                after=[_copy_rows(rows, gather_list)], result=gather_list)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Sends ``scatter_list[r]`` of rank ``src`` to rank r, into its ``tensor``."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "scatter")
    if _outside(pg, "scatter"):
        return None
    root = _group_rank(pg, 0 if src is None and group_src is None else src, group_src, "src", "scatter")
    mine = pg.rank() == root
    if mine:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_tensor_list(scatter_list, "scatter_list", "scatter")
        if len(scatter_list) != pg.size():
            raise RuntimeError(f"scatter: invalid input tensor list (expected length {pg.size()}, got "
                               f"{len(scatter_list)})")
        for i, t in enumerate(scatter_list):
            _like(t, tensor, i, "scatter", "scatter_list")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    dst = Staged(tensor, writes=True)
    if not mine:
        return _run("scatter", pg, [pg.comm.Iscatter(None, dst.spec, root=root)], [dst], async_op,
                    result=[tensor])
    rows = Staged(gradcore.stack([t.detach() for t in scatter_list]))
    return _run("scatter", pg, [pg.comm.Iscatter(rows.spec, dst.spec, root=root)], [rows, dst], async_op,
                result=[tensor])


def barrier(group=None, async_op=False, device_ids=None):
    """Blocks until every rank of ``group`` has entered the barrier."""
    pg = _resolve(group)
    if _outside(pg, "barrier"):
        return None
    return _run("barrier", pg, [pg.comm.Ibarrier()], [], async_op)


def _peer(pg, global_rank, group_rank, what, op):
    peer = _group_rank(pg, global_rank, group_rank, what, op)
    if peer == pg.rank():
        name = "destination" if what == "dst" else "source"
        raise ValueError(f"Invalid {name} rank: {name} rank should not be the same as the rank of the current process.")
    return peer


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Starts sending ``tensor`` to rank ``dst``; returns its Work."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "isend")
    if _outside(pg, "isend"):
        return None
    peer = _peer(pg, dst, group_dst, "dst", "isend")
    if (nccl := _nccl_group(pg, tensor)) is not None:
        return nccl.send(tensor, peer)
    s = Staged(tensor)
    return Work([pg.comm.Isend(s.spec, dest=peer, tag=tag)], "send", pg, keep=s)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Starts receiving into ``tensor`` from rank ``src`` (any rank when None); returns its Work."""
    pg = _resolve(group)
    _check_tensor(tensor, "tensor", "irecv")
    if _outside(pg, "irecv"):
        return None
    MPI = load_mpi()
    any_source = src is None and group_src is None
    peer = MPI.ANY_SOURCE if any_source else _peer(pg, src, group_src, "src", "irecv")
    if (nccl := _nccl_group(pg, tensor)) is not None:
        if any_source:
            raise RuntimeError("irecv: the nccl backend needs a source rank (src=None, receiving from any rank, "
                               "works on MPI only)")
        return nccl.recv(tensor, peer)
    s = Staged(tensor, writes=True)
    return Work([pg.comm.Irecv(s.spec, source=peer, tag=tag)], "recv", pg, finish=[s.finish], keep=s, result=[tensor],
                source_group=pg)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Sends ``tensor`` to rank ``dst`` and waits until it is sent."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receives into ``tensor`` from rank ``src`` (any rank when None); returns the sender's global rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    pg = _resolve(group)
    if work._source_group is None:
        return pg.ranks[_group_rank(pg, src, group_src, "src", "recv")]
    return work.source_rank()


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replaces ``object_list`` on every rank by rank ``src``'s (picklable objects)."""
    pg = _resolve(group)
    if _outside(pg, "broadcast_object_list"):
        return
    root = _group_rank(pg, 0 if src is None and group_src is None else src, group_src, "src", "broadcast_object_list")
    object_list[:] = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)


def all_gather_object(object_list, obj, group=None):
    """Fills ``object_list`` (world_size long) with ``obj`` of every rank, in rank order."""
    pg = _resolve(group)
    if _outside(pg, "all_gather_object"):
        return
    if len(object_list) != pg.size():
        raise RuntimeError(f"all_gather_object: object_list must have world_size ({pg.size()}) entries, got "
                           f"{len(object_list)}")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Gathers ``obj`` of every rank into ``object_gather_list`` on rank ``dst``."""
    pg = _resolve(group)
    if _outside(pg, "gather_object"):
        return
    root = _group_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst", "gather_object")
    got = pg.comm.gather(obj, root=root)
    if pg.rank() == root:
        if object_gather_list is None or len(object_gather_list) != pg.size():
            raise ValueError("Argument ``object_gather_list`` must be specified on destination rank, with world_size "
                             "entries.")
        object_gather_list[:] = got
