"""Training-step time of gradcore vs PyTorch vs NumPy-by-hand, in one process, same data and threads.

    python benchmarks/train_step.py [--threads 1 2] [--configs linreg tiny ...] [--repeat 50] [--json]
    python benchmarks/train_step.py --memory      # peak RSS while training, per config and library
    python benchmarks/train_step.py --device cuda  # on a GPU, against PyTorch CUDA

Each config is one step of an MLP, or of a CNN (mnist_cnn: pytorch/examples' MNIST Net without its
dropout; lenet5: PyTorch tutorial's LeNet-5; both at batch 64, SGD with momentum): forward, loss,
zero_grad, backward, optimizer step. Each thread count runs in its own child process (BLAS
libraries read their thread count when loaded), where gradcore, PyTorch and NumPy take turns:
three rounds of --repeat timed steps each after warm-up, and each library's best round median is
reported in microseconds, with the PyTorch/gradcore ratio (> 1 means gradcore is faster). NumPy
runs the same step written by hand (SGD configs only). --memory trains mnist_big, mnist_cnn and
lenet5, each in a fresh process per library, and reports the peak resident memory above what the
process held after its imports. With --device cuda, model and data live on the GPU,
each timed step ends with a device synchronize (so queued kernels are counted), and the CPU
thread count does not apply."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

import gradcore

try:
    import torch
except ImportError:
    torch = None

CONFIGS = {
    # name: (layer sizes, batch, loss, optimizer)
    "linreg": ([1, 1], 3, "mse", "sgd"),
    "tiny": ([10, 32, 1], 32, "mse", "sgd"),
    "mnist_small": ([784, 256, 10], 64, "ce", "sgd_momentum"),
    "mnist_small_adam": ([784, 256, 10], 64, "ce", "adam"),
    "mnist_big": ([784, 1024, 1024, 10], 256, "ce", "adam"),
    "wide": ([4096, 4096, 4096, 10], 512, "ce", "sgd"),
    # CNNs (name of a model below instead of layer sizes)
    "mnist_cnn": ("mnist_net", 64, "ce", "sgd_momentum"),  # pytorch/examples' MNIST Net, 28x28
    "lenet5": ("lenet5", 64, "ce", "sgd_momentum"),  # LeNet-5 as in PyTorch's tutorial, 32x32
}


def cnn_model(lib, name):
    """(model, input shape of one image) for the CNN configs, in either library."""
    nn, F = lib.nn, lib.nn.functional

    class MnistNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return self.fc2(F.relu(self.fc1(lib.flatten(x, 1))))

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(lib.flatten(x, 1))))))

    if name == "mnist_net":
        return MnistNet(), (1, 28, 28)
    return LeNet5(), (1, 32, 32)


def make_step(lib, sizes, batch, loss, opt_name, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    cnn = isinstance(sizes, str)
    if cnn:
        lib.manual_seed(seed)
        model, image = cnn_model(lib, sizes)
        sizes = [int(np.prod(image)), 10]
        x = lib.tensor(rng.standard_normal((batch,) + image).astype(np.float32)).to(device)
    else:
        x = lib.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32)).to(device)
    if loss == "ce":
        y = lib.tensor(rng.integers(0, sizes[-1], batch).astype(np.int64)).to(device)
    else:
        y = lib.tensor(rng.standard_normal((batch, sizes[-1])).astype(np.float32)).to(device)
    if not cnn:
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(lib.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(lib.nn.ReLU())
        model = lib.nn.Sequential(*layers)
    model = model.to(device)
    loss_fn = lib.nn.CrossEntropyLoss() if loss == "ce" else lib.nn.MSELoss()
    if opt_name == "adam":
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = lib.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9 if opt_name == "sgd_momentum" else 0.0)

    def step():
        out = loss_fn(model(x), y)
        opt.zero_grad()
        out.backward()
        opt.step()
        return out

    if device == "cpu":
        return step

    def step_synchronized():
        out = step()
        lib.cuda.synchronize()
        return out

    return step_synchronized


def make_numpy_step(sizes, batch, loss, seed=0):
    """Plain SGD step written by hand in NumPy (the floor for a Python-driven step)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ws = [rng.standard_normal((sizes[i + 1], sizes[i])).astype(np.float32) * 0.05 for i in range(len(sizes) - 1)]
    bs = [np.zeros(sizes[i + 1], np.float32) for i in range(len(sizes) - 1)]
    if loss == "ce":
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)

    def step():
        acts = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = acts[-1] @ w.T + b
            acts.append(np.maximum(h, 0) if i < len(ws) - 1 else h)
        out = acts[-1]
        if loss == "ce":
            z = out - out.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            g = p
            g[np.arange(batch), y] -= 1
            g /= batch
        else:
            g = 2 * (out - y) / out.size
        for i in range(len(ws) - 1, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(0)
            if i > 0:
                g = (g @ ws[i]) * (acts[i] > 0)
            ws[i] -= 1e-3 * gw
            bs[i] -= 1e-3 * gb

    return step


def median_us(step, repeat, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def run_configs(threads, configs, repeat_arg, rounds=3, device="cpu"):
    """Rows for one thread count (run inside a child process whose BLAS saw that count)."""
    gradcore.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    cuda = device != "cpu"
    rows = []
    for name in configs:
        sizes, batch, loss, opt = CONFIGS[name]
        cnn = isinstance(sizes, str)
        big = (cnn and sizes == "mnist_net" or not cnn and sizes[0] >= 4096) and not cuda
        repeat = max(3, repeat_arg // 10) if big else repeat_arg
        warmup = 2 if big else 10
        steps = {"gradcore": make_step(gradcore, sizes, batch, loss, opt, device=device)}
        if torch is not None and (not cuda or torch.cuda.is_available()):
            steps["torch"] = make_step(torch, sizes, batch, loss, opt, device=device)
        if opt in ("sgd", "sgd_momentum") and not cuda and not cnn:
            steps["numpy"] = make_numpy_step(sizes, batch, loss)
        best = {}
        for _ in range(1 if big else rounds):  # the libraries take turns, so drifting load hits all
            for lib, step in steps.items():
                t = median_us(step, repeat, warmup)
                best[lib] = min(best.get(lib, t), t)
        row = {"config": name, "threads": threads, "device": device}
        for lib, t in best.items():
            row[lib + "_us"] = t
        if "torch_us" in row:
            row["torch/gradcore"] = row["torch_us"] / row["gradcore_us"]
        rows.append(row)
    return rows


def print_row(row, as_json):
    if as_json:
        print(json.dumps(row), flush=True)
        return
    where = f"threads={row['threads']}" if row.get("device", "cpu") == "cpu" else f"{row['device']:9s}"
    print(f"{row['config']:18s} {where}  gradcore {row['gradcore_us']:10.1f} us"
          + (f"  torch {row['torch_us']:10.1f} us  ratio {row['torch/gradcore']:5.2f}x" if "torch_us" in row else "")
          + (f"  numpy {row['numpy_us']:10.1f} us" if "numpy_us" in row else ""), flush=True)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


MEMORY_CONFIGS = ["mnist_big", "mnist_cnn", "lenet5"]


def memory_child(lib_name, config, steps):
    """Trains one config with one library; prints the peak RSS above the post-import baseline."""
    lib = gradcore if lib_name == "gradcore" else torch
    base = rss_mb()
    step = make_step(lib, *CONFIGS[config])
    for _ in range(steps):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"lib": lib_name, "config": config, "baseline_mb": base, "peak_mb": peak,
                      "training_mb": peak - base}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print one JSON object per row instead of a table")
    p.add_argument("--memory", action="store_true",
                   help=f"peak RSS while training {', '.join(MEMORY_CONFIGS)}, per library")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where model and data live")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        return memory_child(*args.memory_child, 20)
    if args.child is not None:
        for row in run_configs(args.child, args.configs, args.repeat):
            print(json.dumps(row), flush=True)
        return
    if args.device == "cuda":
        if not gradcore.cuda.is_available():
            raise SystemExit("--device cuda: gradcore.cuda.is_available() is False (no GPU, or a CPU-only build)")
        for row in run_configs(1, args.configs, args.repeat, device="cuda"):
            print_row(row, args.json)
        return
    if args.memory:
        libs = ["gradcore"] + (["torch"] if torch is not None else [])
        for config in MEMORY_CONFIGS:
            for lib in libs:
                out = subprocess.run([sys.executable, __file__, "--memory-child", lib, config], capture_output=True,
                                     text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(json.dumps(r) if args.json else
                      f"{config:10s} peak RSS  {lib:9s} {r['training_mb']:8.1f} MiB while training "
                      f"(process peak {r['peak_mb']:.1f} MiB, {r['baseline_mb']:.1f} MiB after imports)", flush=True)
        return
    for threads in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--child", str(threads), "--repeat", str(args.repeat), "--configs",
               *args.configs]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            print_row(json.loads(line), args.json)
        if proc.wait() != 0:
            raise SystemExit(f"benchmark child for {threads} threads failed")


if __name__ == "__main__":
    main()
