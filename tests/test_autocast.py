"""Autocast (issue 16): gradcore.autocast / gradcore.amp.autocast as context manager and
decorator, PyTorch 2.13's op lists (the whole lists against PyTorch's dispatcher and
autocast_mode.cpp; on the CPU op by op against PyTorch's output dtypes; CUDA's on CPU tensors routed
to its lists, against PyTorch on fake CUDA tensors where those run, and on a GPU where there is
one), nesting with enabled=False, float32 gradients for float32 parameters, float64 untouched, and
the deprecated gradcore.cpu.amp / gradcore.cuda.amp forms with their FutureWarnings."""
import contextlib
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
    # CUDA's float32 list, not the CPU's: they keep a bfloat16 input bfloat16 here
    "exp_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16).exp(),
    "pow_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16) ** 2,
    "square_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16).square(),
    "log_softmax_bf16": lambda m, F, x, w, i, k: F.log_softmax(x.to(m.bfloat16), 1),
    "softplus_bf16": lambda m, F, x, w, i, k: F.softplus(x.to(m.bfloat16)),
    "norm_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16).norm(),
    "group_norm_bf16": lambda m, F, x, w, i, k: F.group_norm(i.to(m.bfloat16), 3),
    "interpolate_bf16": lambda m, F, x, w, i, k: F.interpolate(i.to(m.bfloat16), scale_factor=2, mode="bilinear"),
    "scatter_add_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16).scatter_add(0, m.zeros(4, 6, dtype=m.int64),
                                                                               x.to(m.bfloat16)),
    "index_put_bf16": lambda m, F, x, w, i, k: x.to(m.bfloat16).index_put((m.tensor([1]),), x[:1].to(m.bfloat16)),
    "prod_dtype": lambda m, F, x, w, i, k: x.to(m.bfloat16).prod(dtype=m.float16),
    "cross_entropy_probs": lambda m, F, x, w, i, k: F.cross_entropy(x, x.softmax(1).to(m.bfloat16)),
    # the CPU's promote list: cat, stack (and concat, PyTorch's cat)
    "cat_bf16_f32": lambda m, F, x, w, i, k: m.cat([x.to(m.bfloat16), x]),
    "cat_f32_f16": lambda m, F, x, w, i, k: m.cat([x, x.to(m.float16)]),
    "cat_bf16": lambda m, F, x, w, i, k: m.cat([x.to(m.bfloat16), x.to(m.bfloat16)]),
    "cat_f16": lambda m, F, x, w, i, k: m.cat([x.to(m.float16), x.to(m.float16)]),
    "cat_bf16_int": lambda m, F, x, w, i, k: m.cat([x.to(m.bfloat16), x.to(m.int64)]),
    "cat_f16_f64": lambda m, F, x, w, i, k: m.cat([x.to(m.float16), x.double()]),
    "cat_int": lambda m, F, x, w, i, k: m.cat([x.to(m.int64), x.to(m.int64)]),
    "stack_f32_bf16": lambda m, F, x, w, i, k: m.stack([x, x.to(m.bfloat16)]),
    "stack_bf16_f16": lambda m, F, x, w, i, k: m.stack([x.to(m.bfloat16), x.to(m.float16)]),
    "concat_bf16_f32": lambda m, F, x, w, i, k: m.concat([x.to(m.bfloat16), x]),
    # constant padding is on no list, although gradcore joins the blocks with cat
    "constant_pad_f16": lambda m, F, x, w, i, k: F.pad(i.to(m.float16), (1, 1)),
}


def _name(dtype):
    return str(dtype).split(".")[1]


def _outcome(fn):
    """The dtype name of fn()'s result, or the autocast error it raised (its first words)."""
    try:
        return _name(fn().dtype)
    except RuntimeError as e:
        for words in ("Unexpected floating ScalarType in at::autocast::prioritize",
                      "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"):
            if words in str(e):
                return words
        raise


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", list(OPS))
def test_cpu_op_lists_match_pytorch(op, dtype):
    torch = pytest.importorskip("torch")
    got = {}
    for m in (gradcore, torch):
        with m.autocast("cpu", dtype=getattr(m, dtype)):
            got[m.__name__] = _outcome(lambda: OPS[op](m, m.nn.functional, m.tensor(X), m.tensor(W), m.tensor(IMG),
                                                       m.tensor(K)))
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


