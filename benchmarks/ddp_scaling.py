"""Data-parallel scaling: samples/s of the mnist_big MLP training step on 1, 2, ... ranks, one
OpenMP thread each, and how much of the gradient all-reduce DistributedDataParallel hides behind
backward.

    python benchmarks/ddp_scaling.py [--ranks 1 2] [--steps 40] [--progress off on] [--bucket-cap-mb 25]

mnist_big is benchmarks/train_step.py's config: Linear 784-1024-1024-10 with ReLU, batch 256 per
rank, cross-entropy, Adam. Each rank count runs as its own MPI job (plain mpiexec,
OMP_NUM_THREADS=1); 1 rank trains the plain model, more ranks train it under DDP (weak scaling:
every rank its own batch of 256). Per job: the median step time over --steps timed steps after
warm-up, samples/s = ranks * 256 / step time, and the speed-up over 1 rank.

Hidden fraction: during backward, DDP starts each bucket's all-reduce without blocking; the time
the final callback then spends in Work.wait is the exposed part. The all-reduce time of the same
buckets run back to back (blocking) is the total; hidden = 1 - exposed / total.
--progress on sets MPIR_CVAR_ASYNC_PROGRESS=1: MPICH's progress thread advances collectives in
flight (otherwise they advance only inside MPI calls: DDP tests them from each gradient hook).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BATCH = 256
SIZES = [784, 1024, 1024, 10]


def worker(args):
    import numpy as np

    import gradcore as torch
    import gradcore.distributed as dist
    from gradcore.distributed import _work
    from gradcore.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    x = torch.tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, BATCH).astype(np.int64))
    torch.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [torch.nn.Linear(SIZES[i], SIZES[i + 1])] + ([torch.nn.ReLU()] if i < len(SIZES) - 2 else [])
    model = torch.nn.Sequential(*layers)
    net = DDP(model, bucket_cap_mb=args.bucket_cap_mb) if world > 1 else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    waited = [0.0]
    if world > 1:  # time spent in Work.wait: only DDP's final callback waits during a step
        plain_wait = _work.Work.wait

        def timed_wait(self, *a, **k):
            t = time.perf_counter()
            try:
                return plain_wait(self, *a, **k)
            finally:
                waited[0] += time.perf_counter() - t
        _work.Work.wait = timed_wait

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    times, waits = [], []
    for _ in range(args.steps):
        dist.barrier()
        waited[0] = 0.0
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
        waits.append(waited[0])
    result = {"ranks": world, "step_ms": 1e3 * statistics.median(times)}
    if world > 1:
        _work.Work.wait = plain_wait
        buffers = [b.buffer for b in net._buckets]
        blocking = []
        for _ in range(args.steps):
            dist.barrier()
            t = time.perf_counter()
            for buf in buffers:
                dist.all_reduce(buf)
            blocking.append(time.perf_counter() - t)
        total = statistics.median(blocking)
        exposed = statistics.median(waits)
        result.update(buckets=[round(b.buffer.numel() * 4 / 2**20, 2) for b in net._buckets],
                      allreduce_ms=1e3 * total, exposed_ms=1e3 * exposed, hidden=max(0.0, 1 - exposed / total))
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


def run_job(ranks, progress, args):
    from gradcore.distributed.run import find_mpiexec
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_ASYNC_PROGRESS="1" if progress == "on" else "0")
    cmd = [find_mpiexec(), "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--steps", str(args.steps), "--bucket-cap-mb", str(args.bucket_cap_mb)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"job with {ranks} ranks failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--progress", nargs="+", choices=["off", "on"], default=["off", "on"])
    p.add_argument("--bucket-cap-mb", type=float, default=25)
    p.add_argument("--json", action="store_true", help="print the results as one JSON list")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"mnist_big (Linear {'-'.join(map(str, SIZES))}, batch {BATCH} per rank, Adam), 1 thread per rank, "
          f"{os.cpu_count()} cores")
    results, base = [], None
    for progress in args.progress:
        for n in args.ranks:
            if n == 1 and base is not None:
                continue
            r = run_job(n, progress, args)
            r["progress"] = progress if n > 1 else "-"
            r["samples_per_s"] = n * BATCH / (r["step_ms"] / 1e3)
            if n == 1:
                base = r["samples_per_s"]
            r["speedup"] = r["samples_per_s"] / base if base else None
            results.append(r)
            line = (f"ranks {n}  async progress {r['progress']:>3}  step {r['step_ms']:7.2f} ms  "
                    f"{r['samples_per_s']:8.0f} samples/s")
            if r["speedup"]:
                line += f"  x{r['speedup']:.2f}"
            if n > 1:
                line += (f"  all-reduce {r['allreduce_ms']:.2f} ms, exposed {r['exposed_ms']:.2f} ms, "
                         f"hidden {100 * r['hidden']:.0f}%  buckets MiB {r['buckets']}")
            print(line, flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
