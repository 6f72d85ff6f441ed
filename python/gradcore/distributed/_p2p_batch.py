"""Point-to-point beyond send/recv: ``batch_isend_irecv`` with ``P2POp``, and ``monitored_barrier``
(a barrier that names the ranks that did not reach it), PyTorch's signatures and errors.
"""
import time
import warnings
from datetime import timedelta

from . import _collectives
from ._work import DistBackendError, Work
from .distributed_c10d import GroupMember, _resolve, get_global_rank, get_group_rank, get_rank


def _check_op(op):
    if op not in (_collectives.isend, _collectives.irecv):
        raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                         "``torch.distributed.irecv``.")


class P2POp:
    """One point-to-point operation for ``batch_isend_irecv``: ``op`` is ``isend`` or ``irecv``,
    ``tensor`` what is sent or received into, ``peer`` the other side's global rank (or
    ``group_peer`` its rank in ``group``), ``tag`` matches a send with its receive."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        _check_op(op)
        _collectives._check_tensor(tensor, "tensor", "P2POp")
        self.op = op
        self.tensor = tensor
        self.group = _resolve(group)
        if peer is not None and group_peer is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        if peer is None and group_peer is None:
            raise ValueError("Must specify global_rank or group_rank")
        self.peer = get_global_rank(self.group, group_peer) if group_peer is not None else peer
        self.group_peer = group_peer if group_peer is not None else get_group_rank(self.group, peer)
        self.tag = tag

    def __repr__(self):
        mine = get_rank(self.group)
        src, dst = (mine, self.group_peer) if self.op is _collectives.isend else (self.group_peer, mine)
        return (f"P2POp({self.op.__name__} pg={self.group.group_name}, group_src={src}, group_dst={dst},  "
                f"{self.tensor.shape}, {self.tensor.dtype})")


def batch_isend_irecv(p2p_op_list):
    """Starts every operation of ``p2p_op_list`` (P2POps of one group) and returns their Works, in
    order. The operations are non-blocking, so a batch in which ranks send to each other does not
    deadlock whatever order they are listed in; wait for each Work before using a tensor."""
    if not isinstance(p2p_op_list, list) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    if not p2p_op_list:
        raise ValueError("batch_isend_irecv: p2p_op_list is empty. Hint: pass at least one P2POp.")
    group = p2p_op_list[0].group
    if not all(p.group is group for p in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    works = []
    for p in p2p_op_list:
        key = "group_dst" if p.op is _collectives.isend else "group_src"
        works.append(p.op(p.tensor, group=group, tag=p.tag, **{key: p.group_peer}))
    return works


def _monitored_timeout(pg, timeout):
    if timeout is None:
        return pg.timeout
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        warnings.warn("Please specify timeout arg as a timedelta. Converting current value of "
                      f"{timeout} assuming it represents seconds", stacklevel=3)
        return timedelta(seconds=timeout)
    if not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")
    return timeout


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that says which ranks did not reach it: every rank reports to group rank 0,
    which waits for them at most ``timeout`` (the group's timeout when None), then releases them.
    A rank that does not report in time makes rank 0 raise DistBackendError naming it (the first
    one; all of them with ``wait_all_ranks=True``). The other ranks wait for rank 0's release
    within the group's timeout (a failing rank 0 ends the job, as any uncaught error does).
    """
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running monitored_barrier on global rank {_resolve(None).global_rank} which does not belong "
                      "to the given group.", stacklevel=2)
        return None
    timeout = _monitored_timeout(pg, timeout)
    from ._mpi import load_mpi
    MPI = load_mpi()
    tag = pg.comm.Get_attr(MPI.TAG_UB)  # kept for the barrier: user tags stay below it
    token, release = bytearray(1), bytearray(1)
    rank, n = pg.rank(), pg.size()
    if rank != 0:
        try:
            Work([pg.comm.Isend([token, MPI.BYTE], dest=0, tag=tag),
                  pg.comm.Irecv([release, MPI.BYTE], source=0, tag=tag)], "monitored_barrier", pg).wait()
        except DistBackendError as e:
            raise DistBackendError(f"Rank {rank} successfully reached monitoredBarrier, but received errors while "
                                   "waiting for send/recv from rank 0. Please check rank 0 logs for faulty rank."
                                   ) from e
        return None
    arrivals = {r: pg.comm.Irecv([bytearray(1), MPI.BYTE], source=r, tag=tag) for r in range(1, n)}
    deadline = time.monotonic() + timeout.total_seconds()
    while arrivals and time.monotonic() < deadline:
        arrived = [r for r, req in arrivals.items() if req.Test()]
        for r in arrived:
            del arrivals[r]
        if arrivals and not arrived:
            time.sleep(0.001)
    if arrivals:
        for req in arrivals.values():
            req.Cancel()
            req.Free()
        ms = int(timeout.total_seconds() * 1000)
        missing = sorted(arrivals)
        if wait_all_ranks:
            raise DistBackendError(f"[Rank 0]: Ranks {', '.join(map(str, missing))} failed to pass monitoredBarrier "
                                   f"in {ms} ms")
        raise DistBackendError(f"[Rank 0]: Rank {missing[0]} failed to pass monitoredBarrier in {ms} ms")
    Work([pg.comm.Isend([token, MPI.BYTE], dest=r, tag=tag) for r in range(1, n)], "monitored_barrier", pg).wait()
    return None