# ---- the lists themselves ----

# CUDA's lists in PyTorch 2.13's aten/src/ATen/autocast_mode.cpp (AT_FORALL_LOWER_PRECISION_FP plus
# the cudnn convolutions, AT_FORALL_FP32, AT_FORALL_FP32_SET_OPT_DTYPE,
# AT_FORALL_DIFFERENT_REDISPATCH_SIGNATURE, AT_FORALL_PROMOTE, and the banned
# binary_cross_entropy), by op name without overload.
CUDA_LISTS = {
    "lower_precision_fp": """_convolution conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d
        conv_transpose3d convolution prelu addmm addmv addr matmul einsum mm mv linalg_vecdot linear addbmm baddbmm
        bmm chain_matmul linalg_multi_dot _thnn_fused_lstm_cell _thnn_fused_gru_cell lstm_cell gru_cell rnn_tanh_cell
        rnn_relu_cell _scaled_dot_product_flash_attention scaled_dot_product_attention cudnn_convolution
        cudnn_convolution_transpose""",
    "fp32": """acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow softplus layer_norm
        native_layer_norm group_norm rms_norm frobenius_norm nuclear_norm cosine_similarity poisson_nll_loss
        cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss kl_div l1_loss smooth_l1_loss huber_loss
        mse_loss margin_ranking_loss multilabel_margin_loss soft_margin_loss triplet_margin_loss multi_margin_loss
        binary_cross_entropy_with_logits dist pdist cdist renorm logsumexp upsample_nearest1d
        _upsample_nearest_exact1d upsample_nearest2d _upsample_nearest_exact2d upsample_nearest3d
        _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d _upsample_bilinear2d_aa upsample_trilinear3d
        upsample_bicubic2d _upsample_bicubic2d_aa""",
    "fp32_set_opt_dtype": "prod softmax log_softmax cumprod cumsum linalg_vector_norm linalg_matrix_norm sum",
    "fp32_append_dtype": "norm",
    "promote": "addcdiv addcmul atan2 bilinear cross dot vdot grid_sampler index_put tensordot scatter_add",
    "banned": "binary_cross_entropy",
}


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_op_lists_hold_the_ops_pytorch_registers(device):
    """The ops with an Autocast<device> kernel in PyTorch's dispatcher (CPU builds register CUDA's too)."""
    torch = pytest.importorskip("torch")
    key = {"cpu": "AutocastCPU", "cuda": "AutocastCUDA"}[device]
    theirs = {name[len("aten::"):].split(".")[0] for name in torch._C._dispatch_get_all_op_names()
              if name.startswith("aten::") and torch._C._dispatch_has_kernel_for_dispatch_key(name, key)}
    assert set(gradcore._C._autocast_op_list(device)) == theirs


def test_cuda_policies_are_autocast_mode_cpps():
    expected = {op: policy for policy, ops in CUDA_LISTS.items() for op in ops.split()}
    assert gradcore._C._autocast_op_list("cuda") == expected
    assert gradcore._C._autocast_policy("cuda", "exp") == "fp32"
    assert gradcore._C._autocast_policy("cpu", "exp") is None
    assert gradcore._C._autocast_policy("cpu", "cat") == "promote"
    assert gradcore._C._autocast_policy("cuda", "cat") is None
    assert gradcore._C._autocast_policy("cpu", "binary_cross_entropy") == "fp32"
    assert gradcore._C._autocast_policy("cuda", "binary_cross_entropy") == "banned"


