"""What the multi-process tests share: the skip marker when MPI is absent, the environment of a
launched job, launching it under a hard time limit, and the report printed when it fails."""
import importlib.util
import os
import subprocess
import time

import pytest

import gradcore

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason='needs mpi4py and MPI: pip install "gradcore[distributed]"')


def job_env():
    """The environment of a launched job: the gradcore this process imported (the installed one in
    CI, the source tree in development), OpenMP threads left to init_process_group, and no rank
    variables inherited from an enclosing job."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(gradcore.__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in [pkg_parent, env.get("PYTHONPATH")] if p)
    env.pop("OMP_NUM_THREADS", None)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"):
        env.pop(name, None)
    return env


def launch(cmd, limit):
    """Runs ``cmd`` (a hung job fails its test after ``limit`` seconds instead of the suite);
    returns the finished process and its wall time."""
    start = time.monotonic()
    proc = subprocess.run(cmd, env=job_env(), capture_output=True, text=True, timeout=limit)
    return proc, time.monotonic() - start


def report(proc):
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
