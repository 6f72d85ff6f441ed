"""DistributedDataParallel.register_comm_hook with the default hooks (allreduce, fp16 and bf16
compression, the fp16 wrapper) and custom hooks, on 2 MPI ranks against single-process full-batch
training; the GradBucket a hook sees; the errors of a bad hook (tests/dist_comm_checks.py ddp)."""
import sys

from dist_helpers import needs_mpi, report
from test_distributed_comm import CHECKS, _launch


@needs_mpi
def test_ddp_comm_hooks_two_ranks():
    from gradcore.distributed.run import find_mpiexec
    proc, _ = _launch([find_mpiexec(), "-n", "2", sys.executable, CHECKS, "ddp"])
    assert proc.returncode == 0 and proc.stdout.count("ALL OK") == 2, report(proc)


def test_hooks_module_names():
    """The module path and names PyTorch users import."""
    from gradcore.distributed.algorithms.ddp_comm_hooks import default_hooks
    assert set(default_hooks.__all__) == {"allreduce_hook", "fp16_compress_hook", "bf16_compress_hook",
                                          "fp16_compress_wrapper", "bf16_compress_wrapper"}
    assert default_hooks.fp16_compress_wrapper(default_hooks.allreduce_hook).__name__ == "fp16_compress_wrapper_hook"
