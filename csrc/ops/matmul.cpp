// The matmul family: matmul (torch.matmul's rank rules), mm, bmm, linear, and gemm_into, the one
// entry into the GEMM kernels. Every product becomes one batch of 2-D GEMMs on strided views of
// its operands; an operand is copied only when broadcast batch dims cannot be flattened into one
// strided batch dim. Each op's backward (dA = g @ B^T, dB = A^T @ g, summed over broadcast batch
// dims) sits beside it.
#include <cmath>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// "2x3x4", as PyTorch prints matrix shapes in its matmul errors.
std::string dims_str(const DimVector& s) {
  if (s.empty()) return "scalar";
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

// Every matmul error is built here: the op, the facts, the likely fix.
enum class MatmulError { Device, Dtype, Unsupported, ZeroDim, Inner, Batch };

[[noreturn]] void matmul_fail(MatmulError e, const char* op, const TensorPtr& a, const TensorPtr& b) {
  switch (e) {
    case MatmulError::Device:
      fail(ErrorKind::Runtime, op, "expected all tensors to be on the same device, but found at least two devices, ",
           a->device.str(), " and ", b->device.str(), ". Hint: move both with .to(device) first.");
    case MatmulError::Dtype:
      fail(ErrorKind::Runtime, op, "expected m1 and m2 to have the same dtype, but got: ", dtype_name(a->dtype), " != ",
           dtype_name(b->dtype), ". Hint: matmul does not promote; convert one operand, e.g. b.to(a.dtype).");
    case MatmulError::Unsupported:
      fail(ErrorKind::NotImplemented, op, "not implemented for dtype ", dtype_name(a->dtype),
           " (supported: float32, float64, int64). Hint: convert first with .float() or .long().");
    case MatmulError::ZeroDim:
      fail(ErrorKind::Runtime, op, "both arguments to matmul need to be at least 1D, but they are ", a->dim(), "D and ",
           b->dim(), "D. Hint: multiply by a 0-dim tensor with * instead.");
    case MatmulError::Inner: {
      int64_t ka = a->shape.back(), kb = b->dim() == 1 ? b->shape[0] : b->shape[b->dim() - 2];
      fail(ErrorKind::Runtime, op, "mat1 and mat2 shapes cannot be multiplied (", dims_str(a->shape), " and ",
           dims_str(b->shape), "): the last dim of the first (", ka, ") must equal the ",
           b->dim() == 1 ? "size of the second (" : "second-to-last dim of the second (", kb,
           "). Hint: check the layer sizes, or transpose an operand (b.T, b.transpose(-2, -1)).");
    }
    case MatmulError::Batch:
      fail(ErrorKind::Runtime, op, "the batch dims of shapes ", dims_str(a->shape), " and ", dims_str(b->shape),
           " cannot be broadcast together: each batch dim (all but the last two) must be equal or 1. Hint: "
           "unsqueeze or expand one operand so that its batch dims line up.");
  }
  fail(ErrorKind::Runtime, op, "invalid operands");
}

void check_operands(const char* op, const TensorPtr& a, const TensorPtr& b) {
  if (a->device != b->device) matmul_fail(MatmulError::Device, op, a, b);
  if (a->dtype != b->dtype) matmul_fail(MatmulError::Dtype, op, a, b);
  if (a->dtype == DType::Bool) matmul_fail(MatmulError::Unsupported, op, a, b);
}

// Product of all dims but the last: the row count of t seen as a matrix (also when the last is 0).
int64_t leading_rows(const DimVector& shape) {
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  return rows;
}

// A view with new geometry that records no autograd node (the op's own node covers it).
TensorPtr raw_view(const TensorPtr& t, DimVector shape, DimVector strides) {
  return make_view(t, std::move(shape), std::move(strides), t->offset);
}

// Merges dims [begin, end) of a strided geometry into one dim: true (and its stride) when the
// dims are nested, i.e. each outer stride is its inner neighbour's stride times its size.
// Size-1 dims never matter; a merged dim of size 0 or 1 can take any stride.
bool merge_dims(const DimVector& shape, const DimVector& strides, size_t begin, size_t end, int64_t& stride) {
  stride = 1;
  bool have_inner = false;
  int64_t inner_extent = 0;  // stride * size of the innermost dims merged so far
  for (size_t d = end; d-- > begin;) {
    if (shape[d] == 0) return true;
    if (shape[d] == 1) continue;
    if (!have_inner) {
      stride = strides[d];
      have_inner = true;
    } else if (strides[d] != inner_extent) {
      return false;
    }
    inner_extent = strides[d] * shape[d];
  }
  return true;
}

// `t` ([.., R, C]) broadcast to `batch` and flattened to [prod(batch), R, C]: a view when the
// broadcast batch dims nest, a contiguous copy of the broadcast otherwise.
TensorPtr as_batched(const TensorPtr& t, const DimVector& batch) {
  const size_t nb = batch.size(), nd = t->shape.size(), lead = nb - (nd - 2);
  DimVector shape(batch), strides(nb, 0);
  for (size_t d = lead; d < nb; ++d) strides[d] = t->shape[d - lead] == 1 ? 0 : t->strides[d - lead];
  int64_t count = 1;
  for (auto s : batch) count *= s;
  const int64_t r = t->shape[nd - 2], c = t->shape[nd - 1];
  int64_t bs;
  if (merge_dims(shape, strides, 0, nb, bs))
    return raw_view(t, {count, r, c}, {bs, t->strides[nd - 2], t->strides[nd - 1]});
  shape.insert(shape.end(), {r, c});
  strides.insert(strides.end(), {t->strides[nd - 2], t->strides[nd - 1]});
  auto copy = empty_tensor(shape, t->dtype, t->device);
  copy_into(copy, raw_view(t, shape, strides));
  return raw_view(copy, {count, r, c}, {r * c, c, 1});
}

// `t` ([..., C]) seen as a matrix [prod(...), C]: a view when the leading dims nest, else a copy.
TensorPtr as_rows(const TensorPtr& t) {
  const size_t nd = t->shape.size();
  const int64_t c = t->shape[nd - 1], rows = leading_rows(t->shape);
  int64_t rs;
  if (merge_dims(t->shape, t->strides, 0, nd - 1, rs)) return raw_view(t, {rows, c}, {rs, t->strides[nd - 1]});
  auto copy = empty_tensor(t->shape, t->dtype, t->device);
  copy_into(copy, t);
  return raw_view(copy, {rows, c}, {c, 1});
}

// The product, no autograd: a (and b) promoted to matrices, batch dims broadcast, the result's
// promoted dims squeezed away again (PyTorch's matmul rules).
TensorPtr matmul_compute(const char* op, const TensorPtr& a, const TensorPtr& b) {
  const int64_t da = a->dim(), db = b->dim();
  if (da == 0 || db == 0) matmul_fail(MatmulError::ZeroDim, op, a, b);
  // A 1-D a is a row [1, K]; a 1-D b is a column [K, 1].
  auto A = da == 1 ? raw_view(a, {1, a->shape[0]}, {0, a->strides[0]}) : a;
  auto B = db == 1 ? raw_view(b, {b->shape[0], 1}, {b->strides[0], 0}) : b;
  const size_t na = A->shape.size(), nb = B->shape.size();
  const int64_t M = A->shape[na - 2], K = A->shape[na - 1], N = B->shape[nb - 1];
  if (B->shape[nb - 2] != K) matmul_fail(MatmulError::Inner, op, a, b);
  DimVector batch_a(A->shape.begin(), A->shape.end() - 2), batch_b(B->shape.begin(), B->shape.end() - 2);
  DimVector batch(std::max(batch_a.size(), batch_b.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    int64_t x = i + batch_a.size() < batch.size() ? 1 : batch_a[i + batch_a.size() - batch.size()];
    int64_t y = i + batch_b.size() < batch.size() ? 1 : batch_b[i + batch_b.size() - batch.size()];
    if (x != y && x != 1 && y != 1) matmul_fail(MatmulError::Batch, op, a, b);
    batch[i] = x == 1 ? y : x;
  }
  DimVector out_shape(batch);
  if (da > 1) out_shape.push_back(M);
  if (db > 1) out_shape.push_back(N);
  auto out = empty_tensor(out_shape, a->dtype, a->device);
  if (out->numel() == 0) return out;
  int64_t rs;
  if (batch_b.empty() && merge_dims(A->shape, A->strides, 0, na - 1, rs)) {
    // b is one matrix: a's batch folds into the rows of a single GEMM.
    const int64_t rows = out->numel() / N;
    gemm_into(raw_view(out, {rows, N}, {N, 1}), raw_view(A, {rows, K}, {rs, A->strides[na - 1]}), B, 1.0, 0.0);
    return out;
  }
  auto A3 = as_batched(A, batch), B3 = as_batched(B, batch);
  gemm_into(raw_view(out, {A3->shape[0], M, N}, {M * N, N, 1}), A3, B3, 1.0, 0.0);
  return out;
}

// d(a @ b): dA = g @ B^T and dB = A^T @ g on the promoted operands, summed back over broadcast
// batch dims and reshaped to each input's shape. a is only needed for dB and b for dA (either
// may be null when its partner needs no gradient).
std::pair<TensorPtr, TensorPtr> matmul_grads(const TensorPtr& g, const TensorPtr& a, const TensorPtr& b,
                                             const DimVector& a_shape, const DimVector& b_shape) {
  const size_t da = a_shape.size(), db = b_shape.size();
  auto G = g;
  if (da == 1 && db == 1) G = reshape(g, {1, 1});
  else if (da == 1) G = unsqueeze(g, g->dim() - 1);
  else if (db == 1) G = unsqueeze(g, g->dim());
  TensorPtr ga, gb;
  if (b) {
    auto B = db == 1 ? unsqueeze(b, 1) : b;
    DimVector A_shape = da == 1 ? DimVector{1, a_shape[0]} : a_shape;
    ga = reshape(sum_to_shape(matmul(G, transpose(B, -1, -2)), A_shape), a_shape);
  }
  if (a) {
    auto A = da == 1 ? unsqueeze(a, 0) : a;
    if (db == 2 && G->dim() > 2) {
      // One matrix b for the whole batch: a single [K, rows] @ [rows, N] GEMM instead of a
      // batch of products and a sum.
      auto rows_a = reshape(A, {leading_rows(A->shape), A->shape.back()});
      auto rows_g = reshape(G, {leading_rows(G->shape), G->shape.back()});
      gb = mm(transpose(rows_a, 0, 1), rows_g);
    } else {
      DimVector B_shape = db == 1 ? DimVector{b_shape[0], 1} : b_shape;
      gb = reshape(sum_to_shape(matmul(transpose(A, -1, -2), G), B_shape), b_shape);
    }
  }
  return {ga, gb};
}

struct MatmulBackward final : Node {
  SavedTensor a, b;  // a is saved only when b needs a gradient, and b only for a's
  DimVector a_shape, b_shape;
  const char* nm;
  TensorList apply(TensorList&& g) override {
    auto av = needs_input_grad(1) ? a.unpack(*this) : nullptr;
    auto bv = needs_input_grad(0) ? b.unpack(*this) : nullptr;
    auto [ga, gb] = matmul_grads(g[0], av, bv, a_shape, b_shape);
    return {ga, gb};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", a); v("other", b); }
  std::string name() const override { return nm; }
};

TensorPtr matmul_op(const char* op, const char* node_name, const TensorPtr& a, const TensorPtr& b) {
  check_operands(op, a, b);
  auto out = matmul_compute(op, a, b);
  if (is_floating(out->dtype) && compute_requires_grad({&a, &b})) {
    auto n = make_node<MatmulBackward>({a, b});
    if (n->needs_input_grad(1)) n->a = SavedTensor(a, false);
    if (n->needs_input_grad(0)) n->b = SavedTensor(b, false);
    n->a_shape = a->shape;
    n->b_shape = b->shape;
    n->nm = node_name;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr matmul(const TensorPtr& a, const TensorPtr& b) {
  const int64_t da = a->dim(), db = b->dim();
  const char* node = da == 1 && db == 1 ? "DotBackward0"
                     : da == 2 && db == 1 ? "MvBackward0"
                     : da <= 2 && db == 2 ? "MmBackward0"
                                          : "BmmBackward0";
  return matmul_op("matmul", node, a, b);
}

TensorPtr mm(const TensorPtr& a, const TensorPtr& b) {
  if (a->dim() != 2 || b->dim() != 2)
    fail(ErrorKind::Runtime, "mm", "expected two 2-D matrices, but got ", a->dim(), "-D and ", b->dim(),
         "-D tensors (shapes ", dims_str(a->shape), " and ", dims_str(b->shape),
         "). Hint: use matmul (the @ operator) for vectors and batches.");
  return matmul_op("mm", "MmBackward0", a, b);
}

TensorPtr bmm(const TensorPtr& a, const TensorPtr& b) {
  if (a->dim() != 3 || b->dim() != 3)
    fail(ErrorKind::Runtime, "bmm", "expected two 3-D tensors [batch, n, m] and [batch, m, p], but got ", a->dim(),
         "-D and ", b->dim(), "-D tensors (shapes ", dims_str(a->shape), " and ", dims_str(b->shape),
         "). Hint: use matmul (the @ operator), which also broadcasts batch dims.");
  if (a->shape[0] != b->shape[0])
    fail(ErrorKind::Runtime, "bmm", "batch sizes differ: ", a->shape[0], " and ", b->shape[0], " (shapes ",
         dims_str(a->shape), " and ", dims_str(b->shape), "); bmm does not broadcast. Hint: use matmul to broadcast "
         "batch dims.");
  return matmul_op("bmm", "BmmBackward0", a, b);
}

void gemm_into(const TensorPtr& out, const TensorPtr& a, const TensorPtr& b, double alpha, double beta,
               const TensorPtr& bias, bool relu) {
  const char* op = "gemm_into";
  check_operands(op, a, b);
  if (out->device != a->device) matmul_fail(MatmulError::Device, op, out, a);
  if (out->dtype != a->dtype) matmul_fail(MatmulError::Dtype, op, out, a);
  const int64_t d = out->dim();
  if ((d != 2 && d != 3) || a->dim() != d || b->dim() != d)
    fail(ErrorKind::Runtime, op, "expected out, a and b all 2-D or all 3-D, but got shapes ", dims_str(out->shape), ", ",
         dims_str(a->shape), " and ", dims_str(b->shape));
  const int64_t M = out->shape[d - 2], N = out->shape[d - 1], batch = d == 3 ? out->shape[0] : 1;
  bool ok = a->shape[d - 2] == M && b->shape[d - 1] == N && a->shape[d - 1] == b->shape[d - 2];
  if (d == 3) ok = ok && (a->shape[0] == batch || a->shape[0] == 1) && (b->shape[0] == batch || b->shape[0] == 1);
  if (!ok)
    fail(ErrorKind::Runtime, op, "shapes do not fit out = a @ b: out ", dims_str(out->shape), ", a ", dims_str(a->shape),
         ", b ", dims_str(b->shape), ". Hint: out must be [.., M, N] for a [.., M, K] and b [.., K, N].");
  for (int64_t i = 0; i < d; ++i)
    if (out->strides[i] == 0 && out->shape[i] > 1)
      fail(ErrorKind::Runtime, op, "out (shape ", dims_str(out->shape), ") has overlapping elements (stride 0). "
           "Hint: write into a fresh tensor, e.g. gradcore.empty(...).");
  if (out->numel() > 0 && (out->storage == a->storage || out->storage == b->storage))
    fail(ErrorKind::Runtime, op, "out shares memory with an input; the product would read what it overwrites. "
         "Hint: write into a fresh tensor.");
  auto integral = [](double v) { return std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < 9e18; };
  if (is_integral(out->dtype) && (!integral(alpha) || !integral(beta)))
    fail(ErrorKind::Runtime, op, "for int64 tensors alpha and beta must be integers, got alpha=", alpha, ", beta=", beta);
  if (bias && (bias->dim() != 1 || bias->shape[0] != N || !bias->is_contiguous() || bias->dtype != out->dtype ||
               bias->device != out->device))
    fail(ErrorKind::Runtime, op, "the epilogue bias must be a contiguous 1-D tensor of ", N, " elements of dtype ",
         dtype_name(out->dtype), ", got shape ", dims_str(bias->shape), " (", dtype_name(bias->dtype), ")");
  GC_KERNEL_16(true, true, gemm_kernel, *out, *a, *b, alpha, beta, bias.get(), relu);
  out->bump_version();
}

// ---- linear: y = x @ w^T + b, one GEMM whose epilogue adds the bias (and linear_relu,
// the same with the ReLU that follows it fused in) ----
namespace {

// Backward of y = x @ w^T + b (and of relu(x @ w^T + b), from the saved output y), in one node:
// the output gradient is read once to mask it through the ReLU and sum it into the bias
// gradient together, then dx = g @ w and dw = g^T @ x are one GEMM each.
struct LinearBackward final : Node {
  SavedTensor x_rows, w, y;  // x as [rows, in_features]; y (the output) only for the ReLU
  DimVector x_shape, b_shape;
  bool relu = false;
  TensorList apply(TensorList&& g) override {
    auto g_rows = as_rows(g[0]);
    const int64_t M = g_rows->shape[0], N = g_rows->shape[1];
    const bool vector_bias = b_shape.size() == 1 && b_shape[0] == N;
    TensorPtr gb;
    if (needs_input_grad(2) && vector_bias) gb = empty_tensor({N}, g_rows->dtype, g_rows->device);
    if (relu) {
      auto gm = empty_tensor({M, N}, g_rows->dtype, g_rows->device);
      GC_KERNEL_16(true, false, relu_mask_column_sum, *g_rows, *as_rows(y.unpack(*this)), *gm, gb.get());
      g_rows = gm;
    } else if (gb) {
      GC_KERNEL_16(true, false, column_sum, *g_rows, *gb);
    }
    if (needs_input_grad(2) && !gb)  // a bias of another broadcastable shape
      gb = sum_to_shape(reshape(g_rows, g[0]->shape), b_shape);
    TensorPtr gx, gw;
    if (needs_input_grad(0)) {
      auto wv = w.unpack(*this);
      gx = empty_tensor({M, wv->shape[1]}, g_rows->dtype, g_rows->device);
      gemm_into(gx, g_rows, wv, 1.0, 0.0);
      gx = reshape(gx, x_shape);
    }
    if (needs_input_grad(1)) {
      auto xv = x_rows.unpack(*this);
      gw = empty_tensor({N, xv->shape[1]}, g_rows->dtype, g_rows->device);
      gemm_into(gw, raw_view(g_rows, {N, M}, {g_rows->strides[1], g_rows->strides[0]}), xv, 1.0, 0.0);
    }
    return {gx, gw, gb};
  }
  void visit_saved(const SavedVisitor& v) override { v("input", x_rows); v("weight", w); v("result", y); }
  std::string name() const override { return relu ? "LinearReluBackward0" : "LinearBackward0"; }
};

TensorPtr linear_impl(const char* op, const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, bool relu) {
  check_operands(op, x, w);
  if (b) {
    if (b->device != x->device) matmul_fail(MatmulError::Device, op, x, b);
    if (b->dtype != x->dtype)
      fail(ErrorKind::Runtime, op, "expected input and bias to have the same dtype, but got: ", dtype_name(x->dtype),
           " != ", dtype_name(b->dtype), ". Hint: convert the bias, e.g. b.to(x.dtype).");
  }
  if (w->dim() == 1) {  // PyTorch allows a vector weight: x @ w (+ b)
    auto y = matmul(x, w);
    y = b ? add(y, b) : y;
    return relu ? unary(kernels::Relu{}, y) : y;
  }
  if (x->dim() == 0 || w->dim() != 2)
    fail(ErrorKind::Runtime, op, "expected input of at least 1 dim and a 2-D weight [out_features, in_features], but "
         "got shapes ", dims_str(x->shape), " and ", dims_str(w->shape), ".");
  const int64_t in = w->shape[1], out_f = w->shape[0];
  if (x->shape.back() != in)
    fail(ErrorKind::Runtime, op, "mat1 and mat2 shapes cannot be multiplied (",
         dims_str({leading_rows(x->shape), x->shape.back()}), " and ", in, "x", out_f,
         "): input of shape ", dims_str(x->shape), " has ", x->shape.back(), " features but the weight of shape ",
         dims_str(w->shape), " expects in_features = ", in, ". Hint: check the layer's in_features.");
  DimVector out_shape(x->shape.begin(), x->shape.end() - 1);
  out_shape.push_back(out_f);
  if (b) {
    bool fits = b->dim() <= static_cast<int64_t>(out_shape.size());
    for (int64_t i = 1; fits && i <= b->dim(); ++i) {
      int64_t bs = b->shape[b->dim() - i];
      fits = bs == 1 || bs == out_shape[out_shape.size() - i];
    }
    if (!fits)
      fail(ErrorKind::Runtime, op, "bias of shape ", shape_str(b->shape), " cannot be broadcast to the output shape ",
           shape_str(out_shape), ". Hint: the bias should have out_features = ", out_f, " elements.");
  }
  auto out = empty_tensor(out_shape, x->dtype, x->device);
  auto x_rows = x->dim() == 1 ? raw_view(x, {1, in}, {0, x->strides[0]}) : as_rows(x);
  if (out->numel() > 0) {
    auto w_t = raw_view(w, {in, out_f}, {w->strides[1], w->strides[0]});
    auto out_rows = raw_view(out, {x_rows->shape[0], out_f}, {out_f, 1});
    if (!b || (b->dim() == 1 && b->is_contiguous())) {
      // The usual case: bias and ReLU are applied by the GEMM as it stores each tile.
      gemm_into(out_rows, x_rows, w_t, 1.0, 0.0, b, relu);
    } else {
      copy_into(out, b);  // another bias shape: it becomes C, and the GEMM adds onto it (beta = 1)
      gemm_into(out_rows, x_rows, w_t, 1.0, 1.0, nullptr, relu);
    }
  }
  if (is_floating(out->dtype) && compute_requires_grad({&x, &w, &b})) {
    auto n = make_node<LinearBackward>({x, w, b});
    if (n->needs_input_grad(1)) n->x_rows = SavedTensor(x_rows, false);
    if (n->needs_input_grad(0)) n->w = SavedTensor(w, false);
    n->x_shape = x->shape;
    if (b) n->b_shape = b->shape;
    n->relu = relu;
    if (relu) n->y = SavedTensor(out, true);
    set_history(out, n);
  }
  return out;
}

}  // namespace

std::shared_ptr<Node> linear_relu_backward(const TensorPtr& h, const TensorPtr& y) {
  auto* lin = dynamic_cast<LinearBackward*>(h->grad_fn.get());
  if (!lin || lin->relu || h->base) return nullptr;
  auto n = std::make_shared<LinearBackward>();
  n->next_edges = lin->next_edges;  // the linear's inputs: x, w, b
  n->x_rows = lin->x_rows;
  n->w = lin->w;
  n->x_shape = lin->x_shape;
  n->b_shape = lin->b_shape;
  n->relu = true;
  n->y = SavedTensor(y, true);
  if (AnomalyMode::on(AnomalyMode::Enabled | AnomalyMode::ForwardCheck)) note_node_created(*n, {});
  return n;
}

TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b) { return linear_impl("linear", x, w, b, false); }

TensorPtr linear_relu(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b) {
  return linear_impl("linear", x, w, b, true);
}

}  // namespace gc::ops