# ---- CUDA's lists, op by op ----
# Each case: fn(module, F, t) under CUDA autocast (dtype `low`), and the dtype of its result: "low"
# (autocast's dtype), another dtype's name, or the error. t holds x (4, 6) float32, lo: x in `low`,
# other: x in the other 16-bit dtype, d: x in float64, w (5, 6), img (2, 3, 6, 6) and img_lo, k
# (4, 3, 3, 3), lbl (4,) int64 and idx (4, 6) int64 zeros. `fake`: whether PyTorch's CPU build runs
# the case on fake CUDA tensors (its meta kernels of the rest want a CUDA build).
PRIORITIZE = "Unexpected floating ScalarType in at::autocast::prioritize"
BANNED = "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"
CUDA_CASES = {
    # lower_precision_fp
    "matmul": (lambda m, F, t: t.x @ t.w.t(), "low", True),
    "matmul_other16": (lambda m, F, t: t.other @ t.other.t(), "low", True),
    "matmul_float64": (lambda m, F, t: t.d @ t.d.t(), "float64", True),
    "mm": (lambda m, F, t: m.mm(t.x, t.w.t()), "low", True),
    "bmm": (lambda m, F, t: m.bmm(t.x.unsqueeze(0), t.w.t().unsqueeze(0)), "low", False),
    "linear": (lambda m, F, t: F.linear(t.x, t.w, t.w[:, 0]), "low", False),
    "conv2d": (lambda m, F, t: F.conv2d(t.img, t.k, padding=1), "low", False),
    "conv1d": (lambda m, F, t: F.conv1d(t.img[:, :, 0], t.k[:, :, 0]), "low", False),
    "conv_transpose2d": (lambda m, F, t: F.conv_transpose2d(t.img, t.k.transpose(0, 1)), "low", False),
    "conv_transpose1d": (lambda m, F, t: F.conv_transpose1d(t.img[:, :, 0], t.k[:, :, 0].transpose(0, 1)), "low",
                         False),
    # fp32
    "exp": (lambda m, F, t: t.lo.exp(), "float32", True),
    "exp_function": (lambda m, F, t: m.exp(t.lo), "float32", True),
    "log": (lambda m, F, t: t.lo.log(), "float32", True),
    "log1p": (lambda m, F, t: t.lo.log1p(), "float32", True),
    "expm1": (lambda m, F, t: t.lo.expm1(), "float32", True),
    "reciprocal": (lambda m, F, t: t.lo.reciprocal(), "float32", True),
    "rsqrt": (lambda m, F, t: t.lo.rsqrt(), "float32", True),
    "square": (lambda m, F, t: t.lo.square(), "float32", True),  # PyTorch's square is pow(x, 2)
    "pow_scalar": (lambda m, F, t: t.lo ** 2, "float32", True),
    "pow_reflected": (lambda m, F, t: 2 ** t.lo, "float32", True),
    "pow_tensor": (lambda m, F, t: t.lo.pow(t.lo), "float32", True),
    "pow_function": (lambda m, F, t: m.pow(t.lo, 3), "float32", True),
    "softplus": (lambda m, F, t: F.softplus(t.lo), "float32", True),
    "exp_float64": (lambda m, F, t: t.d.exp(), "float64", True),
    "cross_entropy": (lambda m, F, t: F.cross_entropy(t.lo, t.lbl), "float32", True),
    "cross_entropy_weight": (lambda m, F, t: F.cross_entropy(t.lo, t.lbl, weight=t.lo[0]), "float32", False),
    "cross_entropy_probs": (lambda m, F, t: F.cross_entropy(t.lo, t.lo), "float32", True),
    "nll_loss": (lambda m, F, t: F.nll_loss(t.lo, t.lbl), "float32", True),
    "mse_loss": (lambda m, F, t: F.mse_loss(t.lo, t.lo), "float32", True),
    "l1_loss": (lambda m, F, t: F.l1_loss(t.lo, t.lo), "float32", True),
    "bce_with_logits": (lambda m, F, t: F.binary_cross_entropy_with_logits(t.lo, t.lo), "float32", True),
    "group_norm": (lambda m, F, t: F.group_norm(t.img_lo, 3), "float32", False),
    "interpolate_nearest": (lambda m, F, t: F.interpolate(t.img_lo, scale_factor=2), "float32", False),
    "interpolate_nearest_exact": (lambda m, F, t: F.interpolate(t.img_lo, size=(4, 5), mode="nearest-exact"),
                                  "float32", False),
    "interpolate_bilinear": (lambda m, F, t: F.interpolate(t.img_lo, size=(4, 9), mode="bilinear"), "float32", False),
    "interpolate_bicubic": (lambda m, F, t: F.interpolate(t.img_lo, scale_factor=2, mode="bicubic"), "float32", False),
    "interpolate_linear": (lambda m, F, t: F.interpolate(t.img_lo[:, :, 0], size=9, mode="linear"), "float32", False),
    # fp32_set_opt_dtype (and norm, which PyTorch computes with linalg.vector_norm)
    "sum": (lambda m, F, t: t.lo.sum(), "float32", True),
    "sum_dim": (lambda m, F, t: m.sum(t.lo, 1), "float32", True),
    "sum_dtype": (lambda m, F, t: t.lo.sum(dtype=t.low), "low", True),
    "sum_int64": (lambda m, F, t: t.idx.sum(), "int64", True),
    "prod": (lambda m, F, t: t.lo.prod(), "float32", True),
    "prod_dtype": (lambda m, F, t: t.lo.prod(dtype=t.low), "low", True),
    "softmax": (lambda m, F, t: t.lo.softmax(1), "float32", True),
    "softmax_dtype": (lambda m, F, t: F.softmax(t.lo, 1, dtype=t.low), "low", True),
    "log_softmax": (lambda m, F, t: F.log_softmax(t.lo, 1), "float32", True),
    "norm": (lambda m, F, t: t.lo.norm(), "float32", True),
    "norm_p1_dim": (lambda m, F, t: t.lo.norm(p=1, dim=1), "float32", True),
    "norm_dtype": (lambda m, F, t: t.lo.norm(dtype=t.low), "low", True),
    # promote
    "scatter_add": (lambda m, F, t: t.lo.scatter_add(0, t.idx, t.x), "float32", True),
    "scatter_add_low": (lambda m, F, t: t.lo.scatter_add(0, t.idx, t.lo), "low", True),
    "scatter_add_other16": (lambda m, F, t: t.other.scatter_add(0, t.idx, t.other), PRIORITIZE, True),
    "index_put": (lambda m, F, t: t.lo.index_put((t.lbl[:1],), t.x[:1]), "float32", False),
    "index_put_low": (lambda m, F, t: t.lo.index_put((t.lbl[:1],), t.lo[:1]), "low", False),
    # banned
    "binary_cross_entropy": (lambda m, F, t: F.binary_cross_entropy(t.x.sigmoid(), t.x.sigmoid()), BANNED, True),
    # on no CUDA list: the inputs' dtypes (cat and stack promote by themselves)
    "relu": (lambda m, F, t: t.lo.relu(), "low", True),
    "sqrt": (lambda m, F, t: t.lo.sqrt(), "low", True),
    "sigmoid": (lambda m, F, t: t.lo.sigmoid(), "low", True),
    "gelu": (lambda m, F, t: F.gelu(t.lo), "low", True),
    "silu": (lambda m, F, t: F.silu(t.lo), "low", True),
    "mean": (lambda m, F, t: t.lo.mean(), "low", True),
    "var": (lambda m, F, t: t.lo.var(), "low", True),
    "add": (lambda m, F, t: t.lo + t.lo, "low", True),
    "add_mixed": (lambda m, F, t: t.lo + t.x, "float32", True),
    "exp_inplace": (lambda m, F, t: t.lo.clone().exp_(), "low", True),
    "pow_inplace": (lambda m, F, t: t.lo.clone().pow_(2), "low", True),
    "cat": (lambda m, F, t: m.cat([t.lo, t.lo]), "low", True),
    "cat_other16": (lambda m, F, t: m.cat([t.lo, t.other]), "float32", True),
    "stack": (lambda m, F, t: m.stack([t.lo, t.x]), "float32", True),
    "max_pool2d": (lambda m, F, t: F.max_pool2d(t.img_lo, 2), "low", False),
    "reflect_pad": (lambda m, F, t: F.pad(t.img_lo, (1, 1, 1, 1), mode="reflect"), "low", False),
    "constant_pad": (lambda m, F, t: F.pad(t.img_lo, (1, 1)), "low", False),
    "interpolate_area": (lambda m, F, t: F.interpolate(t.img_lo, size=3, mode="area"), "low", False),
}
LOW = ["float16", "bfloat16"]


