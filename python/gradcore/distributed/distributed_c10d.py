"""Process groups: init_process_group, new_group and the rank queries, on MPI (and NCCL).

Every process group holds an MPI communicator; a group of the ``nccl`` backend also holds an NCCL
communicator (its unique id sent over MPI) that CUDA tensors use. MPI does the rendezvous, so
``init_method`` and ``store`` are accepted for PyTorch compatibility and not needed.
"""
import enum
import os
import sys
import time
import traceback
from datetime import timedelta

import gradcore
from ._mpi import end_job_on_failed_exit, exit_handler_installed, load_mpi, mpi4py_installed

default_pg_timeout = timedelta(minutes=30)


class Backend(str):
    """A backend name, lower-cased: ``Backend("MPI") == "mpi"``."""
    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"
    UNDEFINED = "undefined"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, got {type(name).__name__}")
        value = name.lower()
        if value not in (cls.MPI, cls.NCCL, cls.GLOO):
            raise ValueError(f"Invalid backend: '{name}'. gradcore.distributed has the backends 'mpi' (CPU tensors, "
                             "and CUDA tensors through host memory) and 'nccl' (CUDA tensors); 'gloo' runs on MPI.")
        return str.__new__(cls, value)


class ReduceOp:
    """The reductions of all_reduce, reduce and reduce_scatter (``ReduceOp.SUM`` ...)."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


class ProcessGroup:
    """A set of ranks that run collectives together: its MPI communicator, the global rank of each
    member (``ranks[group_rank]``), its backend and its timeout."""

    def __init__(self, comm, ranks, backend, timeout, name):
        self.comm = comm
        self.ranks = list(ranks)
        self.backend = Backend(backend)
        self.timeout = timeout
        self.group_name = name
        self.global_rank = ranks[comm.Get_rank()]
        self.nccl = None  # the NCCL communicator of an nccl group, made on its first CUDA collective

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def name(self):
        return self.backend

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks}, rank={self.rank()})"


class _NonGroupMember:
    """What new_group returns on a rank outside the new group (PyTorch's NON_GROUP_MEMBER)."""

    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class _World:
    default_pg = None
    group_count = 0
    excepthook = None


_world = _World()


class _WorldMeta(type):
    @property
    def WORLD(cls):
        return _world.default_pg


class group(metaclass=_WorldMeta):
    """``group.WORLD``: the default process group."""


class GroupMember(metaclass=_WorldMeta):
    """``GroupMember.WORLD`` and ``GroupMember.NON_GROUP_MEMBER``."""
    NON_GROUP_MEMBER = _NonGroupMember()


def is_available():
    """True when the MPI backend can be used (mpi4py is installed). Imports nothing."""
    return mpi4py_installed()


def is_mpi_available():
    return mpi4py_installed()


def is_nccl_available():
    from . import _nccl
    return _nccl.available()


def is_gloo_available():
    return False


def is_backend_available(backend):
    name = str(backend).lower()
    return {"mpi": is_mpi_available, "nccl": is_nccl_available}.get(name, lambda: False)()


def is_initialized():
    return _world.default_pg is not None


def _default_group():
    if _world.default_pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to call init_process_group.")
    return _world.default_pg


def _resolve(group):
    """The group an operation runs on: the default one for None or WORLD."""
    if group is None or group is GroupMember.WORLD:
        return _default_group()
    if not isinstance(group, (ProcessGroup, _NonGroupMember)):
        raise TypeError(f"Invalid function argument: group must be a ProcessGroup (from new_group) or None, "
                        f"got {type(group).__name__}")
    return group


def _check_timeout(timeout):
    if timeout is None:
        return default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")
    return timeout


def _default_backend():
    from . import _nccl
    return Backend.NCCL if gradcore.cuda.is_available() and _nccl.available() else Backend.MPI


def _env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Error initializing the process group: environment variable {name} must be an integer, "
                         f"got {value!r}") from None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Initializes the default process group: every process of the MPI job (``mpiexec -n N``, or
    ``python -m gradcore.distributed.run``) joins it.

    The rank of a process is ``rank=`` or the ``RANK`` environment variable when given (ranks are
    reordered to match them), else its MPI rank; ``world_size=``/``WORLD_SIZE`` must match the
    number of MPI processes. ``backend`` is ``"mpi"`` (the default on CPU) or ``"nccl"`` (the
    default when gradcore has CUDA and NCCL is installed; CPU tensors still go over MPI).
    ``timeout`` bounds every collective of the group (default 30 minutes): a collective some rank
    never joins raises DistBackendError. Unless OMP_NUM_THREADS is set, each rank's OpenMP threads
    (gradcore.set_num_threads) become the cores divided by the ranks on this machine. An uncaught
    exception on any rank aborts the whole job after printing its traceback, and a rank that
    exits with a failing status (``raise SystemExit(3)``, ``sys.exit(3)``) ends the job with that
    status, instead of leaving the other ranks waiting. ``backend="gloo"`` runs on MPI.
    """
    if _world.default_pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    timeout = _check_timeout(timeout)
    backend = _default_backend() if backend is None else Backend(backend)
    if backend == Backend.GLOO:
        backend = Backend(Backend.MPI)
    if backend == Backend.NCCL:
        from . import _nccl
        _nccl.require()
    MPI = load_mpi()
    world = MPI.COMM_WORLD
    size = world.Get_size()
    want_size = world_size if world_size != -1 else _env_int("WORLD_SIZE", size)
    if want_size != size:
        raise ValueError(f"init_process_group: world_size={want_size} but the MPI job has {size} processes. "
                         f"Hint: start {want_size} processes (mpiexec -n {want_size}, or python -m "
                         f"gradcore.distributed.run --nproc-per-node {want_size}) or leave world_size unset.")
    want_rank = rank if rank != -1 else _env_int("RANK", world.Get_rank())
    keys = world.allgather(want_rank)
    if sorted(keys) != list(range(size)):
        raise ValueError(f"init_process_group: the ranks asked for ({keys}, from rank= or RANK) must be 0..{size - 1}, "
                         "each once. Hint: leave rank unset under mpiexec; MPI numbers the processes.")
    comm = world.Split(0, want_rank)
    _world.default_pg = ProcessGroup(comm, range(size), backend, timeout, group_name or "default_pg")
    _world.group_count = 0
    local = world.Split_type(MPI.COMM_TYPE_SHARED, key=want_rank)
    local_rank, local_size = local.Get_rank(), local.Get_size()
    local.Free()
    for name, value in (("RANK", want_rank), ("WORLD_SIZE", size), ("LOCAL_RANK", local_rank),
                        ("LOCAL_WORLD_SIZE", local_size)):
        os.environ.setdefault(name, str(value))
    if "OMP_NUM_THREADS" not in os.environ:
        gradcore.set_num_threads(max(1, len(os.sched_getaffinity(0)) // local_size))
    if backend == Backend.NCCL and device_id is not None:
        gradcore.cuda.set_device(device_id)
    _install_failure_hooks(want_rank)


_ABORT_DRAIN_S = 0.3


def _abort_job(code):
    """Ends every rank of the MPI job (a job of one process just exits). The pause before the
    abort lets mpiexec forward what this rank just printed (its traceback): an abort kills the
    processes that forward output, and a message still in flight was lost about one run in two."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(_ABORT_DRAIN_S)
    MPI = load_mpi()
    if MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.Get_size() > 1:
        MPI.COMM_WORLD.Abort(code)


