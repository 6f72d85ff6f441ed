"""Mixed precision on the CPU, gradcore against PyTorch (when importable) in one process, same data
and threads, interleaved round by round:

- a bfloat16 matrix product (float32 accumulation) at --size (default 2048), in GFLOP/s, beside
  each library's float32 product;
- the mnist_big training step (784-1024-1024-10, batch 256, cross-entropy, Adam) under bfloat16
  autocast, beside each library's float32 step, in milliseconds.

Prints the CPU's 16-bit features (avx512_bf16, amx_bf16, avx512_fp16) and ratios (PyTorch time /
gradcore time: > 1 means gradcore is faster). Goals (issue 16): bf16 GEMM >= PyTorch's bf16 mm,
mnist_big under autocast >= 1.3x PyTorch's and faster than gradcore's own float32 step.

    PYTHONPATH=python python benchmarks/bench_amp.py [--threads 1] [--size 2048] [--rounds 3]
"""
import argparse
import time

import numpy as np

import gradcore

try:
    import torch
except ImportError:
    torch = None

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--size", type=int, default=2048)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()

libs = {"gradcore": gradcore}
gradcore.set_num_threads(args.threads)
if torch is not None:
    torch.set_num_threads(args.threads)
    libs["torch"] = torch


def cpu_flags():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return "unknown"
    return ", ".join(f for f in ("avx512f", "avx512_bf16", "amx_bf16", "avx512_fp16") if f in flags) or "none"


def best(fn, n=3):
    fn()
    t = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def interleaved(cases):
    """{name: fn} -> {name: best seconds}, the cases taking turns round by round."""
    times = {k: float("inf") for k in cases}
    for _ in range(args.rounds):
        for k, fn in cases.items():
            times[k] = min(times[k], best(fn, 1))
    return times


print(f"threads={args.threads}  CPU 16-bit features: {cpu_flags()}")
print(f"gradcore kernels: ISA {gradcore._C._cpu_isa()}, bfloat16 GEMM '{gradcore._C._gemm_16_kernel('bfloat16')}' "
      f"(dot: vdpbf16ps pairs; widen: the float32 kernel over blocks widened as packed), "
      f"float16 GEMM '{gradcore._C._gemm_16_kernel('float16')}'")
rng = np.random.default_rng(0)
n = args.size
a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
cases = {}
for name, lib in libs.items():
    for dt in ("float32", "bfloat16"):
        x, y = lib.tensor(a).to(getattr(lib, dt)), lib.tensor(b).to(getattr(lib, dt))
        cases[(name, dt)] = (lambda x=x, y=y: x @ y)
t = interleaved(cases)
for dt in ("float32", "bfloat16"):
    row = f"{dt:9s} {n}^3 product:"
    for name in libs:
        row += f"  {name} {2 * n ** 3 / t[(name, dt)] / 1e9:7.1f} GFLOP/s"
    if torch is not None:
        row += f"   torch/gradcore {t[('torch', dt)] / t[('gradcore', dt)]:.2f}x"
    print(row)


def mnist_big_step(lib, amp):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 256))

    def step():
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=amp):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


cases = {(name, amp): mnist_big_step(lib, amp) for name, lib in libs.items() for amp in (False, True)}
t = interleaved(cases)
for amp in (False, True):
    row = f"mnist_big step {'bf16 autocast' if amp else 'float32      '}:"
    for name in libs:
        row += f"  {name} {t[(name, amp)] * 1e3:8.1f} ms"
    if torch is not None:
        row += f"   torch/gradcore {t[('torch', amp)] / t[('gradcore', amp)]:.2f}x"
    print(row)
print(f"gradcore bf16-autocast step / its float32 step: {t[('gradcore', True)] / t[('gradcore', False)]:.2f}x "
      "(< 1 means autocast is faster)")
