// CUDA kernels of the reduction family (reduce.cu): the same entry points, arguments and contracts as
// csrc/cpu/reduce.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/reduce.h"

namespace gc::cuda {
using kernels::ReducePlan;
void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale);
void var_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double correction, bool take_sqrt);
void prod_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p);
void minmax_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_max);
void arg_minmax_kernel(const Tensor* values, const Tensor& indices, const Tensor& x, const ReducePlan& p, bool is_max);
void norm_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double ord);
void any_all_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_all);
void prod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const ReducePlan& p);
void index_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& indices, const ReducePlan& p);
}  // namespace gc::cuda
