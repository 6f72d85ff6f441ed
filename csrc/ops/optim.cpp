// Optimizer steps: one native call per param group. Everything is checked before any memory is
// written (a bad state tensor in the last parameter leaves the first ones untouched), then each
// parameter is updated by one fused CPU kernel (cpu/optim.cpp). The update is not differentiable
// and records no graph, like PyTorch's step under no_grad.
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

void check_count(const char* op, const TensorList& params, size_t n, const char* what) {
  if (n != params.size())
    fail(ErrorKind::Value, op, "got ", params.size(), " parameters but ", n, " ", what,
         "; hint: pass one entry per parameter, in the same order");
}

void check_param(const char* op, size_t i, const TensorPtr& p) {
  if (!p) fail(ErrorKind::Value, op, "parameter ", i, " is None");
  if (!is_floating(p->dtype))
    fail(ErrorKind::Runtime, op, "parameter ", i, " has dtype ", dtype_name(p->dtype),
         "; optimizers update float32 or float64 parameters only");
}

// `what` of parameter i must be a tensor with the parameter's shape, dtype and device.
void check_like(const char* op, const char* what, size_t i, const TensorPtr& t, const TensorPtr& p) {
  if (!t) fail(ErrorKind::Value, op, what, " of parameter ", i, " is None");
  if (t->shape != p->shape || t->dtype != p->dtype || t->device != p->device)
    fail(ErrorKind::Runtime, op, what, " of parameter ", i, " has shape ", shape_str(t->shape), ", dtype ",
         dtype_name(t->dtype), " on ", t->device.str(), " but the parameter has shape ", shape_str(p->shape),
         ", dtype ", dtype_name(p->dtype), " on ", p->device.str(),
         "; hint: the gradient or optimizer state does not belong to this parameter (was a state_dict loaded "
         "into an optimizer over different parameters?)");
}

void check_step(const char* op, size_t i, const TensorPtr& s) {
  if (!s) fail(ErrorKind::Value, op, "step of parameter ", i, " is None");
  if (s->numel() != 1 || !is_floating(s->dtype) || !s->device.is_cpu())
    fail(ErrorKind::Runtime, op, "step of parameter ", i, " must be a one-element float tensor on cpu, got shape ",
         shape_str(s->shape), " and dtype ", dtype_name(s->dtype));
}

// step += 1 (in the step tensor's own dtype, as PyTorch's `step_t += 1`); returns the new value.
double increment_step(const TensorPtr& s) {
  double v = GC_DISPATCH_FLOAT(s->dtype, "optimizer step", [&] {
    auto* d = s->data_as<scalar_t>();
    *d = *d + scalar_t(1);
    return static_cast<double>(*d);
  });
  s->bump_version();
  return v;
}

// A tensor as the kernel sees it: flat and contiguous. A non-contiguous one is updated through a
// contiguous copy that `finish` writes back; either way `finish` bumps the version of a tensor
// that was written.
struct Dense {
  TensorPtr orig, flat;
  Dense() = default;
  explicit Dense(const TensorPtr& t) : orig(t), flat(t ? contiguous(t) : nullptr) {}
  const Tensor* get() const { return flat.get(); }
  void finish() const {
    if (!orig) return;
    if (flat != orig) copy_into(orig, flat);
    orig->bump_version();
  }
};

}  // namespace

void sgd_step(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
              const std::vector<bool>& init_buffers, const SgdOptions& opts) {
  const char* op = "sgd_step";
  const bool use_momentum = opts.momentum != 0;
  check_count(op, params, grads.size(), "gradients");
  if (use_momentum) {
    check_count(op, params, momentum_buffers.size(), "momentum buffers");
    check_count(op, params, init_buffers.size(), "first-step flags");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    check_like(op, "gradient", i, grads[i], params[i]);
    if (use_momentum) check_like(op, "momentum_buffer", i, momentum_buffers[i], params[i]);
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Dense p(params[i]), g(grads[i]), buf(use_momentum ? momentum_buffers[i] : nullptr);
    GC_KERNEL_16(true, false, sgd_update, *p.get(), *g.get(), buf.get(), use_momentum && init_buffers[i], opts);
    p.finish();
    buf.finish();
  }
}

