"""The NCCL backend: collectives on CUDA tensors through libnccl.so.2, loaded at run time.

gradcore is built without NCCL's header or library (csrc/cuda/nccl.cpp declares the few entry
points it calls and dlopens the library), so one wheel runs with or without NCCL installed. The
library comes from the ``nvidia-nccl-cu12``/``nvidia-nccl-cu13`` wheels or the system's loader
path. A group's NCCL communicator is made on its first CUDA collective: rank 0 of the group asks
NCCL for a unique id and broadcasts it over the group's MPI communicator.

Operations run on the current (legacy default) stream of the tensor's device, as gradcore's
kernels do, so their results are ordered before any later kernel and ``Work.wait()`` has nothing
to wait for on the host; ``Work.synchronize()`` blocks until the GPU has finished.
"""
import glob
import importlib.util
import os

import gradcore
from gradcore import _C
from gradcore.futures import Future

_loaded = None  # the path of the loaded library, once loaded


def _candidates():
    """libnccl.so.2 of the nvidia-nccl wheels first, then the loader's search path."""
    paths = []
    spec = importlib.util.find_spec("nvidia")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            paths += sorted(glob.glob(os.path.join(root, "nccl", "lib", "libnccl.so*")))
    return paths + ["libnccl.so.2"]


def _load():
    """Loads NCCL; returns None, or why it could not be loaded."""
    global _loaded
    if _loaded is not None:
        return None
    if not getattr(_C, "_cuda_built", False):
        return "this gradcore was built without CUDA"
    errors = []
    for path in _candidates():
        try:
            _C._nccl_load(path)
            _loaded = path
            return None
        except RuntimeError as e:
            errors.append(str(e))
    return "libnccl.so.2 was not found (" + "; ".join(errors) + ")"


def available():
    """True when gradcore has CUDA and NCCL can be loaded."""
    return _load() is None


def require():
    why = _load()
    if why is not None:
        raise RuntimeError(f"Distributed package doesn't have NCCL built in: backend='nccl' needs a CUDA build of "
                           f"gradcore and NCCL, but {why}. Hint: pip install nvidia-nccl-cu12 (or -cu13, matching "
                           "your CUDA), or use backend='mpi', which moves CUDA tensors through host memory.")
    if not gradcore.cuda.is_available():
        raise RuntimeError("backend='nccl' needs a CUDA GPU, and none is visible to this process. Hint: use "
                           "backend='mpi' on CPU-only machines.")


def communicator(pg, tensor):
    """The NCCL communicator of process group ``pg``, made (by every rank together) on its first
    collective, on the device of that collective's ``tensor``."""
    if pg.nccl is None:
        require()
        uid = _C._nccl_unique_id() if pg.rank() == 0 else None
        uid = pg.comm.bcast(uid, root=0)
        device = tensor.device.index if tensor.device.index is not None else gradcore.cuda.current_device()
        pg.nccl = Communicator(uid, pg.size(), pg.rank(), device)
    return pg.nccl


class CudaWork:
    """The handle of an NCCL operation, ordered on the device's stream like any kernel."""

    def __init__(self, event, result):
        self._event = event
        self._result = result

    def _then(self, fn):
        fn()  # a copy enqueued now runs after the collective on the same stream

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return self._event.query()

    def is_success(self):
        return True

    def synchronize(self):
        self._event.synchronize()

    def result(self):
        return self._result

    def exception(self):
        return None

    def get_future(self):
        """A Future completed now: work enqueued after it on the stream runs after the collective."""
        fut = Future()
        fut.set_result(self._result)
        return fut


def _reduce_staging(t, op):
    """The dtype and ReduceOp an NCCL reduction of ``t`` runs in: NCCL has no int16 or bool
    arithmetic, so int16 is reduced in int32 (the same wrapped result) and bool in uint8, as the
    logical or (SUM, MAX) or and (PRODUCT, MIN) PyTorch's backends compute."""
    from .distributed_c10d import ReduceOp
    if t.dtype == gradcore.int16:
        return gradcore.int32, op
    if t.dtype == gradcore.bool:
        logical = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.MAX: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN,
                   ReduceOp.MIN: ReduceOp.MIN}
        if op not in logical:
            raise ValueError(f"NCCL cannot reduce bool tensors with {op.name}; use SUM, PRODUCT, MIN or MAX")
        return gradcore.uint8, logical[op]
    return t.dtype, op


class Communicator:
    """One rank's NCCL communicator on one device. Tensors reach NCCL contiguous (and int16/bool
    reductions widened, see _reduce_staging); a staged copy is copied back right after the
    collective is enqueued, which the stream orders after it. A staged input may be freed at once:
    the caching allocator hands its block only to later work on the same stream."""

    def __init__(self, unique_id, nranks, rank, device):
        self._comm = _C._NcclComm(unique_id, nranks, rank, device)

    @staticmethod
    def _inout(t, fn, dtype=None):
        """Runs ``fn`` on a contiguous twin of ``t`` (in ``dtype``) and copies the result back."""
        staged = t.detach().contiguous() if dtype in (None, t.dtype) else t.detach().to(dtype)
        event = fn(staged)
        if staged.data_ptr() != t.data_ptr():
            with gradcore.no_grad():
                t.copy_(staged)
        return CudaWork(event, [t])

    def all_reduce(self, t, op):
        dtype, op = _reduce_staging(t, op)
        return self._inout(t, lambda s: self._comm.all_reduce(s, op.value), dtype)

    def broadcast(self, t, root):
        return self._inout(t, lambda s: self._comm.broadcast(s, root))

    def reduce(self, t, op, root):
        dtype, op = _reduce_staging(t, op)
        return self._inout(t, lambda s: self._comm.reduce(s, op.value, root), dtype)

    def all_gather(self, out, inp):
        src = inp.detach().contiguous()
        return self._inout(out, lambda s: self._comm.all_gather(s, src))

    def reduce_scatter(self, out, inp, op):
        dtype, op = _reduce_staging(inp, op)
        src = inp.detach().to(dtype).contiguous()
        return self._inout(out, lambda s: self._comm.reduce_scatter(s, src, op.value), dtype)

    def send(self, t, peer):
        return CudaWork(self._comm.send(t.detach().contiguous(), peer), [t])

    def recv(self, t, peer):
        return self._inout(t, lambda s: self._comm.recv(s, peer))

    def destroy(self):
        self._comm.destroy()