class _Inputs:
    def __init__(self, m, low, make):
        other = m.bfloat16 if low == "float16" else m.float16
        self.low = getattr(m, low)
        self.x, self.w = make(X, m.float32), make(W, m.float32)
        self.lo, self.other, self.d = make(X, self.low), make(X, other), make(X, m.float64)
        self.img, self.img_lo, self.k = make(IMG, m.float32), make(IMG, self.low), make(K, m.float32)
        self.lbl = make(np.array([0, 1, 2, 3]), m.int64)
        self.idx = make(np.zeros((4, 6), np.int64), m.int64)


@contextlib.contextmanager
def _cuda_lists_on_cpu(low):
    """CPU tensors under CPU autocast in `low`, following CUDA's op lists."""
    before = gradcore._C._set_autocast_op_lists("cpu", "cuda")
    try:
        with gradcore.autocast("cpu", dtype=getattr(gradcore, low)):
            yield
    finally:
        gradcore._C._set_autocast_op_lists("cpu", before)


def _expected(case, low):
    want = CUDA_CASES[case][1]
    return low if want == "low" else want


@pytest.mark.parametrize("low", LOW)
@pytest.mark.parametrize("case", list(CUDA_CASES))
def test_cuda_lists_op_by_op(case, low):
    """gradcore on CPU tensors routed to CUDA's lists, and PyTorch on fake CUDA tensors."""
    fn, _, fake = CUDA_CASES[case]
    with _cuda_lists_on_cpu(low):
        t = _Inputs(gradcore, low, lambda a, dt: gradcore.tensor(a).to(dt))
        assert _outcome(lambda: fn(gradcore, gradcore.nn.functional, t)) == _expected(case, low)
    if not fake:
        return
    torch = pytest.importorskip("torch")
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        t = _Inputs(torch, low, lambda a, dt: torch.empty(a.shape, dtype=dt, device="cuda"))
        before = torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda")
        torch.set_autocast_enabled("cuda", True)
        torch.set_autocast_dtype("cuda", t.low)
        try:
            got = _outcome(lambda: fn(torch, torch.nn.functional, t))
        finally:
            torch.set_autocast_enabled("cuda", before[0])
            torch.set_autocast_dtype("cuda", before[1])
    assert got == _expected(case, low)