def _install_failure_hooks(rank):
    """A rank that ends early would leave the others blocked in their next collective until the
    timeout (plain mpiexec waits for every process). So an uncaught exception prints its traceback
    (each line prefixed with the rank, as PyTorch does) and aborts the MPI job at once: mpich ends
    every process when one aborts. A failing exit status (SystemExit, which never reaches
    sys.excepthook) aborts the job from gradcore's MPI exit handler, which this names the rank to."""
    if exit_handler_installed():
        end_job_on_failed_exit(rank)
    if _world.excepthook is not None:
        return
    previous_hook = sys.excepthook if sys.excepthook is not sys.__excepthook__ else None

    def abort_job_on_uncaught(exc_type, exc, tb):
        lines = traceback.format_exception(exc_type, exc, tb)
        sys.stderr.write("".join(f"[rank{rank}]: {line}" for text in lines for line in text.splitlines(True)))
        _abort_job(1)
        if previous_hook is not None:
            previous_hook(exc_type, exc, tb)

    _world.excepthook = abort_job_on_uncaught
    sys.excepthook = abort_job_on_uncaught


def destroy_process_group(group=None):
    """Frees ``group``'s communicators; the default group (None) ends the distributed state, after
    which init_process_group may be called again."""
    if group is None or group is GroupMember.WORLD:
        pg = _default_group()
        _free(pg)
        _world.default_pg = None
        return
    if isinstance(group, ProcessGroup):
        _free(group)


