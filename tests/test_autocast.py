"""Autocast (issue 16): gradcore.autocast / gradcore.amp.autocast as context manager and
decorator, PyTorch 2.13's CPU op lists (checked op by op against PyTorch's output dtypes), nesting
with enabled=False, float32 gradients for float32 parameters, float64 untouched, and the
deprecated gradcore.cpu.amp / gradcore.cuda.amp forms with their FutureWarnings."""
import warnings

import numpy as np
import pytest

import gradcore

rng = np.random.default_rng(3)
X = rng.standard_normal((4, 6)).astype(np.float32)
W = rng.standard_normal((5, 6)).astype(np.float32)
IMG = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
K = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)

# name: fn(module, F, x, w, img, k) -> tensor whose dtype autocast decides
OPS = {
    "linear": lambda m, F, x, w, i, k: F.linear(x, w),
    "matmul": lambda m, F, x, w, i, k: x @ w.t(),
    "mm": lambda m, F, x, w, i, k: m.mm(x, w.t()),
    "bmm": lambda m, F, x, w, i, k: m.bmm(x.unsqueeze(0), w.t().unsqueeze(0)),
    "conv2d": lambda m, F, x, w, i, k: F.conv2d(i, k, padding=1),
    "conv1d": lambda m, F, x, w, i, k: F.conv1d(i[:, :, 0], k[:, :, 0]),
    "conv_transpose2d": lambda m, F, x, w, i, k: F.conv_transpose2d(i, k.transpose(0, 1)),
    "cross_entropy": lambda m, F, x, w, i, k: F.cross_entropy(x.to(m.bfloat16), m.tensor([0, 1, 2, 3])),
    "nll_loss": lambda m, F, x, w, i, k: F.nll_loss(x.to(m.bfloat16), m.tensor([0, 1, 2, 3])),
    "mse_loss": lambda m, F, x, w, i, k: F.mse_loss(x.to(m.bfloat16), x.to(m.bfloat16)),
    "l1_loss": lambda m, F, x, w, i, k: F.l1_loss(x.to(m.bfloat16), x.to(m.bfloat16)),
    "bce_with_logits": lambda m, F, x, w, i, k: F.binary_cross_entropy_with_logits(x.to(m.bfloat16),
                                                                                    x.sigmoid().to(m.bfloat16)),
    "bce": lambda m, F, x, w, i, k: F.binary_cross_entropy(x.sigmoid().to(m.bfloat16), x.sigmoid().to(m.bfloat16)),
    "prod": lambda m, F, x, w, i, k: x.to(m.bfloat16).prod(),
    "reflect_pad": lambda m, F, x, w, i, k: F.pad(i.to(m.bfloat16), (1, 1, 1, 1), mode="reflect"),
    "replicate_pad": lambda m, F, x, w, i, k: F.pad(i[0].to(m.bfloat16), (1, 1), mode="replicate"),
    "constant_pad": lambda m, F, x, w, i, k: F.pad(i.to(m.bfloat16), (1, 1)),
    # not on any CPU list: they keep their input's dtype
    "relu": lambda m, F, x, w, i, k: F.relu(x.to(m.bfloat16)),
    "softmax": lambda m, F, x, w, i, k: F.softmax(x.to(m.bfloat16), dim=1),
    "sum": lambda m, F, x, w, i, k: x.to(m.bfloat16).sum(),
    "exp": lambda m, F, x, w, i, k: x.exp(),
    "add_mixed": lambda m, F, x, w, i, k: x.to(m.bfloat16) + x,
    "max_pool2d": lambda m, F, x, w, i, k: F.max_pool2d(i.to(m.bfloat16), 2),
    "float64_matmul": lambda m, F, x, w, i, k: x.double() @ w.double().t(),
}


def _name(dtype):
    return str(dtype).split(".")[1]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", list(OPS))
def test_cpu_op_lists_match_pytorch(op, dtype):
    torch = pytest.importorskip("torch")
    got = {}
    for m in (gradcore, torch):
        with m.autocast("cpu", dtype=getattr(m, dtype)):
            out = OPS[op](m, m.nn.functional, m.tensor(X), m.tensor(W), m.tensor(IMG), m.tensor(K))
        got[m.__name__] = _name(out.dtype)
    assert got["gradcore"] == got["torch"]


def test_values_and_float32_gradients_under_autocast_match_pytorch():
    torch = pytest.importorskip("torch")
    res = []
    for m in (gradcore, torch):
        lin = m.nn.Linear(6, 5)
        with m.no_grad():
            lin.weight.copy_(m.tensor(W))
            lin.bias.copy_(m.tensor(np.linspace(-1, 1, 5).astype(np.float32)))
        x = m.tensor(X, requires_grad=True)
        with m.autocast("cpu"):
            out = lin(x)
            loss = m.nn.functional.cross_entropy(out, m.tensor([0, 1, 2, 3]))
        assert _name(out.dtype) == "bfloat16" and _name(loss.dtype) == "float32"
        loss.backward()
        assert _name(lin.weight.grad.dtype) == "float32" and _name(x.grad.dtype) == "float32"
        res.append((loss.item(), lin.weight.grad.numpy(), x.grad.numpy()))
    assert res[0][0] == pytest.approx(res[1][0], rel=1e-2)
    for a, b in zip(res[0][1:], res[1][1:]):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2)


def test_nesting_decorator_and_state():
    assert not gradcore.is_autocast_enabled("cpu") and not gradcore.is_autocast_enabled()
    assert gradcore.get_autocast_dtype("cpu") == gradcore.bfloat16
    x, w = gradcore.tensor(X), gradcore.tensor(W)
    with gradcore.amp.autocast("cpu"):
        assert gradcore.is_autocast_enabled("cpu")
        with gradcore.autocast("cpu", enabled=False):
            assert (x @ w.t()).dtype == gradcore.float32 and not gradcore.is_autocast_enabled("cpu")
        with gradcore.autocast("cpu", dtype=gradcore.float16):
            assert (x @ w.t()).dtype == gradcore.float16
        assert (x @ w.t()).dtype == gradcore.bfloat16
    assert not gradcore.is_autocast_enabled("cpu") and (x @ w.t()).dtype == gradcore.float32

    @gradcore.autocast("cpu")
    def forward(a, b):
        return a @ b.t()

    assert forward(x, w).dtype == gradcore.bfloat16 and (x @ w.t()).dtype == gradcore.float32
    try:  # the state is restored when the region raises
        with gradcore.autocast("cpu"):
            raise KeyError("boom")
    except KeyError:
        pass
    assert not gradcore.is_autocast_enabled("cpu")


def test_unsupported_arguments_and_deprecated_forms():
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        gradcore.autocast("tpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        gradcore.autocast(gradcore.device("cpu"))
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        region = gradcore.autocast("cpu", dtype=gradcore.float64)
    with region:
        assert not gradcore.is_autocast_enabled("cpu")
    with pytest.warns(FutureWarning, match=r"gradcore.cpu.amp.autocast\(args...\)` is deprecated"):
        region = gradcore.cpu.amp.autocast()
    with region:
        assert gradcore.is_autocast_enabled("cpu") and gradcore.get_autocast_dtype("cpu") == gradcore.bfloat16
    if not gradcore.cuda.is_available():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with gradcore.cuda.amp.autocast():
                assert not gradcore.is_autocast_enabled("cuda")
        kinds = {(w.category, str(w.message).split("(")[0]) for w in caught}
        assert (FutureWarning, "`gradcore.cuda.amp.autocast") in kinds
        assert any("CUDA is not available" in str(w.message) for w in caught)
