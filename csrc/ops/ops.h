// Every native op, declared in one place. Each op family is defined in one file of csrc/ops/
// (argument checks, dtype promotion, device dispatch, and its autograd node beside it) with its
// kernels in csrc/cpu/<family>.cpp. Ops record graph nodes when grad mode is on and an input
// requires grad; backward formulas call these same ops with grad mode off.
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/binary.h"
#include "kernels/optim.h"
#include "kernels/rnn.h"
#include "kernels/unary.h"

namespace gc {

class Generator;  // core/generator.h

namespace ops {

// ---- creation (ops/creation.cpp, cpu/fill.cpp, cpu/random.cpp) ----
TensorPtr empty(const DimVector& shape, DType dtype, Device device);
TensorPtr full(const DimVector& shape, Scalar value, DType dtype, Device device);
TensorPtr zeros(const DimVector& shape, DType dtype, Device device);
TensorPtr ones(const DimVector& shape, DType dtype, Device device);
TensorPtr scalar_tensor(Scalar value, DType dtype, Device device);  // 0-dim
TensorPtr wrapped_scalar(Scalar value, Device device);             // 0-dim, is_wrapped_number
TensorPtr arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype, Device device);
TensorPtr linspace(double start, double end, int64_t steps, DType dtype, Device device);
TensorPtr eye(int64_t n, int64_t m, DType dtype, Device device);
TensorPtr rand(const DimVector& shape, DType dtype, Device device, Generator* gen);
TensorPtr randn(const DimVector& shape, DType dtype, Device device, Generator* gen);
TensorPtr randint(int64_t low, int64_t high, const DimVector& shape, DType dtype, Device device, Generator* gen);
// In-place fills (no autograd; used by init functions under no_grad).
void uniform_(const TensorPtr& t, double low, double high, Generator* gen);
void normal_(const TensorPtr& t, double mean, double std, Generator* gen);
void fill_(const TensorPtr& t, Scalar value);  // differentiable: the grad of the filled region is 0
TensorPtr zero_(const TensorPtr& t);
// The generator an op on t draws from: `g`, or the default one of t's device when null (a
// generator of another device type raises).
Generator& generator_for(Generator* g, const TensorPtr& t, const char* op);

// ---- sampling (ops/random.cpp, cpu/random.cpp) ----
// Indices drawn from each row of 1-D or 2-D non-negative weights: [rows, num_samples] int64
// ([num_samples] for 1-D input).
TensorPtr multinomial(const TensorPtr& input, int64_t num_samples, bool replacement, Generator* gen);
TensorPtr randperm(int64_t n, DType dtype, Device device, Generator* gen);
// normal(mean, std) per element over their broadcast shape; a null operand is the scalar beside
// it. The result has the dtype of the tensor mean (else of std); the gradient is zero, as PyTorch's.
TensorPtr normal(const TensorPtr& mean, double mean_value, const TensorPtr& std, double std_value, Generator* gen);
TensorPtr bernoulli(const TensorPtr& p, Generator* gen);                    // 1 with probability p[i]
TensorPtr bernoulli(const TensorPtr& input, double p, Generator* gen);      // input's shape and dtype
void bernoulli_(const TensorPtr& t, double p, Generator* gen);
void bernoulli_(const TensorPtr& t, const TensorPtr& p, Generator* gen);   // p broadcast to t
void exponential_(const TensorPtr& t, double lambd, Generator* gen);
void geometric_(const TensorPtr& t, double p, Generator* gen);
// Integers uniform in [from, to); `to` unset: up to the largest integer t's dtype holds exactly.
void random_(const TensorPtr& t, int64_t from, std::optional<int64_t> to, Generator* gen);

// ---- copy and conversion (ops/copy.cpp, cpu/copy.cpp) ----
// Writes src (broadcast to dst's shape, converted to dst's dtype) into dst, through any strides.
void copy_into(const TensorPtr& dst, const TensorPtr& src);  // raw kernel, no autograd
TensorPtr copy_(const TensorPtr& dst, const TensorPtr& src);  // differentiable, in place
TensorPtr to_dtype(const TensorPtr& t, DType dtype, bool copy = false);
TensorPtr to_device(const TensorPtr& t, Device device, bool copy = false);
// `t` itself when on the CPU, else a CPU copy (no autograd): for values the host must read.
TensorPtr to_cpu(const TensorPtr& t);
TensorPtr contiguous(const TensorPtr& t);
// ---- autocast (ops/autocast.cpp) ----
// PyTorch's cast policies (at::autocast::CastPolicy), and banned; None: on no list.
enum class AutocastPolicy : uint8_t { None, LowerPrecisionFp, Fp32, Fp32SetOptDtype, Fp32AppendDtype, Promote, Banned };
// The policy of aten op `op` (its name without overload) on `lists`' op list.
AutocastPolicy autocast_policy(const char* op, DeviceType lists);
const char* autocast_policy_name(AutocastPolicy p);  // PyTorch's name; nullptr for None
std::vector<std::pair<const char*, AutocastPolicy>> autocast_op_list(DeviceType lists);
// Which device's op lists the tensors of `device` follow (their own, unless a test routes them).
DeviceType autocast_op_lists(DeviceType device);
void set_autocast_op_lists(DeviceType device, DeviceType lists);
// t as op computes it under autocast: t itself when autocast is off for t's device, the op is on
// no list, or t is not a float32/16-bit floating tensor; `dtype_given` (the op's dtype= argument)
// leaves t as it is for the fp32_set_opt_dtype and fp32_append_dtype ops. A banned op raises
// PyTorch's error; a promote op's tensors go through autocast_promote together.
TensorPtr autocast(const char* op, const TensorPtr& t, bool dtype_given = false);
// The tensors of an op under autocast (null entries stay null): a promote op's cast to one type,
// any other op's each by autocast().
TensorList autocast_promote(const char* op, TensorList ts);
// The value of a one-element tensor (any dtype, any device) as a Scalar.
Scalar scalar_of(const TensorPtr& value);
TensorPtr clone(const TensorPtr& t);
TensorPtr detach(const TensorPtr& t);

// ---- shape and views (ops/shape.cpp) ----
TensorPtr view(const TensorPtr& t, const DimVector& shape);
TensorPtr reshape(const TensorPtr& t, const DimVector& shape);
TensorPtr flatten(const TensorPtr& t, int64_t start_dim, int64_t end_dim);
TensorPtr unsqueeze(const TensorPtr& t, int64_t dim);
TensorPtr squeeze(const TensorPtr& t, std::optional<DimVector> dims);
TensorPtr transpose(const TensorPtr& t, int64_t d0, int64_t d1);
// t(): the transpose of a matrix; a 0-D or 1-D tensor comes back as a view of itself.
TensorPtr matrix_t(const TensorPtr& t);
TensorPtr permute(const TensorPtr& t, const DimVector& dims);
TensorPtr expand(const TensorPtr& t, const DimVector& shape);
TensorPtr as_strided(const TensorPtr& t, const DimVector& shape, const DimVector& strides, int64_t offset);
TensorPtr slice(const TensorPtr& t, int64_t dim, int64_t start, int64_t stop, int64_t step);  // stop exclusive, clamped
// Views of consecutive pieces of `sizes` along dim (they sum to its size; the caller checks),
// sharing one backward node (SplitWithSizesBackward0, or SplitBackward0 for split by one size).
TensorList split_with_sizes(const TensorPtr& t, const DimVector& sizes, int64_t dim, bool by_sizes);
TensorPtr select(const TensorPtr& t, int64_t dim, int64_t index);
TensorPtr cat(const TensorList& ts, int64_t dim);
TensorPtr stack(const TensorList& ts, int64_t dim);
// Sums `grad` over broadcast dims so it has `shape` (the backward of broadcasting).
TensorPtr sum_to_shape(const TensorPtr& grad, const DimVector& shape);
DimVector broadcast_shapes(const DimVector& a, const DimVector& b, const char* op);

// ---- elementwise binary (ops/binary.cpp; the op table and formulas: kernels/binary.h) ----
using kernels::BinaryOp;  // the rows of kernels/binary.h
// a op b for any row of the table (PyTorch's promotion, broadcasting, autograd).
TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b, Scalar alpha = Scalar::from_int(1));
// dtype of an op between a and b under PyTorch's promotion rules (wrapped numbers, 0-dim).
DType result_type(const TensorPtr& a, const TensorPtr& b);
TensorPtr add(const TensorPtr& a, const TensorPtr& b, Scalar alpha = Scalar::from_int(1));
TensorPtr sub(const TensorPtr& a, const TensorPtr& b, Scalar alpha = Scalar::from_int(1));
TensorPtr mul(const TensorPtr& a, const TensorPtr& b);
TensorPtr div(const TensorPtr& a, const TensorPtr& b);
TensorPtr pow(const TensorPtr& a, const TensorPtr& b);
TensorPtr maximum(const TensorPtr& a, const TensorPtr& b);
TensorPtr minimum(const TensorPtr& a, const TensorPtr& b);
TensorPtr floor_divide(const TensorPtr& a, const TensorPtr& b);
TensorPtr remainder(const TensorPtr& a, const TensorPtr& b);
TensorPtr compare(BinaryOp op, const TensorPtr& a, const TensorPtr& b);  // Eq..Ge, Logical*: bool out
TensorPtr where(const TensorPtr& cond, const TensorPtr& a, const TensorPtr& b);
// In place: self = self op other (self keeps its dtype; other is cast). Bumps self's version.
TensorPtr binary_(BinaryOp op, const TensorPtr& self, const TensorPtr& other, Scalar alpha = Scalar::from_int(1));

