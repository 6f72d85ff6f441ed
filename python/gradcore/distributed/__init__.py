"""gradcore.distributed: PyTorch's ``torch.distributed`` on MPI (CPU tensors) and NCCL (CUDA tensors).

Start N processes with ``python -m gradcore.distributed.run --nproc-per-node N train.py`` or
``mpiexec -n N python train.py`` (``mpiexec -f hosts -n N`` across machines); each calls
``init_process_group()`` and then the collectives::

    import gradcore as torch
    import gradcore.distributed as dist

    dist.init_process_group()
    t = torch.ones(3) * dist.get_rank()
    dist.all_reduce(t)                      # every rank: the sum over ranks
    work = dist.all_reduce(t, async_op=True)
    work.wait()

Importing this package does not import mpi4py; init_process_group does (``pip install
"gradcore[distributed]"`` installs it with the mpich library).
"""
from ._grad_bucket import GradBucket
from ._work import DistBackendError, DistError, Work
from .distributed_c10d import (Backend, GroupMember, ProcessGroup, ReduceOp, default_pg_timeout,
                               destroy_process_group, get_backend, get_global_rank, get_group_rank,
                               get_node_local_rank, get_process_group_ranks, get_rank, get_world_size, group,
                               init_process_group, is_available, is_backend_available, is_gloo_available,
                               is_initialized, is_mpi_available, is_nccl_available, new_group)
from ._collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce, barrier, broadcast,
                           broadcast_object_list, gather, gather_object, irecv, isend, recv, reduce, reduce_scatter,
                           reduce_scatter_tensor, scatter, send)
from ._all_to_all import all_to_all, all_to_all_single
from ._p2p_batch import P2POp, batch_isend_irecv, monitored_barrier

all_gather_single = all_gather_into_tensor
reduce_scatter_single = reduce_scatter_tensor

__all__ = [
    "Backend", "DistBackendError", "DistError", "GradBucket", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp",
    "Work", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_gather_single", "all_reduce",
    "all_to_all", "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list",
    "default_pg_timeout", "destroy_process_group", "gather", "gather_object", "get_backend", "get_global_rank",
    "get_group_rank", "get_node_local_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "irecv", "is_available", "is_backend_available", "is_gloo_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "isend", "monitored_barrier", "new_group", "recv", "reduce",
    "reduce_scatter", "reduce_scatter_single", "reduce_scatter_tensor", "scatter", "send",
]