def _gradient_dtypes(device, low, region):
    """Leaves of each dtype through a lower-precision op, a float32 op and a promote op: every
    gradient comes back in its leaf's dtype (the casts are differentiable conversions)."""
    def leaf(a, dt):
        return gradcore.tensor(a, device=device).to(dt).detach().requires_grad_()

    dt = getattr(gradcore, low)
    w, x, lo, src = leaf(W, gradcore.float32), leaf(X, gradcore.float32), leaf(X, dt), leaf(X, gradcore.float32)
    idx = gradcore.zeros(4, 6, dtype=gradcore.int64, device=device)
    with region:
        out = gradcore.nn.functional.linear(x, w)
        loss = gradcore.nn.functional.cross_entropy(out, gradcore.tensor([0, 1, 2, 3], device=device))
        total = loss + lo.exp().sum() + lo.scatter_add(0, idx, src).sum()
    assert (out.dtype, loss.dtype, total.dtype) == (dt, gradcore.float32, gradcore.float32)
    total.backward()
    assert [g.grad.dtype for g in (w, x, lo, src)] == [gradcore.float32, gradcore.float32, dt, gradcore.float32]


def test_routing_to_cuda_lists_ends_with_its_region():
    with _cuda_lists_on_cpu("float16"):
        assert gradcore.tensor(X).half().exp().dtype == gradcore.float32
    assert gradcore._C._set_autocast_op_lists("cpu", "cpu") == "cpu"
    with gradcore.autocast("cpu", dtype=gradcore.float16):
        assert gradcore.tensor(X).half().exp().dtype == gradcore.float16