// ---- elementwise unary (ops/unary.cpp; the op table and formulas: kernels/unary.h) ----
// f(x) for an op of the table, e.g. unary(kernels::Exp{}, x) or unary(kernels::LeakyRelu{0.2}, x).
TensorPtr unary(const kernels::UnaryFn& f, const TensorPtr& x);
TensorPtr unary_(const kernels::UnaryFn& f, const TensorPtr& x);  // in place
TensorPtr clamp(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max);
TensorPtr clamp_(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max);
// min(max(x, min), max) with tensor bounds (either may be null): broadcast, promoted, NaN in a
// bound propagates, and the gradient reaches the bounds (where they are the answer).
TensorPtr clamp_tensor(const TensorPtr& x, const TensorPtr& min, const TensorPtr& max);

// ---- reductions (ops/reduce.cpp, cpu/reduce.cpp) ----
// dims empty = all dims.
TensorPtr sum(const TensorPtr& x, const DimVector& dims, bool keepdim, std::optional<DType> dtype = std::nullopt);
TensorPtr mean(const TensorPtr& x, const DimVector& dims, bool keepdim, std::optional<DType> dtype = std::nullopt);
TensorPtr var(const TensorPtr& x, const DimVector& dims, double correction, bool keepdim);
TensorPtr std(const TensorPtr& x, const DimVector& dims, double correction, bool keepdim);
TensorPtr prod(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim);
TensorPtr amax(const TensorPtr& x, const DimVector& dims, bool keepdim);
TensorPtr amin(const TensorPtr& x, const DimVector& dims, bool keepdim);
// max/min along one dim: (values, indices).
std::pair<TensorPtr, TensorPtr> max_dim(const TensorPtr& x, int64_t dim, bool keepdim);
std::pair<TensorPtr, TensorPtr> min_dim(const TensorPtr& x, int64_t dim, bool keepdim);
TensorPtr argmax(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim);
TensorPtr argmin(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim);
TensorPtr norm(const TensorPtr& x, double p, const DimVector& dims, bool keepdim);
TensorPtr any(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim);
TensorPtr all(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim);

