"""The MPI side of gradcore.distributed: mpi4py imported on first use, and tensors handed to MPI
by pointer.

A tensor reaches MPI as a buffer over its own memory (``MPI.buffer.fromaddress``), never through
Python objects. Where MPI cannot use that memory as it is, it gets a staged copy that is written
back once the operation completes: a non-contiguous tensor goes through a contiguous copy, a CUDA
tensor through host memory (the mpich wheel is not CUDA-aware), and float16/bfloat16 being
*reduced* through float32 (MPI has no 16-bit float arithmetic; summing in float32 and rounding
once is also more accurate than a ring of 16-bit additions). Data that is only moved (broadcast,
gather, send) travels as raw bytes in every dtype.
"""
import ctypes
import importlib.util
import sys

import gradcore

_INSTALL_HINT = 'pip install "gradcore[distributed]"'
_MPI = None
_exit_handler = False  # whether gradcore's exit handler finalises MPI (mpi4py was first imported here)


def mpi4py_installed():
    return importlib.util.find_spec("mpi4py") is not None


def load_mpi():
    """``mpi4py.MPI``, imported (and MPI initialised) on the first call. MPI is then finalised by
    gradcore's exit handler, which ends the whole job when this process exits with a failing
    status (see end_job_on_failed_exit)."""
    global _MPI
    if _MPI is None:
        try:
            import mpi4py
            ours = "mpi4py.MPI" not in sys.modules
            if ours:
                mpi4py.rc.finalize = False
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError("gradcore.distributed runs its collectives on MPI through mpi4py, which is not "
                              f"installed (or its MPI library is missing): {e}. Install both with: {_INSTALL_HINT}"
                              ) from e
        _MPI = MPI
        if ours:
            end_job_on_failed_exit(MPI.COMM_WORLD.Get_rank())
    return _MPI


def _libmpi():
    """The MPI library mpi4py loaded (``libmpi.so.12`` of mpich, ``libmpi.so.40`` of Open MPI), found
    among the process's mapped files: mpi4py loads it privately, so its symbols are not global."""
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "/libmpi" in line})
    for path in paths:
        lib = ctypes.CDLL(path)
        if hasattr(lib, "MPI_Abort"):
            return lib
    raise RuntimeError(f"gradcore.distributed: no loaded library among {paths} exports MPI_Abort")


def end_job_on_failed_exit(rank):
    """Makes a failing exit of this process (``raise SystemExit(3)``, ``sys.exit(3)``, an error that
    ends the interpreter) end every process of the MPI job with that status, at once, instead of
    leaving the others blocked in their next collective until the timeout. ``rank`` names this
    process in the message. A C exit handler does it (Python tells no atexit callback the exit
    status): MPI_Abort on a failing status, MPI_Finalize otherwise."""
    global _exit_handler
    MPI = _MPI
    lib = _libmpi()
    finalized, finalize, abort = (ctypes.cast(fn, ctypes.c_void_p).value
                                  for fn in (lib.MPI_Finalized, lib.MPI_Finalize, lib.MPI_Abort))
    gradcore._C._mpi_end_job_on_failed_exit(finalized, finalize, abort, MPI._handleof(MPI.COMM_WORLD),
                                            MPI._sizeof(MPI.Comm), MPI.COMM_WORLD.Get_size(), rank)
    _exit_handler = True


def exit_handler_installed():
    return _exit_handler


_TYPES = {}  # dtype -> the MPI datatype it is reduced in (16-bit floats: float32), filled on first use


def _mpi_types(MPI):
    if not _TYPES:
        _TYPES.update({gradcore.float32: MPI.FLOAT, gradcore.float64: MPI.DOUBLE, gradcore.int64: MPI.INT64_T,
                       gradcore.int32: MPI.INT32_T, gradcore.int16: MPI.INT16_T, gradcore.int8: MPI.INT8_T,
                       gradcore.uint8: MPI.UINT8_T, gradcore.bool: MPI.C_BOOL})
    return _TYPES


class Staged:
    """``tensor``'s memory as an MPI buffer spec (``.spec``), with the copy-back its staging needs.

    ``reducing`` picks an arithmetic MPI type (and float32 for 16-bit floats); otherwise the data
    moves as bytes. ``writes`` says the operation stores into the tensor, so a staged copy is
    written back by ``finish()``. The staged tensor lives as long as this object does, which the
    work handle keeps until the operation completes.
    """

    def __init__(self, tensor, reducing=False, writes=False):
        MPI = load_mpi()
        self.tensor = tensor
        staged = tensor.detach()
        if staged.is_cuda:
            staged = staged.cpu()
        if reducing and staged.dtype in (gradcore.float16, gradcore.bfloat16):
            staged = staged.float()
        staged = staged.contiguous()
        self.staged = staged
        self.writes = writes and staged.data_ptr() != tensor.data_ptr()
        nbytes = staged.numel() * staged.element_size()
        buf = MPI.buffer.fromaddress(staged.data_ptr(), nbytes)
        # No count: mpi4py divides the buffer by the datatype (and by the ranks, for gathers).
        self.spec = [buf, _mpi_types(MPI)[staged.dtype] if reducing else MPI.BYTE]

    def finish(self):
        if self.writes:
            with gradcore.no_grad():
                self.tensor.copy_(self.staged)


_OPS = {}  # (ReduceOp, is bool) -> MPI op, filled on first use


def mpi_op(MPI, op, dtype):
    """The MPI reduction for ReduceOp ``op`` on ``dtype`` (AVG is SUM followed by a division; bool
    reduces logically, as PyTorch's backends treat it)."""
    if not _OPS:
        from .distributed_c10d import ReduceOp
        arithmetic = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MAX: MPI.MAX,
                      ReduceOp.MIN: MPI.MIN, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
        logical = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND,
                   ReduceOp.BOR: MPI.LOR, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
        _OPS.update({(k, False): v for k, v in arithmetic.items()})
        _OPS.update({(k, True): v for k, v in logical.items()})
    return _OPS[op, dtype == gradcore.bool]
