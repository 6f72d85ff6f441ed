// Autocast's casts: PyTorch 2.13's per-device op lists (aten/src/ATen/autocast_mode.cpp, its
// AutocastCPU and AutocastCUDA registrations), whole, under their aten names, and the casting rule
// of each of PyTorch's policies:
//   lower_precision_fp  floating inputs (float64 excepted) computed in autocast's dtype
//   fp32                floating 16-bit inputs computed in float32
//   fp32_set_opt_dtype  as fp32 unless the op's dtype= argument is given (sum, softmax, ...)
//   fp32_append_dtype   as fp32 (norm's overloads without dtype, which redispatch with float32)
//   promote             floating inputs (float64 excepted) cast to one type: float32 when one of
//                       them is float32, else autocast's dtype (a 16-bit input of the other type
//                       is an error, as in PyTorch's at::autocast::prioritize)
//   banned              raises (binary_cross_entropy on CUDA)
// Every other op runs in its inputs' dtypes. Only tensors on the device whose autocast is on are
// cast, never float64 or non-floating ones, and the casts are ordinary differentiable conversions,
// so the gradients of float32 parameters come back float32. gradcore applies an op's policy where
// its binding (or Python function) receives the inputs; ops it lacks are listed all the same, so
// the table can be checked against PyTorch's whole.
#include <string_view>
#include <unordered_map>
#include "core/autocast.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

using P = AutocastPolicy;
struct Entry {
  const char* op;
  P policy;
};

// AutocastCPU.
const Entry kCpu[] = {
    // lower_precision_fp
    {"conv1d", P::LowerPrecisionFp}, {"conv2d", P::LowerPrecisionFp}, {"conv3d", P::LowerPrecisionFp},
    {"bmm", P::LowerPrecisionFp}, {"mm", P::LowerPrecisionFp}, {"linalg_vecdot", P::LowerPrecisionFp},
    {"baddbmm", P::LowerPrecisionFp}, {"addmm", P::LowerPrecisionFp}, {"_addmm_activation", P::LowerPrecisionFp},
    {"addbmm", P::LowerPrecisionFp}, {"linear", P::LowerPrecisionFp}, {"_convolution", P::LowerPrecisionFp},
    {"matmul", P::LowerPrecisionFp}, {"conv_tbc", P::LowerPrecisionFp}, {"mkldnn_rnn_layer", P::LowerPrecisionFp},
    {"conv_transpose1d", P::LowerPrecisionFp}, {"conv_transpose2d", P::LowerPrecisionFp},
    {"conv_transpose3d", P::LowerPrecisionFp}, {"prelu", P::LowerPrecisionFp},
    {"scaled_dot_product_attention", P::LowerPrecisionFp}, {"_native_multi_head_attention", P::LowerPrecisionFp},
    // fp32
    {"avg_pool3d", P::Fp32}, {"binary_cross_entropy", P::Fp32}, {"grid_sampler", P::Fp32}, {"polar", P::Fp32},
    {"prod", P::Fp32}, {"quantile", P::Fp32}, {"nanquantile", P::Fp32}, {"stft", P::Fp32}, {"cdist", P::Fp32},
    {"grid_sampler_2d", P::Fp32}, {"_grid_sampler_2d_cpu_fallback", P::Fp32}, {"grid_sampler_3d", P::Fp32},
    {"trace", P::Fp32}, {"view_as_complex", P::Fp32}, {"cholesky", P::Fp32}, {"cholesky_inverse", P::Fp32},
    {"cholesky_solve", P::Fp32}, {"inverse", P::Fp32}, {"lu_solve", P::Fp32}, {"orgqr", P::Fp32},
    {"ormqr", P::Fp32}, {"pinverse", P::Fp32}, {"max_pool3d", P::Fp32}, {"max_unpool2d", P::Fp32},
    {"max_unpool3d", P::Fp32}, {"adaptive_avg_pool3d", P::Fp32}, {"reflection_pad1d", P::Fp32},
    {"reflection_pad2d", P::Fp32}, {"replication_pad1d", P::Fp32}, {"replication_pad2d", P::Fp32},
    {"replication_pad3d", P::Fp32}, {"mse_loss", P::Fp32}, {"cosine_embedding_loss", P::Fp32},
    {"nll_loss", P::Fp32}, {"nll_loss2d", P::Fp32}, {"hinge_embedding_loss", P::Fp32},
    {"poisson_nll_loss", P::Fp32}, {"smooth_l1_loss", P::Fp32}, {"cross_entropy_loss", P::Fp32},
    {"l1_loss", P::Fp32}, {"huber_loss", P::Fp32}, {"margin_ranking_loss", P::Fp32},
    {"soft_margin_loss", P::Fp32}, {"triplet_margin_loss", P::Fp32}, {"multi_margin_loss", P::Fp32},
    {"ctc_loss", P::Fp32}, {"kl_div", P::Fp32}, {"multilabel_margin_loss", P::Fp32},
    {"binary_cross_entropy_with_logits", P::Fp32}, {"fft_fft", P::Fp32}, {"fft_ifft", P::Fp32},
    {"fft_fft2", P::Fp32}, {"fft_ifft2", P::Fp32}, {"fft_fftn", P::Fp32}, {"fft_ifftn", P::Fp32},
    {"fft_rfft", P::Fp32}, {"fft_irfft", P::Fp32}, {"fft_rfft2", P::Fp32}, {"fft_irfft2", P::Fp32},
    {"fft_rfftn", P::Fp32}, {"fft_irfftn", P::Fp32}, {"fft_hfft", P::Fp32}, {"fft_ihfft", P::Fp32},
    {"linalg_cond", P::Fp32}, {"linalg_matrix_rank", P::Fp32}, {"linalg_solve", P::Fp32},
    {"linalg_cholesky", P::Fp32}, {"linalg_svdvals", P::Fp32}, {"linalg_eigvals", P::Fp32},
    {"linalg_eigvalsh", P::Fp32}, {"linalg_inv", P::Fp32}, {"linalg_householder_product", P::Fp32},
    {"linalg_tensorinv", P::Fp32}, {"linalg_tensorsolve", P::Fp32}, {"fake_quantize_per_tensor_affine", P::Fp32},
    {"geqrf", P::Fp32}, {"_lu_with_info", P::Fp32}, {"qr", P::Fp32}, {"svd", P::Fp32},
    {"triangular_solve", P::Fp32}, {"fractional_max_pool2d", P::Fp32}, {"fractional_max_pool3d", P::Fp32},
    {"adaptive_max_pool3d", P::Fp32}, {"multilabel_margin_loss_forward", P::Fp32}, {"linalg_qr", P::Fp32},
    {"linalg_cholesky_ex", P::Fp32}, {"linalg_svd", P::Fp32}, {"linalg_eig", P::Fp32}, {"linalg_eigh", P::Fp32},
    {"linalg_lstsq", P::Fp32}, {"linalg_inv_ex", P::Fp32},
    // promote
    {"stack", P::Promote}, {"cat", P::Promote}, {"index_copy", P::Promote},
};