// ---- sorting (ops/sort.cpp, cpu/sort.cpp, cuda/sort.cu) ----
// Each row along `dim` ordered ascending (NaN last) or descending (NaN first), stably:
// (values, int64 positions in the input). argsort and msort are its outputs.
std::pair<TensorPtr, TensorPtr> sort(const TensorPtr& x, int64_t dim, bool descending);
// The k largest (smallest) entries along `dim` and their positions, sorted when `sorted`.
std::pair<TensorPtr, TensorPtr> topk(const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted);
// ---- scans (ops/scan.cpp, cpu/scan.cpp, cuda/scan.cu) ----
// Running sum / product along `dim`; integer and bool inputs give int64 unless dtype is given.
TensorPtr cumsum(const TensorPtr& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
TensorPtr cumprod(const TensorPtr& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

// ---- matmul (ops/matmul.cpp, cpu/matmul.cpp) ----
TensorPtr matmul(const TensorPtr& a, const TensorPtr& b);  // 1-D, 2-D, batched with broadcast
TensorPtr mm(const TensorPtr& a, const TensorPtr& b);
TensorPtr bmm(const TensorPtr& a, const TensorPtr& b);
// out = beta*out + alpha * op(A) @ op(B) on 2-D strided operands, or 3-D batches of them where a
// batch of 1 broadcasts (the one GEMM entry point; no autograd).
// out = alpha * a @ b + beta * out (+ bias[j] on every row, then ReLU, as the GEMM stores its
// result: Linear's fused epilogue). bias: contiguous 1-D of N elements, or null.
void gemm_into(const TensorPtr& out, const TensorPtr& a, const TensorPtr& b, double alpha, double beta,
               const TensorPtr& bias = nullptr, bool relu = false);
// ---- convolution (ops/conv.cpp, cpu/conv.cpp, cuda/conv.cu) ----
// 2-D convolution with zero padding, possibly asymmetric (padding='same' with an even kernel pads
// one more after than before, as PyTorch).
struct Conv2dOptions {
  int64_t stride[2] = {1, 1};
  int64_t pad_before[2] = {0, 0}, pad_after[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};
// input [N, C, H, W] or unbatched [C, H, W]; weight [O, C / groups, kH, kW]; bias [O] or null.
TensorPtr conv2d(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias, const Conv2dOptions& o);
struct ConvTranspose2dOptions {
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, output_padding[2] = {0, 0}, dilation[2] = {1, 1};
  int64_t groups = 1;
};
// The adjoint of conv2d: input [N, Cin, h, w] or [Cin, h, w]; weight [Cin, Cout / groups, kH, kW];
// output H = (h - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
TensorPtr conv_transpose2d(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias,
                           const ConvTranspose2dOptions& o);
// Sliding blocks (F.unfold / F.fold): im2col of [N, C, H, W] (or [C, H, W]) to [N, C*kH*kW, L]
// (or unbatched), and col2im, its adjoint, summing overlapping blocks into [N, C, output_size].
struct UnfoldOptions {
  int64_t kernel[2] = {1, 1}, dilation[2] = {1, 1}, padding[2] = {0, 0}, stride[2] = {1, 1};
};
TensorPtr im2col(const TensorPtr& input, const UnfoldOptions& o);
TensorPtr col2im(const TensorPtr& input, const int64_t output_size[2], const UnfoldOptions& o);
// ---- batch norm (ops/norm.cpp, cpu/norm.cpp, cuda/norm.cu) ----
// Normalises each channel (dim 1) of input [N, C, *] by the batch's statistics (training, or when
// a running statistic is null) or the running ones, then * weight + bias (each may be null). In
// training the running statistics (when given) move by momentum towards the batch's mean and
// unbiased variance, in place.
TensorPtr batch_norm(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias,
                     const TensorPtr& running_mean, const TensorPtr& running_var, bool training, double momentum,
                     double eps);
// ---- layer norm and RMS norm (ops/layer_norm.cpp, cpu/layer_norm.cpp, cuda/layer_norm.cu) ----
// Normalise over the last len(normalized_shape) dims (which must equal normalized_shape):
// (x - mean) / sqrt(var + eps) * weight + bias, and x / sqrt(mean(x^2) + eps) * weight, with
// PyTorch's checks and errors; weight and bias may be null. rms_norm's eps defaults to the
// machine epsilon of the input's dtype.
TensorPtr layer_norm(const TensorPtr& input, const DimVector& normalized_shape, const TensorPtr& weight,
                     const TensorPtr& bias, double eps);
TensorPtr rms_norm(const TensorPtr& input, const DimVector& normalized_shape, const TensorPtr& weight,
                   std::optional<double> eps);
// ---- pooling (ops/pool.cpp, cpu/pool.cpp, cuda/pool.cu) ----
struct Pool2dOptions {
  int64_t kernel[2] = {1, 1}, stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};
  bool ceil_mode = false;
};
// Max over each window of input [N, C, H, W] or [C, H, W]: (values, int64 indices of the argmax
// in each H*W plane), as PyTorch's max_pool2d_with_indices.
std::pair<TensorPtr, TensorPtr> max_pool2d(const TensorPtr& input, const Pool2dOptions& o);
// Mean over each window (dilation must be 1); divisor_override <= 0 means none, otherwise the
// divisor of every window (0 is refused).
TensorPtr avg_pool2d(const TensorPtr& input, const Pool2dOptions& o, bool count_include_pad, int64_t divisor_override);
// Max / mean over adaptive windows: output [..., out_h, out_w], window y covering input rows
// [floor(y*H/out_h), ceil((y+1)*H/out_h)) (columns likewise).
std::pair<TensorPtr, TensorPtr> adaptive_max_pool2d(const TensorPtr& input, int64_t out_h, int64_t out_w);
TensorPtr adaptive_avg_pool2d(const TensorPtr& input, int64_t out_h, int64_t out_w);
// Linear layer: x @ w^T + b, fused where the backend can.
TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b /* may be null */);
// relu(linear(x, w, b)) as one op with one backward node (the pre-activation is not kept).
TensorPtr linear_relu(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b /* may be null */);
// When h is the output of linear() itself (not a view) and y = relu(h): a node that runs the
// backward of both as linear_relu's does (the ReLU mask and the bias gradient in one pass, then
// the two GEMMs), to become y's grad_fn; null otherwise. So relu(linear(...)) backpropagates the
// same way however the model is written (F.relu(self.fc(x)) in a forward, or inside nn.Sequential).
std::shared_ptr<Node> linear_relu_backward(const TensorPtr& h, const TensorPtr& y);

// ---- recurrent layers (ops/rnn.cpp, cpu/rnn.cpp, cuda/rnn.cu; formulas in kernels/rnn.h) ----
// One layer in one direction over a whole sequence, with one backward node (BPTT in C++):
// x [T, B, I] (or [B, I]: one step, as the cells), h0 [B, H], c0 [B, H] (LSTM only, else
// ignored), w_ih [G*H, I], w_hh [G*H, H], b_ih / b_hh [G*H] or null, in PyTorch's gate order;
// reverse runs the steps from T-1 down to 0. Returns (output [T, B, H] (or [B, H]), h_n [B, H],
// c_n [B, H] for LSTM, else null). LSTM with projections: w_hr [P, H] (else null) makes h, h0,
// h_n and the output's rows P wide and w_hh [4*H, P].
std::tuple<TensorPtr, TensorPtr, TensorPtr> rnn_layer(kernels::RnnMode mode, const TensorPtr& x, const TensorPtr& h0,
                                                      const TensorPtr& c0, const TensorPtr& w_ih,
                                                      const TensorPtr& w_hh, const TensorPtr& b_ih,
                                                      const TensorPtr& b_hh, bool reverse,
                                                      const TensorPtr& w_hr = nullptr);

// ---- softmax (ops/softmax.cpp) and class losses (ops/class_loss.cpp) ----
TensorPtr softmax(const TensorPtr& x, int64_t dim);
// ---- fused attention (ops/attention.cpp) ----
// softmax(query @ key^T * scale + attn_mask) @ value in one pass per query block (no L x S
// scores): query (..., L, E), key (..., S, E), value (..., S, Ev) with equal batch dims;
// attn_mask (nullable) additive, of query's dtype, broadcastable to (..., L, S); is_causal hides
// key j > query i; dropout_p drops attention weights; scale defaults to 1/sqrt(E).
TensorPtr scaled_dot_product_attention(const TensorPtr& query, const TensorPtr& key, const TensorPtr& value,
                                       const TensorPtr& attn_mask, double dropout_p, bool is_causal,
                                       std::optional<double> scale);
TensorPtr log_softmax(const TensorPtr& x, int64_t dim);
enum class Reduction : uint8_t { None = 0, Mean = 1, Sum = 2 };
// Fused, stable cross-entropy over class dim 1 (or the only dim of 1-D logits). `target` is
// int64 class indices, or float class probabilities with the logits' shape.
TensorPtr cross_entropy(const TensorPtr& logits, const TensorPtr& target, const TensorPtr& weight,
                        Reduction reduction, int64_t ignore_index, double label_smoothing);
TensorPtr nll_loss(const TensorPtr& logp, const TensorPtr& target, const TensorPtr& weight,
                   Reduction reduction, int64_t ignore_index);
// mean/sum/none of (input - target)^2 (ops/regression_loss.cpp): one fused kernel and node for operands of
// one shape and floating dtype, the broadcasting, promoting composite otherwise.
TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction);

