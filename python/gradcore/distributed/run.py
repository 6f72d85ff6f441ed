"""``python -m gradcore.distributed.run``: torchrun's one-node launcher, on MPI.

    python -m gradcore.distributed.run --nproc-per-node 4 train.py --epochs 3
    python -m gradcore.distributed.run --nproc-per-node 2 -m my_package.train

starts ``--nproc-per-node`` copies of the script under the mpich ``mpiexec`` (the one beside
``sys.executable``, as the mpich wheel installs it, else the one on PATH), each with ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set, and
exits with the job's exit status. A rank that raises aborts the whole job (the excepthook that
``init_process_group`` installs), so the launcher returns non-zero within seconds. Across machines,
use mpiexec with a hostfile: ``mpiexec -f hosts -n 8 python train.py``.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys

_HINT = 'pip install "gradcore[distributed]"'


def find_mpiexec():
    """The mpiexec of this Python's environment, else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        raise SystemExit(f"gradcore.distributed.run: no mpiexec found beside {sys.executable} or on PATH. "
                         f"Install MPI with: {_HINT}")
    # The per-rank variables are passed with mpich's (Hydra's) -genv/-env; Open MPI's mpiexec has
    # other flags (and refuses to run as root).
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        raise SystemExit(f"gradcore.distributed.run: {found} is Open MPI's; the launcher drives mpich's mpiexec. "
                         f"Install it into this environment with: {_HINT}")
    return found


def _nproc(value):
    if value in ("auto", "cpu"):
        return len(os.sched_getaffinity(0))
    if value == "gpu":
        import gradcore
        return gradcore.cuda.device_count()
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nproc-per-node must be a number, 'cpu', 'gpu' or 'auto', got {value!r}")
    if n < 1:
        raise argparse.ArgumentTypeError(f"--nproc-per-node must be at least 1, got {n}")
    return n


def _one_node(value):
    if value not in ("1", "1:1"):
        raise argparse.ArgumentTypeError(
            f"--nnodes {value}: this launcher starts the processes of one node. Across machines, run mpiexec with a "
            "hostfile: mpiexec -f hosts -n <total processes> python train.py")
    return 1


def parser():
    p = argparse.ArgumentParser(prog="python -m gradcore.distributed.run", allow_abbrev=False,
                                description="Starts N processes of a training script on this node, under MPI.")
    p.add_argument("--standalone", action="store_true", help="one node, no rendezvous server (always the case here)")
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=_nproc, default=1, dest="nproc_per_node",
                   help="number of processes: a number, 'cpu' (one per core), 'gpu' (one per GPU) or 'auto'")
    p.add_argument("--nnodes", type=_one_node, default=1, help="must be 1 (use mpiexec -f hosts across nodes)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0, choices=[0], dest="node_rank")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1", dest="master_addr",
                   help="exported as MASTER_ADDR (MPI does the rendezvous)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500, dest="master_port",
                   help="exported as MASTER_PORT")
    p.add_argument("--rdzv-backend", "--rdzv_backend", default="static", dest="rdzv_backend",
                   help="accepted for torchrun compatibility; MPI does the rendezvous")
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default="", dest="rdzv_endpoint", help="accepted, unused")
    p.add_argument("--rdzv-id", "--rdzv_id", default="none", dest="rdzv_id", help="accepted, unused")
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0, choices=[0], dest="max_restarts",
                   help="must be 0: a failing rank ends the job")
    p.add_argument("-m", "--module", action="store_true", help="run training_script as a module (python -m)")
    p.add_argument("--no-python", "--no_python", action="store_true", dest="no_python",
                   help="run training_script as an executable, not with python")
    p.add_argument("training_script", help="the script (or module, with -m) every rank runs")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def command(args, mpiexec):
    """The mpiexec command line: one MPMD block per rank, each with its rank's variables."""
    n = args.nproc_per_node
    if args.no_python:
        program = [args.training_script]
    elif args.module:
        program = [sys.executable, "-u", "-m", args.training_script]
    else:
        program = [sys.executable, "-u", args.training_script]
    program += args.training_script_args
    cmd = [mpiexec]
    for name, value in (("WORLD_SIZE", n), ("LOCAL_WORLD_SIZE", n), ("MASTER_ADDR", args.master_addr),
                        ("MASTER_PORT", args.master_port), ("GROUP_RANK", 0)):
        cmd += ["-genv", name, str(value)]
    for rank in range(n):
        if rank:
            cmd.append(":")
        cmd += ["-n", "1", "-env", "RANK", str(rank), "-env", "LOCAL_RANK", str(rank)] + program
    return cmd


def main(argv=None):
    args = parser().parse_args(argv)
    proc = subprocess.Popen(command(args, find_mpiexec()))

    def forward(signum, frame):
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:  # mpiexec got the same SIGINT from the terminal and ends the ranks
            continue
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