// AutocastCUDA.
const Entry kCuda[] = {
    // lower_precision_fp
    {"_convolution", P::LowerPrecisionFp}, {"conv1d", P::LowerPrecisionFp}, {"conv2d", P::LowerPrecisionFp},
    {"conv3d", P::LowerPrecisionFp}, {"conv_tbc", P::LowerPrecisionFp}, {"conv_transpose1d", P::LowerPrecisionFp},
    {"conv_transpose2d", P::LowerPrecisionFp}, {"conv_transpose3d", P::LowerPrecisionFp},
    {"convolution", P::LowerPrecisionFp}, {"prelu", P::LowerPrecisionFp}, {"addmm", P::LowerPrecisionFp},
    {"addmv", P::LowerPrecisionFp}, {"addr", P::LowerPrecisionFp}, {"matmul", P::LowerPrecisionFp},
    {"einsum", P::LowerPrecisionFp}, {"mm", P::LowerPrecisionFp}, {"mv", P::LowerPrecisionFp},
    {"linalg_vecdot", P::LowerPrecisionFp}, {"linear", P::LowerPrecisionFp}, {"addbmm", P::LowerPrecisionFp},
    {"baddbmm", P::LowerPrecisionFp}, {"bmm", P::LowerPrecisionFp}, {"chain_matmul", P::LowerPrecisionFp},
    {"linalg_multi_dot", P::LowerPrecisionFp}, {"_thnn_fused_lstm_cell", P::LowerPrecisionFp},
    {"_thnn_fused_gru_cell", P::LowerPrecisionFp}, {"lstm_cell", P::LowerPrecisionFp},
    {"gru_cell", P::LowerPrecisionFp}, {"rnn_tanh_cell", P::LowerPrecisionFp}, {"rnn_relu_cell", P::LowerPrecisionFp},
    {"_scaled_dot_product_flash_attention", P::LowerPrecisionFp},
    {"scaled_dot_product_attention", P::LowerPrecisionFp}, {"cudnn_convolution", P::LowerPrecisionFp},
    {"cudnn_convolution_transpose", P::LowerPrecisionFp},
    // fp32
    {"acos", P::Fp32}, {"asin", P::Fp32}, {"cosh", P::Fp32}, {"erfinv", P::Fp32}, {"exp", P::Fp32},
    {"expm1", P::Fp32}, {"log", P::Fp32}, {"log10", P::Fp32}, {"log2", P::Fp32}, {"log1p", P::Fp32},
    {"reciprocal", P::Fp32}, {"rsqrt", P::Fp32}, {"sinh", P::Fp32}, {"tan", P::Fp32}, {"pow", P::Fp32},
    {"softplus", P::Fp32}, {"layer_norm", P::Fp32}, {"native_layer_norm", P::Fp32}, {"group_norm", P::Fp32},
    {"rms_norm", P::Fp32}, {"frobenius_norm", P::Fp32}, {"nuclear_norm", P::Fp32},
    {"cosine_similarity", P::Fp32}, {"poisson_nll_loss", P::Fp32}, {"cosine_embedding_loss", P::Fp32},
    {"nll_loss", P::Fp32}, {"nll_loss2d", P::Fp32}, {"hinge_embedding_loss", P::Fp32}, {"kl_div", P::Fp32},
    {"l1_loss", P::Fp32}, {"smooth_l1_loss", P::Fp32}, {"huber_loss", P::Fp32}, {"mse_loss", P::Fp32},
    {"margin_ranking_loss", P::Fp32}, {"multilabel_margin_loss", P::Fp32}, {"soft_margin_loss", P::Fp32},
    {"triplet_margin_loss", P::Fp32}, {"multi_margin_loss", P::Fp32},
    {"binary_cross_entropy_with_logits", P::Fp32}, {"dist", P::Fp32}, {"pdist", P::Fp32}, {"cdist", P::Fp32},
    {"renorm", P::Fp32}, {"logsumexp", P::Fp32}, {"upsample_nearest1d", P::Fp32},
    {"_upsample_nearest_exact1d", P::Fp32}, {"upsample_nearest2d", P::Fp32}, {"_upsample_nearest_exact2d", P::Fp32},
    {"upsample_nearest3d", P::Fp32}, {"_upsample_nearest_exact3d", P::Fp32}, {"upsample_linear1d", P::Fp32},
    {"upsample_bilinear2d", P::Fp32}, {"_upsample_bilinear2d_aa", P::Fp32}, {"upsample_trilinear3d", P::Fp32},
    {"upsample_bicubic2d", P::Fp32}, {"_upsample_bicubic2d_aa", P::Fp32},
    // fp32_set_opt_dtype
    {"prod", P::Fp32SetOptDtype}, {"softmax", P::Fp32SetOptDtype}, {"log_softmax", P::Fp32SetOptDtype},
    {"cumprod", P::Fp32SetOptDtype}, {"cumsum", P::Fp32SetOptDtype}, {"linalg_vector_norm", P::Fp32SetOptDtype},
    {"linalg_matrix_norm", P::Fp32SetOptDtype}, {"sum", P::Fp32SetOptDtype},
    // fp32_append_dtype
    {"norm", P::Fp32AppendDtype},
    // promote
    {"addcdiv", P::Promote}, {"addcmul", P::Promote}, {"atan2", P::Promote}, {"bilinear", P::Promote},
    {"cross", P::Promote}, {"dot", P::Promote}, {"vdot", P::Promote}, {"grid_sampler", P::Promote},
    {"index_put", P::Promote}, {"tensordot", P::Promote}, {"scatter_add", P::Promote},
    // banned
    {"binary_cross_entropy", P::Banned},
};

