// Sorting along a dim on the CPU (cpu/sort.cpp): sort and topk. Operands are contiguous and seen
// as rows around the sorted dim (RowLayout [outer, C, inner]: a row's elements are `inner`
// apart); values and indices have the same layout with C (sort) or k (topk) entries per row.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::cpu {

using kernels::RowLayout;

// Each row of x sorted (SortOrder: NaN largest, stable): values and the int64 input positions.
void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, bool descending);
// The k largest (smallest) entries of each row, in sorted order when `sorted` (any order
// otherwise), found by partial selection rather than a full sort.
void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
                 bool largest, bool sorted);

}  // namespace gc::cpu
