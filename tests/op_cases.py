"""The op table shared by the parity tests: every op of API.md's Tensors and Autograd sections as
fn(m, *tensors) over a module m (gradcore or torch), with input arrays and whether it is
differentiable. test_torch_parity.py runs it against PyTorch, test_cuda.py against the CPU."""
import numpy as np

rng = np.random.default_rng(1234)


def pos(*s):
    return rng.uniform(0.5, 2.0, size=s)


def sym(*s):
    return rng.standard_normal(size=s)


# name -> (fn(m, *tensors), input arrays, differentiable)
CASES = {
    "add_broadcast": (lambda m, a, b: a + b, [sym(3, 4), sym(4)], True),
    "sub_scalar": (lambda m, a: 2.5 - a, [sym(3, 4)], True),
    "mul": (lambda m, a, b: a * b, [sym(2, 1, 4), sym(3, 1)], True),
    "div": (lambda m, a, b: a / b, [sym(3, 4), pos(3, 4)], True),
    "rdiv": (lambda m, a: 1.0 / a, [pos(5)], True),
    "pow_scalar": (lambda m, a: a ** 3, [sym(4)], True),
    "pow_tensor": (lambda m, a, e: a.unsqueeze(-1).pow(e), [pos(4), np.array([1.0, 2.0, 3.0])], True),
    "rpow": (lambda m, a: 2 ** a, [sym(4)], True),
    "neg": (lambda m, a: -a, [sym(3)], True),
    "abs": (lambda m, a: a.abs(), [sym(6)], True),
    "exp": (lambda m, a: m.exp(a), [sym(3, 2)], True),
    "log": (lambda m, a: a.log(), [pos(3, 2)], True),
    "sqrt": (lambda m, a: m.sqrt(a), [pos(5)], True),
    "sin": (lambda m, a: a.sin(), [sym(5)], True),
    "cos": (lambda m, a: m.cos(a), [sym(5)], True),
    "tanh": (lambda m, a: a.tanh(), [sym(5)], True),
    "sigmoid": (lambda m, a: m.sigmoid(a), [sym(5)], True),
    "relu": (lambda m, a: m.relu(a), [sym(7)], True),
    "clamp": (lambda m, a: a.clamp(-0.5, 0.5), [sym(8)], True),
    "clamp_min": (lambda m, a: m.clamp(a, min=0.1), [sym(8)], True),
    "maximum": (lambda m, a, b: m.maximum(a, b), [sym(3, 4), sym(4)], True),
    "minimum": (lambda m, a, b: m.minimum(a, b), [sym(3, 4), sym(3, 1)], True),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [sym(3, 4), sym(4)], True),
    "matmul_2d": (lambda m, a, b: a @ b, [sym(3, 4), sym(4, 5)], True),
    "matmul_1d": (lambda m, a, b: m.matmul(a, b), [sym(4), sym(4)], True),
    "matmul_batched": (lambda m, a, b: a @ b, [sym(2, 1, 3, 4), sym(5, 4, 2)], True),
    "mm": (lambda m, a, b: m.mm(a, b.t()), [sym(3, 4), sym(5, 4)], True),
    "bmm": (lambda m, a, b: m.bmm(a, b), [sym(2, 3, 4), sym(2, 4, 5)], True),
    "sum_all": (lambda m, a: a.sum(), [sym(3, 4)], True),
    "sum_dim": (lambda m, a: m.sum(a, dim=1), [sym(3, 4, 2)], True),
    "sum_tuple_keep": (lambda m, a: a.sum((0, 2), keepdim=True), [sym(3, 4, 2)], True),
    "mean": (lambda m, a: a.mean(-1), [sym(3, 4)], True),
    "var": (lambda m, a: a.var(1), [sym(3, 5)], True),
    "std_keep": (lambda m, a: a.std(0, keepdim=True), [sym(4, 3)], True),
    "max_all": (lambda m, a: a.max(), [sym(3, 4)], True),
    "max_dim": (lambda m, a: a.max(1).values, [sym(3, 4)], True),
    "min_dim": (lambda m, a: m.min(a, dim=0)[0], [sym(3, 4)], True),
    "argmax": (lambda m, a: a.argmax(1), [sym(3, 4)], False),
    "argmin": (lambda m, a: m.argmin(a), [sym(3, 4)], False),
    "softmax": (lambda m, a: m.softmax(a, dim=1), [sym(3, 5)], True),
    "log_softmax": (lambda m, a: a.log_softmax(0), [sym(3, 5)], True),
    "compare": (lambda m, a, b: (a > b).float() + (a <= b).float() * 2, [sym(5), sym(5)], False),
    "view_reshape": (lambda m, a: a.view(4, 3).t().reshape(2, 6), [sym(3, 4)], True),
    "flatten": (lambda m, a: a.flatten(1), [sym(2, 3, 4)], True),
    "unsqueeze_squeeze": (lambda m, a: a.unsqueeze(0).unsqueeze(-1).squeeze(), [sym(3, 4)], True),
    "transpose_permute": (lambda m, a: a.transpose(0, 1).permute(2, 0, 1), [sym(2, 3, 4)], True),
    "expand": (lambda m, a: a.expand(3, 4) * 1.0, [sym(1, 4)], True),
    "T": (lambda m, a: a.T @ a, [sym(3, 4)], True),
    "cat": (lambda m, a, b: m.cat([a, b, a], dim=1), [sym(2, 3), sym(2, 1)], True),
    "stack": (lambda m, a, b: m.stack([a, b], dim=1), [sym(2, 3), sym(2, 3)], True),
    "index_int_slice": (lambda m, a: a[1, ::2], [sym(3, 5)], True),
    "index_none_ellipsis": (lambda m, a: a[None, ..., 1], [sym(3, 5)], True),
    "index_tensor_rows": (lambda m, a: a[m.tensor([0, 2, 2])], [sym(3, 4)], True),
    "index_arange_labels": (lambda m, a: a[m.arange(3), m.tensor([1, 0, 3])], [sym(3, 4)], True),
    "index_bool_mask": (lambda m, a: a[a > 0], [sym(4, 3)], True),
    "composite": (lambda m, a, b: ((a @ b).tanh() - (a.sum(1, keepdim=True) / 3).exp()).pow(2).mean(), [sym(4, 3), sym(3, 2)], True),
}