@pytest.mark.parametrize("low", LOW)
def test_cuda_lists_gradient_dtypes(low):
    _gradient_dtypes("cpu", low, _cuda_lists_on_cpu(low))


def test_banned_binary_cross_entropy_message_is_pytorchs():
    with _cuda_lists_on_cpu("float16"), pytest.raises(RuntimeError) as err:
        gradcore.nn.functional.binary_cross_entropy(gradcore.tensor(X).sigmoid(), gradcore.tensor(X).sigmoid())
    assert str(err.value) == (
        "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
        "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
        "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
        "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
        "safe to autocast.")
    # banned whatever the dtype (PyTorch's banned kernel never looks at it); the size check comes first
    with _cuda_lists_on_cpu("float16"), pytest.raises(RuntimeError, match="unsafe to autocast"):
        gradcore.nn.functional.binary_cross_entropy(gradcore.tensor(X).double().sigmoid(), gradcore.tensor(X).double())
    with _cuda_lists_on_cpu("float16"), pytest.raises(ValueError, match="Using a target size"):
        gradcore.nn.functional.binary_cross_entropy(gradcore.tensor(X).sigmoid(), gradcore.tensor(W).sigmoid())
    with gradcore.autocast("cpu"):  # the CPU computes it in float32
        assert gradcore.nn.functional.binary_cross_entropy(gradcore.tensor(X).sigmoid().half(),
                                                           gradcore.tensor(X).sigmoid()).dtype == gradcore.float32


def test_promote_error_names_the_op_and_the_fix():
    with gradcore.autocast("cpu"), pytest.raises(RuntimeError) as err:
        gradcore.cat([gradcore.tensor(X).half(), gradcore.tensor(X).half()])
    msg = str(err.value)
    assert msg.startswith("cat: " + PRIORITIZE) and "float16 input under bfloat16 autocast on cpu" in msg
    assert "Hint:" in msg


# ---- CUDA itself (skipped without a GPU) ----

@pytest.mark.cuda
@pytest.mark.parametrize("low", LOW)
@pytest.mark.parametrize("case", list(CUDA_CASES))
def test_cuda_autocast_op_by_op(case, low):
    fn = CUDA_CASES[case][0]
    t = _Inputs(gradcore, low, lambda a, dt: gradcore.tensor(a, device="cuda").to(dt))
    with gradcore.autocast("cuda", dtype=getattr(gradcore, low)):
        got = _outcome(lambda: fn(gradcore, gradcore.nn.functional, t))
        cpu_tensor = gradcore.tensor(X).half()
        assert cpu_tensor.exp().dtype == gradcore.float16  # CPU tensors follow CPU autocast (off)
    assert got == _expected(case, low)


@pytest.mark.cuda
@pytest.mark.parametrize("low", LOW)
def test_cuda_autocast_gradient_dtypes(low):
    _gradient_dtypes("cuda", low, gradcore.autocast("cuda", dtype=getattr(gradcore, low)))


@pytest.mark.cuda
def test_cuda_autocast_values_match_float32():
    """A float16 product under autocast is the float32 product rounded (to float16's precision)."""
    a, b = gradcore.tensor(X, device="cuda"), gradcore.tensor(W, device="cuda")
    with gradcore.autocast("cuda"):
        out = a @ b.t()
        sm = out.softmax(1)
    assert out.dtype == gradcore.float16 and sm.dtype == gradcore.float32
    np.testing.assert_allclose(out.float().cpu().numpy(), X @ W.T, rtol=2e-2, atol=2e-2)
