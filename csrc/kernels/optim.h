// The contract of the fused optimizer updates, shared by both backends: each optimizer's options
// (PyTorch's hyperparameters, as ops/optim.cpp receives them) and the per-step scalars its kernels
// compute with.
#pragma once
#include <cmath>

namespace gc::kernels {

struct SgdOptions { double lr, momentum, dampening, weight_decay; bool nesterov, maximize; };
struct AdamOptions { double lr, beta1, beta2, eps, weight_decay; bool amsgrad, maximize, decoupled_weight_decay; };
struct RmspropOptions { double lr, alpha, eps, weight_decay, momentum; bool centered, maximize; };
struct AdagradOptions { double lr, lr_decay, weight_decay, eps; bool maximize; };


// The per-step scalars of each update, formed in double from the options (PyTorch's Python
// floats) and rounded once to the parameter's type T. The CPU and CUDA kernels both take their
// constants from these, so each formula's constants are written in one place.
// `maximize` is a multiplication by sign = -1 (exactly a negation), so it needs no branch.
template <typename T>
struct SgdScalars {
  T sign, wd, momentum, one_minus_damp, neg_lr;
  bool decay, use_momentum, nesterov;
};
template <typename T>
SgdScalars<T> sgd_scalars(const SgdOptions& o) {
  return {o.maximize ? T(-1) : T(1), T(o.weight_decay), T(o.momentum), T(1.0 - o.dampening), T(-o.lr),
          o.weight_decay != 0, o.momentum != 0, o.nesterov};
}

// bc1 = 1 - beta1^step, bc2 = 1 - beta2^step; `scale` is AdamW's decoupled decay (1 otherwise, an
// exact no-op); `lerp_weight` is 1 - beta1, the weight of m's lerp toward g.
template <typename T>
struct AdamScalars {
  T neg_step_size, bc2_sqrt, eps, lerp_weight, beta2, w2, sign, wd, scale;
  bool coupled_decay, amsgrad;
};
template <typename T>
AdamScalars<T> adam_scalars(const AdamOptions& o, double step) {
  const double bc1 = 1.0 - std::pow(o.beta1, step), bc2 = 1.0 - std::pow(o.beta2, step);
  const bool decoupled = o.weight_decay != 0 && o.decoupled_weight_decay;
  return {T(-(o.lr / bc1)), T(std::pow(bc2, 0.5)), T(o.eps), T(1.0 - o.beta1), T(o.beta2), T(1.0 - o.beta2),
          o.maximize ? T(-1) : T(1), T(o.weight_decay), decoupled ? T(1.0 - o.lr * o.weight_decay) : T(1),
          o.weight_decay != 0 && !decoupled, o.amsgrad};
}

template <typename T>
struct RmspropScalars {
  T sign, wd, alpha, eps, one_minus_alpha, momentum, neg_lr;
  bool decay, centered, use_momentum;
};
template <typename T>
RmspropScalars<T> rmsprop_scalars(const RmspropOptions& o) {
  return {o.maximize ? T(-1) : T(1), T(o.weight_decay), T(o.alpha), T(o.eps), T(1.0 - o.alpha), T(o.momentum),
          T(-o.lr), o.weight_decay != 0, o.centered, o.momentum > 0};
}

// neg_clr = -lr / (1 + (step - 1) * lr_decay)
template <typename T>
struct AdagradScalars {
  T sign, wd, eps, neg_clr;
  bool decay;
};
template <typename T>
AdagradScalars<T> adagrad_scalars(const AdagradOptions& o, double step) {
  return {o.maximize ? T(-1) : T(1), T(o.weight_decay), T(o.eps), T(-(o.lr / (1 + (step - 1) * o.lr_decay))),
          o.weight_decay != 0};
}

}  // namespace gc::kernels
