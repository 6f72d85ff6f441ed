// Fused scaled-dot-product attention: argument checks, the mask's broadcast layout, dispatch to
// the fused kernels (cpu/attention.cpp, cuda/attention.cu), and the autograd node beside it.
// The Python layer (nn/_functional_attention.py) has already checked PyTorch's argument errors,
// repeated key/value heads for enable_gqa, broadcast the batch dims of query, key and value to one
// shape and turned a bool mask into an additive one of query's dtype.
#include <cmath>
#include "autograd/node.h"
#include "core/generator.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

using kernels::AttentionParams;
using rows::kernel_operand;

constexpr const char* kOp = "scaled_dot_product_attention";

struct ScaledDotProductAttentionBackward final : Node {
  SavedTensor q, k, v, out;
  SavedTensor lse, mask;  // kernel-owned: never seen by the user, so never modified in place
  AttentionParams p;
  TensorList apply(TensorList&& g) override {
    auto qv = q.unpack(*this), kv = k.unpack(*this), vv = v.unpack(*this), ov = out.unpack(*this);
    auto lv = lse.unpack(*this), mv = mask.defined() ? mask.unpack(*this) : nullptr;
    auto gout = kernel_operand(g[0], ov->dtype);
    auto dq = zeros(qv->shape, qv->dtype, qv->device);
    auto dk = zeros(kv->shape, kv->dtype, kv->device);
    auto dv = zeros(vv->shape, vv->dtype, vv->device);
    GC_KERNEL(attention_backward_kernel, *dq, *dk, *dv, *gout, *qv, *kv, *vv, *ov, *lv, mv.get(), p);
    return {dq, dk, dv};
  }
  void visit_saved(const SavedVisitor& sv) override {
    sv("query", q); sv("key", k); sv("value", v); sv("output", out); sv("logsumexp", lse); sv("attn_mask", mask);
  }
  std::string name() const override { return "ScaledDotProductFlashAttentionForCpuBackward0"; }
};

DimVector batch_dims(const TensorPtr& t) { return DimVector(t->shape.begin(), t->shape.end() - 2); }

void check_operands(const TensorPtr& q, const TensorPtr& k, const TensorPtr& v, const TensorPtr& mask) {
  for (auto* t : {&q, &k, &v})
    if ((*t)->dim() < 2)
      fail(ErrorKind::Runtime, kOp, "expected query, key and value to be at least 2-D, but got shapes ",
           shape_str(q->shape), ", ", shape_str(k->shape), " and ", shape_str(v->shape));
  if (!is_floating(q->dtype) || k->dtype != q->dtype || v->dtype != q->dtype)
    fail(ErrorKind::Runtime, kOp, "expected query, key and value of one floating dtype, but got ",
         dtype_name(q->dtype), ", ", dtype_name(k->dtype), " and ", dtype_name(v->dtype),
         ". Hint: convert them with .float()");
  rows::check_device(q, k, kOp, "key");
  rows::check_device(q, v, kOp, "value");
  rows::check_device(q, mask, kOp, "attn_mask");
  if (batch_dims(k) != batch_dims(q) || batch_dims(v) != batch_dims(q) || k->shape.back() != q->shape.back() ||
      v->shape[v->dim() - 2] != k->shape[k->dim() - 2])
    fail(ErrorKind::Runtime, kOp, "expected query (..., L, E), key (..., S, E) and value (..., S, Ev) with the same "
         "batch dims, but got shapes ", shape_str(q->shape), ", ", shape_str(k->shape), " and ", shape_str(v->shape),
         ". Hint: broadcast them first (expand)");
  if (mask && mask->dtype != q->dtype)
    fail(ErrorKind::Runtime, kOp, "expected an additive attn_mask of the query's dtype ", dtype_name(q->dtype),
         ", but got ", dtype_name(mask->dtype));
}

// The mask broadcast to (batch..., L, S) as a kernel operand whose batch dims flatten to one stride
// (a broadcast (L, S) mask keeps stride 0 and is never copied); sets p's mask strides.
TensorPtr mask_operand(const TensorPtr& mask, const DimVector& full, AttentionParams& p) {
  auto m = expand(detach(mask), full);
  const int64_t nb = static_cast<int64_t>(full.size()) - 2;
  // Flat batch index b = sum_d idx_d * inner_d (inner_d: the batch elements after dim d); one
  // stride sb serves when every batch dim of size > 1 has stride sb * inner_d.
  int64_t sb = 0, inner = 1;
  bool flat = true, have_sb = false;
  for (int64_t d = nb - 1; d >= 0; --d) {
    if (full[d] != 1) {
      if (!have_sb) {
        flat = m->strides[d] % inner == 0;
        sb = m->strides[d] / inner;
        have_sb = true;
      } else {
        flat = flat && m->strides[d] == sb * inner;
      }
    }
    inner *= full[d];
  }
  if (!flat) {
    m = contiguous(m);
    sb = p.L * p.S;
  }
  p.mask_sb = sb;
  p.mask_sl = m->strides[nb];
  p.mask_ss = m->strides[nb + 1];
  return m;
}

}  // namespace

TensorPtr scaled_dot_product_attention(const TensorPtr& query, const TensorPtr& key, const TensorPtr& value,
                                       const TensorPtr& attn_mask, double dropout_p, bool is_causal,
                                       std::optional<double> scale) {
  check_operands(query, key, value, attn_mask);
  const DType dt = query->dtype;
  AttentionParams p;
  p.L = query->shape[query->dim() - 2];
  p.E = query->shape.back();
  p.S = key->shape[key->dim() - 2];
  p.Ev = value->shape.back();
  p.B = 1;
  for (int64_t d : batch_dims(query)) p.B *= d;
  p.scale = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(p.E));
  p.causal = is_causal;
  p.dropout_p = dropout_p;
  DimVector out_shape = batch_dims(query);
  out_shape.push_back(p.L);
  DimVector full = out_shape;
  full.push_back(p.S);
  out_shape.push_back(p.Ev);
  auto q = kernel_operand(query, dt), k = kernel_operand(key, dt), v = kernel_operand(value, dt);
  auto mask = attn_mask ? mask_operand(attn_mask, full, p) : nullptr;
  if (dropout_p > 0.0) {
    Generator& g = query->device.is_cpu() ? default_generator() : cuda_generator();
    p.seed = g.initial_seed();
    p.offset = g.reserve(static_cast<uint64_t>(p.B * p.L * p.S));
  }
  auto out = empty_tensor(out_shape, dt, query->device);
  DimVector lse_shape(out_shape.begin(), out_shape.end() - 1);
  auto lse = empty_tensor(lse_shape, dt == DType::Float64 ? DType::Float64 : DType::Float32, query->device);
  GC_KERNEL(attention_forward_kernel, *out, *lse, *q, *k, *v, mask.get(), p);
  if (compute_requires_grad({&query, &key, &value})) {
    auto n = make_node<ScaledDotProductAttentionBackward>({query, key, value});
    n->q = SavedTensor(q, false);
    n->k = SavedTensor(k, false);
    n->v = SavedTensor(v, false);
    n->out = SavedTensor(out, true);
    n->lse = SavedTensor(lse, false);
    if (mask) n->mask = SavedTensor(mask, false);
    n->p = p;
    set_history(out, n);
  }
  return out;
}

}  // namespace gc::ops