// ---- indexing (ops/index.cpp, cpu/index.cpp) ----
// Advanced indexing: `indices[i]` indexes dim i (null = the whole dim), NumPy placement rules.
TensorPtr index(const TensorPtr& x, const TensorList& indices);
TensorPtr index_put_(const TensorPtr& x, const TensorList& indices, const TensorPtr& values, bool accumulate);
TensorPtr gather(const TensorPtr& x, int64_t dim, const TensorPtr& index);
// ---- the scatter family (ops/scatter.cpp): each has an in-place twin (name_) writing into x ----
// x with src scattered along dim: reduce "" (the last write wins), "add" or "multiply"
// (scatter_(reduce=)); scatter_add is reduce "add".
TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                  const std::string& reduce = "");
TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                   const std::string& reduce = "");
TensorPtr scatter_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src);
TensorPtr scatter_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src);
// reduce: "sum", "prod", "mean", "amax" or "amin"; include_self=false leaves x's values out of
// the reduction at the scattered positions.
TensorPtr scatter_reduce(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                         const std::string& reduce, bool include_self);
TensorPtr scatter_reduce_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                          const std::string& reduce, bool include_self);
// Along dim, slice index[i] of x gets slice i of source: added (times alpha), or copied; or is
// filled with the 0-dim `value`.
TensorPtr index_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source, Scalar alpha);
TensorPtr index_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source, Scalar alpha);
TensorPtr index_copy(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source);
TensorPtr index_copy_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source);
TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value);
TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value);
// x with the positions of mask (broadcast to x) taking source's leading elements in row-major order.
TensorPtr masked_scatter(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source);
TensorPtr masked_scatter_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source);
// x flattened, read at index (any shape; negative entries wrap).
TensorPtr take(const TensorPtr& x, const TensorPtr& index);
TensorPtr index_select(const TensorPtr& x, int64_t dim, const TensorPtr& index);
TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value);
TensorPtr nonzero(const TensorPtr& x);  // [n, ndim] int64

