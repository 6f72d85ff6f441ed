"""Issue 16: bfloat16 softmax, cross-entropy and Adam, native (the 16-bit kernels) against the
widening path they replaced (float32 twins of every 16-bit argument) and PyTorch, one thread.

    PYTHONPATH=python python benchmarks/bench_half_native.py
"""
import time

import numpy as np

import gradcore


def best(fn, reps=30, warm=3):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts) * 1e3


def cases(m, dtype):
    rng = np.random.default_rng(0)
    x = m.tensor(rng.standard_normal((256, 1024)).astype(np.float32)).to(dtype)
    gy = m.tensor(rng.standard_normal((256, 1024)).astype(np.float32)).to(dtype)
    logits = m.tensor(rng.standard_normal((256, 1000)).astype(np.float32)).to(dtype)
    tgt = m.tensor(rng.integers(0, 1000, 256))
    xs = x.clone().requires_grad_(True)
    ys = m.softmax(xs, 1)
    lg = logits.clone().requires_grad_(True)
    p = m.nn.Parameter(m.tensor(rng.standard_normal(1 << 20).astype(np.float32)).to(dtype))
    p.grad = m.tensor(rng.standard_normal(1 << 20).astype(np.float32)).to(dtype)
    opt = m.optim.Adam([p], lr=1e-3)

    def sm_bwd():
        xs.grad = None
        ys.backward(gy, retain_graph=True)

    def ce_fwd_bwd():
        lg.grad = None
        m.nn.functional.cross_entropy(lg, tgt).backward()

    return {
        "softmax fwd [256,1024]": lambda: m.softmax(x, 1),
        "log_softmax fwd [256,1024]": lambda: m.log_softmax(x, 1),
        "softmax bwd [256,1024]": sm_bwd,
        "cross_entropy fwd [256,1000]": lambda: m.nn.functional.cross_entropy(logits, tgt),
        "cross_entropy fwd+bwd [256,1000]": ce_fwd_bwd,
        "Adam step 1M params": opt.step,
    }


def main():
    gradcore.set_num_threads(1)
    dt = gradcore.bfloat16
    rows = {}
    for name, fn in cases(gradcore, dt).items():
        rows[name] = [best(fn)]
    gradcore._C._force_half_widening(True)
    for name, fn in cases(gradcore, dt).items():
        rows[name].append(best(fn))
    gradcore._C._force_half_widening(False)
    for name, fn in cases(gradcore, gradcore.float32).items():
        rows[name].append(best(fn))
    try:
        import torch
        torch.set_num_threads(1)
        for name, fn in cases(torch, torch.bfloat16).items():
            rows[name].append(best(fn))
    except ImportError:
        pass
    print(f"{'bfloat16, 1 thread, ms (best of 30)':36s} {'native':>8s} {'widening':>9s} {'f32':>8s} {'torch':>8s}")
    for name, r in rows.items():
        print(f"{name:36s} " + " ".join(f"{v:8.3f}" for v in r))


if __name__ == "__main__":
    main()
