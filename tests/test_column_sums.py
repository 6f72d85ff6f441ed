"""Float32 column sums (sum over the leading dims of a row-major tensor: sum(dim=0), sum_to_shape
in broadcast backwards, Linear's bias gradient): the wide float path (cpu/reduce.h ColumnSumsF32)
against its twin, the double fold on the same values, and against PyTorch; the same bits on
every forced ISA level."""
import numpy as np
import pytest

import gradcore
from helpers import assert_isa_levels_agree

RNG = np.random.default_rng(17)
SHAPES = [((1024, 512), 0), ((1000, 65), 0), ((333, 300), 0), ((64, 7), 0), ((70, 257), 0), ((8, 40, 300), (0, 1)),
          ((30, 5, 2), 0)]


@pytest.mark.parametrize("shape,dim", SHAPES)
def test_sum_over_rows_matches_double_fold(shape, dim):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    got = gradcore.tensor(x).sum(dim).numpy()
    twin = gradcore.tensor(x.astype(np.float64)).sum(dim).numpy()  # the generic fold, in double
    np.testing.assert_allclose(got, twin.astype(np.float32), rtol=2e-6, atol=2e-5)
    assert got.dtype == np.float32


def test_strided_and_threaded_column_sums():
    x = RNG.standard_normal((2000, 40)).astype(np.float32)
    ref = x.astype(np.float64).sum(0)
    for threads in (1, 2):
        gradcore.set_num_threads(threads)
        try:
            np.testing.assert_allclose(gradcore.tensor(x).sum(0).numpy(), ref, rtol=2e-6, atol=2e-5)
            sliced = gradcore.tensor(x)[:, 3:35]  # rows with a gap between them
            np.testing.assert_allclose(sliced.sum(0).numpy(), ref[3:35], rtol=2e-6, atol=2e-5)
        finally:
            gradcore.set_num_threads(1)


def test_linear_bias_grad_and_broadcast_backward_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((1024, 128)).astype(np.float32)
    w = RNG.standard_normal((384, 128)).astype(np.float32)
    b = RNG.standard_normal(384).astype(np.float32)
    gout = RNG.standard_normal((1024, 384)).astype(np.float32)
    grads = {}
    for lib in (gradcore, torch):
        B = lib.tensor(b, requires_grad=True)
        c = lib.tensor(b[:1], requires_grad=True)
        y = lib.nn.functional.linear(lib.tensor(x), lib.tensor(w), B) + c  # c: summed over every element
        y.backward(lib.tensor(gout))
        grads[lib.__name__] = (B.grad.numpy(), c.grad.numpy())
    for ours, theirs in zip(grads["gradcore"], grads["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grads["gradcore"][0], gout.astype(np.float64).sum(0), rtol=2e-6, atol=2e-5)


ISA_SCRIPT = r"""
import sys
import numpy as np
import gradcore as g
rng = np.random.default_rng(5)
x = rng.standard_normal((777, 301)).astype(np.float32)
b = g.tensor(rng.standard_normal(301).astype(np.float32), requires_grad=True)
y = g.nn.functional.linear(g.tensor(rng.standard_normal((777, 20)).astype(np.float32)),
                           g.tensor(rng.standard_normal((301, 20)).astype(np.float32)), b)
y.backward(g.tensor(x))
np.savez(sys.argv[1], g.tensor(x).sum(0).numpy(), g.tensor(x).reshape(7, 111, 301).sum((0, 1)).numpy(), b.grad.numpy())
"""


def test_every_isa_level_sums_alike(tmp_path):
    assert_isa_levels_agree(ISA_SCRIPT, tmp_path)
