"""gradcore.distributed: collectives on 2 and 3 MPI ranks (subprocesses with a hard timeout), the
launcher, failure handling, timeouts and the packaging of the MPI dependency.

The collectives themselves are checked by tests/dist_checks.py on every rank against the
single-process result; here each world size is one launched job.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

import gradcore
import gradcore.distributed as dist
from gradcore.distributed import run as launcher
from dist_helpers import job_env, launch, needs_mpi, report

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "dist_checks.py")
LIMIT = 60  # seconds; a job that hangs fails the test instead of the suite

def _launch(cmd):
    return launch(cmd, LIMIT)


def _mpiexec(n, *args):
    return _launch([launcher.find_mpiexec(), "-n", str(n), sys.executable, CHECKS, *args])


def _run(n, *args):
    return _launch([sys.executable, "-m", "gradcore.distributed.run", "--nproc-per-node", str(n), CHECKS, *args])


@needs_mpi
def test_collectives_two_ranks_mpiexec():
    proc, _ = _mpiexec(2, "checks")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.count("ALL OK") == 2, report(proc)


@needs_mpi
def test_collectives_three_ranks_launcher():
    proc, _ = _run(3, "checks")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.count("ALL OK") == 3, report(proc)


@needs_mpi
def test_rank_and_world_size_from_the_environment():
    mpiexec = launcher.find_mpiexec()
    proc, _ = _launch([mpiexec, "-n", "1", "-env", "RANK", "1", sys.executable, CHECKS, "reorder", ":",
                       "-n", "1", "-env", "RANK", "0", sys.executable, CHECKS, "reorder"])
    assert proc.returncode == 0 and proc.stdout.count("ALL OK") == 2, report(proc)
    proc, _ = _launch([mpiexec, "-n", "2", "-genv", "WORLD_SIZE", "3", sys.executable, CHECKS, "checks"])
    assert proc.returncode != 0 and "world_size=3 but the MPI job has 2 processes" in proc.stderr, report(proc)


@needs_mpi
@pytest.mark.parametrize("how", ["mpiexec", "launcher"])
def test_failing_rank_ends_the_job(how):
    proc, seconds = (_mpiexec if how == "mpiexec" else _run)(2, "fail")
    assert proc.returncode != 0, report(proc)
    assert seconds < 20, f"the job took {seconds:.1f} s to end after a rank failed"
    assert "[rank1]: RuntimeError: rank 1 fails on purpose" in proc.stderr, report(proc)
    assert "Traceback" in proc.stderr


@needs_mpi
@pytest.mark.parametrize("how", ["exit", "raise_exit"])
def test_rank_exiting_with_failure_ends_the_job(how):
    """sys.exit(3) and raise SystemExit(3) (which never reaches sys.excepthook) on one rank end
    the job with status 3 at once; the other rank is waiting in a barrier."""
    proc, seconds = _mpiexec(2, how)
    assert proc.returncode == 3, report(proc)
    assert seconds < 20, f"the job took {seconds:.1f} s to end after a rank exited with status 3 ({how})"
    assert "[rank1]: exited with status 3: ending every rank of the job" in proc.stderr, report(proc)


@needs_mpi
def test_timeout_bounds_a_collective():
    proc, seconds = _mpiexec(2, "timeout")
    assert proc.returncode != 0, report(proc)
    assert seconds < 20, f"the job took {seconds:.1f} s though timeout= was 1 s"
    assert "DistBackendError" in proc.stderr and "all_reduce timed out after 1 s" in proc.stderr, report(proc)


@needs_mpi
def test_plain_python_is_a_world_of_one():
    code = ("import gradcore as torch, gradcore.distributed as dist\n"
            "dist.init_process_group()\n"
            "t = torch.ones(2)\n"
            "dist.all_reduce(t)\n"
            "print(dist.get_rank(), dist.get_world_size(), t.tolist())\n")
    proc = subprocess.run([sys.executable, "-c", code], env=job_env(), capture_output=True, text=True, timeout=LIMIT)
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.split("\n")[0] == "0 1 [1.0, 1.0]", report(proc)


def test_import_needs_no_mpi_and_names_the_extra():
    """`import gradcore` never imports mpi4py; without it, init_process_group names the extra."""
    code = ("import sys\n"
            "import gradcore, gradcore.distributed as dist\n"
            "assert 'mpi4py' not in sys.modules\n"
            "sys.modules['mpi4py'] = None\n"
            "try:\n"
            "    dist.init_process_group()\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=job_env(), capture_output=True, text=True, timeout=LIMIT)
    assert proc.returncode == 0, report(proc)
    assert 'pip install "gradcore[distributed]"' in proc.stdout, report(proc)


def test_uninitialised_group_errors():
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.get_backend, lambda: dist.all_reduce(gradcore.ones(2))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group(timeout=5)


def test_reduce_op_and_backend_names():
    assert dist.Backend("MPI") == "mpi" and dist.Backend.NCCL == "nccl"
    assert {dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN,
            dist.ReduceOp.MAX}.issubset(set(dist.ReduceOp.RedOpType))
    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    if not gradcore.cuda.is_built():
        assert not dist.is_nccl_available()
        with pytest.raises(RuntimeError, match="without CUDA"):
            dist.init_process_group(backend="nccl")
    try:
        import torch.distributed as tdist
    except ImportError:
        return
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert getattr(dist.ReduceOp, name).name == getattr(tdist.ReduceOp, name).name
    assert tdist.Backend("MPI") == dist.Backend("MPI")


def test_launcher_arguments():
    args = launcher.parser().parse_args(["--standalone", "--nproc_per_node", "2", "--master-port", "1234", "train.py",
                                         "--lr", "0.1"])
    cmd = launcher.command(args, "mpiexec")
    assert cmd[0] == "mpiexec" and cmd.count(":") == 1
    assert cmd[cmd.index("RANK") + 1] == "0" and cmd[len(cmd) - 1 - cmd[::-1].index("RANK") + 1] == "1"
    assert cmd[-3:] == ["train.py", "--lr", "0.1"]
    assert ["-genv", "MASTER_PORT", "1234"] == cmd[cmd.index("MASTER_PORT") - 1:cmd.index("MASTER_PORT") + 2]
    module = launcher.command(launcher.parser().parse_args(["--nproc-per-node=1", "-m", "pkg.train"]), "mpiexec")
    assert module[-3:] == ["-u", "-m", "pkg.train"]
    with pytest.raises(SystemExit):
        launcher.parser().parse_args(["--nnodes", "2", "train.py"])
    with pytest.raises(SystemExit):
        launcher.parser().parse_args(["--nproc-per-node", "0", "train.py"])


@needs_mpi
@pytest.mark.cuda
def test_nccl_two_ranks_on_gpus(tmp_path):
    """NCCL collectives on CUDA tensors, one rank per GPU: two ranks, or one on a single GPU (NCCL
    refuses two ranks on one device)."""
    if not dist.is_nccl_available():
        pytest.skip("NCCL is not installed (pip install nvidia-nccl-cu12 or -cu13)")
    script = tmp_path / "nccl_checks.py"
    script.write_text(
        "import gradcore as torch, gradcore.distributed as dist\n"
        "dist.init_process_group(backend='nccl')\n"
        "r, n = dist.get_rank(), dist.get_world_size()\n"
        "torch.cuda.set_device(r % torch.cuda.device_count())\n"
        "dev = torch.device('cuda', r % torch.cuda.device_count())\n"
        "for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int64, torch.int32,\n"
        "              torch.int16, torch.uint8):\n"
        "    t = torch.full((5,), r + 1, dtype=dtype, device=dev)\n"
        "    dist.all_reduce(t)\n"
        "    assert (t.cpu().double() == n * (n + 1) / 2).all().item(), (dtype, t)\n"
        "    if dtype.is_floating_point:\n"
        "        t = torch.full((5,), float(r), dtype=dtype, device=dev)\n"
        "        dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
        "        assert (t.cpu().double() == (n - 1) / 2).all().item()\n"
        "    t = torch.full((3,), r, dtype=dtype, device=dev)\n"
        "    dist.broadcast(t, src=n - 1)\n"
        "    assert (t.cpu().double() == n - 1).all().item()\n"
        "    out = torch.zeros(n * 3, dtype=dtype, device=dev)\n"
        "    dist.all_gather_into_tensor(out, torch.full((3,), r, dtype=dtype, device=dev))\n"
        "    assert out.cpu().double().tolist() == [float(i) for i in range(n) for _ in range(3)]\n"
        "    part = torch.zeros(2, dtype=dtype, device=dev)\n"
        "    dist.reduce_scatter_tensor(part, torch.ones(2 * n, dtype=dtype, device=dev))\n"
        "    assert (part.cpu().double() == n).all().item()\n"
        "    got = torch.zeros(4, dtype=dtype, device=dev)\n"
        "    if n > 1 and r == 0:\n"
        "        dist.isend(torch.full((4,), 7, dtype=dtype, device=dev), dst=1).wait()\n"
        "    elif r == 1:\n"
        "        dist.irecv(got, src=0).wait()\n"
        "        assert (got.cpu().double() == 7).all().item()\n"
        "view = torch.ones(4, 2, device=dev).t()\n"
        "w = dist.all_reduce(view, async_op=True)\n"
        "w.wait()\n"
        "w.synchronize()\n"
        "assert w.is_completed() and (view.cpu() == n).all().item()\n"
        "bits = torch.tensor([r == 0, False], device=dev)\n"
        "dist.all_reduce(bits)\n"
        "assert bits.cpu().tolist() == [True, False]\n"
        "cpu = torch.ones(2)\n"
        "dist.all_reduce(cpu)\n"
        "assert cpu.tolist() == [float(n)] * 2\n"
        "dist.destroy_process_group()\n"
        "print('NCCL OK', flush=True)\n")
    n = min(2, gradcore.cuda.device_count())
    proc, _ = _launch([launcher.find_mpiexec(), "-n", str(n), sys.executable, str(script)])
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.count("NCCL OK") == n, report(proc)


@needs_mpi
@pytest.mark.cuda
def test_mpi_backend_moves_cuda_tensors_through_host(tmp_path):
    """backend='mpi' takes CUDA tensors too (staged through host memory; the mpich wheel is not CUDA-aware)."""
    script = tmp_path / "mpi_cuda_checks.py"
    script.write_text(
        "import gradcore as torch, gradcore.distributed as dist\n"
        "dist.init_process_group(backend='mpi')\n"
        "r, n = dist.get_rank(), dist.get_world_size()\n"
        "for dtype in (torch.float32, torch.bfloat16, torch.int64):\n"
        "    t = torch.full((4, 3), r + 1, dtype=dtype, device='cuda').t()\n"
        "    dist.all_reduce(t)\n"
        "    assert t.is_cuda and (t.cpu().double() == n * (n + 1) / 2).all().item(), (dtype, t)\n"
        "    out = torch.zeros(n, 2, dtype=dtype, device='cuda')\n"
        "    dist.all_gather_into_tensor(out, torch.full((2,), r, dtype=dtype, device='cuda'))\n"
        "    assert out.cpu().double().tolist() == [[float(i)] * 2 for i in range(n)]\n"
        "print('MPI CUDA OK', flush=True)\n")
    proc, _ = _launch([launcher.find_mpiexec(), "-n", "2", sys.executable, str(script)])
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.count("MPI CUDA OK") == 2, report(proc)