void adam_step(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
               const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const TensorList& state_steps,
               const AdamOptions& opts) {
  const char* op = opts.decoupled_weight_decay ? "adamw_step" : "adam_step";
  check_count(op, params, grads.size(), "gradients");
  check_count(op, params, exp_avgs.size(), "exp_avgs");
  check_count(op, params, exp_avg_sqs.size(), "exp_avg_sqs");
  check_count(op, params, state_steps.size(), "steps");
  if (opts.amsgrad) check_count(op, params, max_exp_avg_sqs.size(), "max_exp_avg_sqs");
  for (size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    check_like(op, "gradient", i, grads[i], params[i]);
    check_like(op, "exp_avg", i, exp_avgs[i], params[i]);
    check_like(op, "exp_avg_sq", i, exp_avg_sqs[i], params[i]);
    if (opts.amsgrad) check_like(op, "max_exp_avg_sq", i, max_exp_avg_sqs[i], params[i]);
    check_step(op, i, state_steps[i]);
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Dense p(params[i]), g(grads[i]), m(exp_avgs[i]), v(exp_avg_sqs[i]);
    Dense vmax(opts.amsgrad ? max_exp_avg_sqs[i] : nullptr);
    double step = increment_step(state_steps[i]);
    GC_KERNEL_16(true, false, adam_update, *p.get(), *g.get(), *m.get(), *v.get(), vmax.get(), step, opts);
    for (const Dense* d : {&p, &m, &v, &vmax}) d->finish();
  }
}

void rmsprop_step(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                  const TensorList& grad_avgs, const TensorList& momentum_buffers, const TensorList& state_steps,
                  const RmspropOptions& opts) {
  const char* op = "rmsprop_step";
  const bool use_momentum = opts.momentum > 0;
  check_count(op, params, grads.size(), "gradients");
  check_count(op, params, square_avgs.size(), "square_avgs");
  check_count(op, params, state_steps.size(), "steps");
  if (opts.centered) check_count(op, params, grad_avgs.size(), "grad_avgs");
  if (use_momentum) check_count(op, params, momentum_buffers.size(), "momentum buffers");
  for (size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    check_like(op, "gradient", i, grads[i], params[i]);
    check_like(op, "square_avg", i, square_avgs[i], params[i]);
    if (opts.centered) check_like(op, "grad_avg", i, grad_avgs[i], params[i]);
    if (use_momentum) check_like(op, "momentum_buffer", i, momentum_buffers[i], params[i]);
    check_step(op, i, state_steps[i]);
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Dense p(params[i]), g(grads[i]), sq(square_avgs[i]);
    Dense ga(opts.centered ? grad_avgs[i] : nullptr), buf(use_momentum ? momentum_buffers[i] : nullptr);
    increment_step(state_steps[i]);
    GC_KERNEL_16(true, false, rmsprop_update, *p.get(), *g.get(), *sq.get(), ga.get(), buf.get(), opts);
    for (const Dense* d : {&p, &sq, &ga, &buf}) d->finish();
  }
}

void adagrad_step(const TensorList& params, const TensorList& grads, const TensorList& state_sums,
                  const TensorList& state_steps, const AdagradOptions& opts) {
  const char* op = "adagrad_step";
  check_count(op, params, grads.size(), "gradients");
  check_count(op, params, state_sums.size(), "state sums");
  check_count(op, params, state_steps.size(), "steps");
  for (size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    check_like(op, "gradient", i, grads[i], params[i]);
    check_like(op, "sum", i, state_sums[i], params[i]);
    check_step(op, i, state_steps[i]);
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Dense p(params[i]), g(grads[i]), sum(state_sums[i]);
    double step = increment_step(state_steps[i]);
    GC_KERNEL_16(true, false, adagrad_update, *p.get(), *g.get(), *sum.get(), step, opts);
    p.finish();
    sum.finish();
  }
}

void amp_unscale_(const TensorList& grads, const TensorPtr& found_inf, double inv_scale) {
  const char* op = "GradScaler.unscale_";
  if (found_inf->dtype != DType::Float32 || found_inf->numel() != 1)
    fail(ErrorKind::Runtime, op, "found_inf must be a one-element float32 tensor, got ", dtype_name(found_inf->dtype),
         " of shape ", shape_str(found_inf->shape));
  for (const auto& g : grads) {
    if (!g) continue;
    if (!is_floating(g->dtype))
      fail(ErrorKind::Runtime, op, "gradients must be floating point, got ", dtype_name(g->dtype));
    if (g->device != found_inf->device)
      fail(ErrorKind::Runtime, op, "a gradient is on ", g->device.str(), " but found_inf on ", found_inf->device.str(),
           ". Hint: one found_inf per device.");
  }
  NoGradGuard no_grad;
  for (const auto& g : grads) {
    if (!g || g->numel() == 0) continue;
    if (g->is_contiguous()) {
      GC_KERNEL_16(true, false, amp_unscale, *g, inv_scale, *found_inf);
    } else {  // unscale a contiguous copy and write it back
      auto c = contiguous(g);
      GC_KERNEL_16(true, false, amp_unscale, *c, inv_scale, *found_inf);
      copy_into(g, c);
    }
    g->bump_version();
  }
}

}  // namespace gc::ops
