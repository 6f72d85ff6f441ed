// Indexing kernels. Every indexing op reduces to one of two strided loops over an "index space"
// (the shape of the first operand):
//   gather:  out[i]                          = src[i + wrap(idx[i]) * stride]
//   scatter: dst[i + wrap(idx[i]) * stride] (+)= values[i]
// The caller restrides src/dst so the indexed dim has stride 0 in the index space and `idx`
// (int64, broadcast into the same space) says where to go along it. wrap(v) = v < 0 ? v + size : v.
// Kernels trust their indices: the ops run ops::detail::check_index_bounds (over
// first_index_out_of_range) first, so a bad index raises before any memory is touched.
#pragma once
#include <optional>
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/scatter.h"

namespace gc::cpu {

// The first entry of the int64 tensor `idx`, in row-major order, outside [lo, size); none if all
// lie inside.
std::optional<int64_t> first_index_out_of_range(const Tensor& idx, int64_t lo, int64_t size);
// off[i] += wrap(idx[i]) * stride: folds one of several index tensors into element offsets
// (idx broadcast to off's shape; both int64).
void add_index_offsets(const Tensor& off, const Tensor& idx, int64_t size, int64_t stride);
void gather_kernel(const Tensor& out, const Tensor& src, const Tensor& idx, int64_t size, int64_t stride);
// Serial, in row-major order of dst's (index-space) shape: repeated indices accumulate, or the
// last write wins, deterministically. `values` broadcasts to dst's shape.
void scatter_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                    bool accumulate);
// dst[i + wrap(idx[i]) * stride] = combine(dst[...], values[i]) with the reduction of
// kernels/scatter.h, under scatter_kernel's contract (serial, row-major: deterministic).
void scatter_reduce_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                           kernels::ScatterReduce reduce);
// out[i] = value where mask[i] (mask bool, broadcast to out's shape).
void masked_fill_kernel(const Tensor& out, const Tensor& mask, Scalar value);
// Number of non-zero elements of a contiguous tensor, and their coordinates in row-major order
// written into out [count, ndim] (int64, contiguous).
int64_t nonzero_count(const Tensor& x);
void nonzero_kernel(const Tensor& out, const Tensor& x);

}  // namespace gc::cpu