using Table = std::unordered_map<std::string_view, P>;

const Table& table(DeviceType lists) {
  static const Table cpu = [] {
    Table t;
    for (const auto& e : kCpu) t.emplace(e.op, e.policy);
    return t;
  }();
  static const Table cuda = [] {
    Table t;
    for (const auto& e : kCuda) t.emplace(e.op, e.policy);
    return t;
  }();
  return lists == DeviceType::CPU ? cpu : cuda;
}

// Whose op lists a device's tensors follow: their own, unless a test routes them to another
// device's (set_autocast_op_lists).
thread_local DeviceType t_lists[2] = {DeviceType::CPU, DeviceType::CUDA};
int slot(DeviceType d) { return d == DeviceType::CPU ? 0 : 1; }

// PyTorch's is_eligible: a floating tensor (not float64) on the op's device.
bool eligible(const TensorPtr& t, DeviceType device) {
  return t && t->device.type == device && is_floating(t->dtype) && t->dtype != DType::Float64 &&
         !t->is_wrapped_number;
}

TensorPtr cast(const TensorPtr& t, DeviceType device, DType to) {
  return eligible(t, device) && t->dtype != to ? to_dtype(t, to) : t;
}

[[noreturn]] void banned(const char* op) {
  (void)op;  // binary_cross_entropy, the one banned op; PyTorch's message, word for word
  throw Error(ErrorKind::Runtime,
              "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
              "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
              "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
              "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
              "safe to autocast.");
}

}  // namespace