def _free(pg):
    if pg.nccl is not None:
        pg.nccl.destroy()
        pg.nccl = None
    if pg.comm is not None:
        pg.comm.Free()
        pg.comm = None


def get_rank(group=None):
    """This process's rank in ``group`` (the default group when None); -1 outside the group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _resolve(group).rank()


def get_world_size(group=None):
    """The number of ranks in ``group``; -1 on a rank outside it."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _resolve(group).size()


def get_backend(group=None):
    """The backend of ``group``: ``"mpi"`` or ``"nccl"``."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return pg.backend


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its machine: ``LOCAL_RANK`` (the launcher sets it, and so does
    init_process_group), else mpich's ``MPI_LOCALRANKID`` (plain mpiexec), else ``fallback_rank``."""
    for name in ("LOCAL_RANK", "MPI_LOCALRANKID"):
        if os.environ.get(name):
            return int(os.environ[name])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context and "
                       "want the code to run locally instead.")


def get_group_rank(group, global_rank):
    """``global_rank``'s rank within ``group``."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("group.WORLD does not have local rank to global rank mapping")
    if global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg}")
    return pg.ranks.index(global_rank)


def get_global_rank(group, group_rank):
    """The global rank of ``group``'s rank ``group_rank``."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER or not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
    return pg.ranks[group_rank]


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members, in group-rank order."""
    return list(_resolve(group).ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A process group of the global ``ranks`` (all ranks when None). Every rank of the default
    group calls it, in the same order (only the members with ``use_local_synchronization=True``);
    ranks outside the group get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _default_group()
    n = world.size()
    ranks = sorted(range(n) if ranks is None else ranks)
    if len(ranks) > n:
        raise ValueError("the new group's world size should be less or equal to the world size set by "
                         "init_process_group")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks must be distinct, got {ranks}")
    for r in ranks:
        if not isinstance(r, int) or not 0 <= r < n:
            raise ValueError(f"The new group's rank should be within the world_size set by init_process_group, got {r} "
                             f"for a world of {n}")
    timeout = world.timeout if timeout is None else _check_timeout(timeout)
    backend = world.backend if backend is None else Backend(backend)
    if backend == Backend.GLOO:
        backend = Backend(Backend.MPI)
    if backend == Backend.NCCL:
        from . import _nccl
        _nccl.require()
    _world.group_count += 1
    if world.global_rank not in ranks:
        return GroupMember.NON_GROUP_MEMBER
    # Create_group is collective over the new group's members only, so it serves both ways of calling.
    comm = world.comm.Create_group(world.comm.group.Incl(ranks), tag=_world.group_count)
    return ProcessGroup(comm, ranks, backend, timeout, group_desc or f"group_{_world.group_count}")