// ---- GradScaler (ops/optim.cpp) ----
// Every gradient multiplied by inv_scale in place, one pass each, and found_inf (float32, one
// element, on the gradients' device) set to 1 if any element of any of them was inf or NaN.
void amp_unscale_(const TensorList& grads, const TensorPtr& found_inf, double inv_scale);
// ---- optimizer updates (ops/optim.cpp, cpu/optim.cpp) ----
// One call steps every parameter of a param group in place: each parameter in one fused pass
// that reads (param, grad, state) and writes (param, state), with PyTorch's `_single_tensor_*`
// formulas. State tensors are created by the Python optimizer (zeros_like of the param) so its
// state_dict holds them; `state_steps` are 0-dim float tensors incremented here. Every tensor
// written gets its version bumped; grads are only read. A null grad is an error: callers skip
// parameters without one. Everything is validated before anything is written.
using kernels::AdagradOptions;
using kernels::AdamOptions;
using kernels::RmspropOptions;
using kernels::SgdOptions;
// `momentum_buffers` is used when momentum != 0; a buffer with `init_buffers[i]` set is
// overwritten with the (decayed) gradient instead of being decayed (PyTorch's first step).
void sgd_step(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
              const std::vector<bool>& init_buffers, const SgdOptions& opts);
// `max_exp_avg_sqs` is used when amsgrad. AdamW is decoupled_weight_decay = true.
void adam_step(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
               const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const TensorList& state_steps,
               const AdamOptions& opts);
// `grad_avgs` is used when centered, `momentum_buffers` when momentum > 0.
void rmsprop_step(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                  const TensorList& grad_avgs, const TensorList& momentum_buffers, const TensorList& state_steps,
                  const RmspropOptions& opts);
void adagrad_step(const TensorList& params, const TensorList& grads, const TensorList& state_sums,
                  const TensorList& state_steps, const AdagradOptions& opts);

}  // namespace ops
}  // namespace gc