AutocastPolicy autocast_policy(const char* op, DeviceType lists) {
  const Table& t = table(lists);
  auto it = t.find(op);
  return it == t.end() ? P::None : it->second;
}

const char* autocast_policy_name(AutocastPolicy p) {
  switch (p) {
    case P::None: return nullptr;
    case P::LowerPrecisionFp: return "lower_precision_fp";
    case P::Fp32: return "fp32";
    case P::Fp32SetOptDtype: return "fp32_set_opt_dtype";
    case P::Fp32AppendDtype: return "fp32_append_dtype";
    case P::Promote: return "promote";
    case P::Banned: return "banned";
  }
  return nullptr;
}

std::vector<std::pair<const char*, AutocastPolicy>> autocast_op_list(DeviceType lists) {
  std::vector<std::pair<const char*, AutocastPolicy>> out;
  if (lists == DeviceType::CPU)
    for (const auto& e : kCpu) out.emplace_back(e.op, e.policy);
  else
    for (const auto& e : kCuda) out.emplace_back(e.op, e.policy);
  return out;
}

DeviceType autocast_op_lists(DeviceType device) { return t_lists[slot(device)]; }
void set_autocast_op_lists(DeviceType device, DeviceType lists) { t_lists[slot(device)] = lists; }

TensorPtr autocast(const char* op, const TensorPtr& t, bool dtype_given) {
  if (!t || !Autocast::any()) return t;
  const DeviceType d = t->device.type;
  if (!Autocast::enabled(d)) return t;
  switch (autocast_policy(op, t_lists[slot(d)])) {
    case P::None: return t;
    case P::LowerPrecisionFp: return cast(t, d, Autocast::dtype(d));
    case P::Fp32SetOptDtype:
    case P::Fp32AppendDtype:
      if (dtype_given) return t;
      [[fallthrough]];
    case P::Fp32: return cast(t, d, DType::Float32);
    case P::Promote: return autocast_promote(op, {t})[0];
    case P::Banned: banned(op);
  }
  return t;
}

TensorList autocast_promote(const char* op, TensorList ts) {
  if (!Autocast::any()) return ts;
  const TensorPtr* first = nullptr;
  for (const auto& t : ts)
    if (t) {
      first = &t;
      break;
    }
  if (!first) return ts;
  const DeviceType d = (*first)->device.type;
  if (!Autocast::enabled(d)) return ts;
  const P p = autocast_policy(op, t_lists[slot(d)]);
  if (p == P::Banned) banned(op);
  if (p != P::Promote) {
    for (auto& t : ts) t = autocast(op, t);
    return ts;
  }
  // at::autocast::prioritize, argument by argument from autocast's dtype: float32 wins, float64
  // is passed over (and left as it is), and the other 16-bit type is refused.
  const DType lower = Autocast::dtype(d);
  DType to = lower;
  for (const auto& t : ts) {
    if (!t || t->device.type != d || !is_floating(t->dtype) || t->is_wrapped_number || t->dtype == DType::Float64)
      continue;
    if (to == DType::Float32 || t->dtype == DType::Float32) {
      to = DType::Float32;
    } else if (t->dtype != lower) {
      fail(ErrorKind::Runtime, op, "Unexpected floating ScalarType in at::autocast::prioritize: a ",
           dtype_name(t->dtype), " input under ", dtype_name(lower), " autocast on ", t->device.str(),
           " (autocast's promote rule joins float32 and ", dtype_name(lower), " only, as PyTorch's). Hint: cast the ",
           dtype_name(t->dtype), " inputs to ", dtype_name(lower), " or float32 first, or autocast with dtype=",
           dtype_name(t->dtype));
    }
  }
  for (auto& t : ts) t = cast(t, d, to);
  return ts;
}

}  // namespace gc::ops
