"""What the benchmarks share: best-of-N timing, and the interleaved gradcore-vs-PyTorch training
step comparison (same weights, data and threads in one process) that bench_gpt and bench_lstm run.
Scripts in benchmarks/ import it as a sibling module (`python benchmarks/x.py` puts benchmarks/ first
on sys.path)."""
import time

import numpy as np

import gradcore

try:
    import torch
except ImportError:  # gradcore timings alone
    torch = None


def best_ms(fn, repeat):
    """The fastest of `repeat` calls of fn (after one warm-up call), in milliseconds."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def compare_training_steps(build, make_optimizer, x_np, y_np, vocab, args):
    """Builds the model of `build(lib)` in gradcore and (when importable) PyTorch with the same
    weights, trains both on the token batch x_np -> y_np with cross_entropy, args.steps steps per
    round, rounds interleaved, args.threads threads each. Returns the loss of each library after
    one warm-up round (they should agree) and its best seconds per step, keyed by library name."""
    libs = {"gradcore": gradcore}
    if torch is not None:
        libs["torch"] = torch
    steps, ref = {}, None
    for name, lib in libs.items():
        lib.set_num_threads(args.threads)
        lib.manual_seed(0)
        model = build(lib)
        if ref is None:
            ref = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        else:  # the same weights in both libraries
            model.load_state_dict({k: lib.tensor(v) for k, v in ref.items()})
        opt = make_optimizer(lib, model.parameters())
        x, y = lib.tensor(x_np), lib.tensor(y_np)

        def step(model=model, opt=opt, x=x, y=y, lib=lib):
            for _ in range(args.steps):
                opt.zero_grad()
                logits = model(x)
                loss = lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
                loss.backward()
                opt.step()
            return loss.item()
        steps[name] = step

    losses = {name: fn() for name, fn in steps.items()}  # warm-up
    times = {k: float("inf") for k in steps}
    for _ in range(args.rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[name] = min(times[name], (time.perf_counter() - t0) / args.steps)
    return losses, times


def print_step_comparison(losses, times, goal):
    """One line per library and, with PyTorch, the ratio PyTorch time / gradcore time."""
    print("  ".join(f"{name} {t * 1e3:7.2f} ms (loss after warm-up {losses[name]:.4f})" for name, t in times.items()))
    if "torch" in times:
        print(f"torch/gradcore {times['torch'] / times['gradcore']:.2f}x (goal >= {goal}x)")


def token_batches(vocab, shape):
    """The benchmarks' fixed random token batch: inputs and targets."""
    rng = np.random.default_rng(0)
    return rng.integers(0, vocab, shape), rng.integers(0, vocab, shape)
