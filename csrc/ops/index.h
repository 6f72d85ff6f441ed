// The indexing family's entry points beyond ops.h: what Tensor.__getitem__/__setitem__ need
// (a replayable description of basic indexing, and set_item) and the in-place variants.
#pragma once
#include <optional>
#include <vector>
#include "kernels/scatter.h"
#include "ops/ops.h"

namespace gc::ops {

// One step of basic (view) indexing, as Tensor.__getitem__ parses `x[0, 1:5:2, None]`. The
// steps replay on any tensor of x's shape: __setitem__'s backward uses that to find the written
// region inside the gradient.
struct BasicIndex {
  enum Kind : uint8_t { Select, Slice, Unsqueeze } kind = Select;
  int64_t dim = 0;
  int64_t start = 0;  // Select: the index
  int64_t stop = 0;
  int64_t step = 1;
};
using BasicIndexList = std::vector<BasicIndex>;

// x viewed through the steps (ops::select / slice / unsqueeze, differentiable views). Full
// slices are skipped; with no step left the result is x itself.
TensorPtr apply_basic_index(const TensorPtr& x, const BasicIndexList& steps);
// A view of all of x (x[...]).
TensorPtr alias(const TensorPtr& x);
// x[steps][advanced] = value, in place: value is cast to x's dtype, loses its leading size-1
// dims and broadcasts to the indexed region (as PyTorch's setitem). Differentiable w.r.t. x and
// value; refuses the cases where the history would be lost (a leaf that requires grad, a view).
void set_item(const TensorPtr& x, const BasicIndexList& steps, const TensorList& advanced, const TensorPtr& value);

TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value);

// Shared by ops/index.cpp and ops/gather.cpp; not part of the op API.
namespace detail {
// Fills `v` (a stack tensor handed to kernels, never escaping the op) with t's data under
// another geometry.
void restride(Tensor& v, const Tensor& t, DimVector shape, DimVector strides);
void check_device(const Tensor& x, const Tensor& other, const char* op, const char* what);
// In-place writes record history on the written tensor; on a view that history would never
// reach the base, so a write that needs a gradient refuses views.
void check_not_view(const Tensor& x, const char* op);
// Throws `kind` ("index 7 is out of bounds for dimension 0 with size 5", naming `op`) unless every
// entry of the int64 tensor `idx` lies in [-size, size), or [0, size) when !allow_negative.
void check_index_bounds(const Tensor& idx, int64_t size, int64_t dim, bool allow_negative, ErrorKind kind,
                        const char* op);
// x[idx] = values (or += when accumulating) without autograd: idx has one entry per dim of x
// (null = the whole dim, int64 only), values has x's dtype and broadcasts to x[idx]'s shape.
void index_put_raw(const TensorPtr& x, const TensorList& idx, TensorPtr values, bool accumulate, const char* op);

// A 0-dim tensor read as shape [1] (the dim-wise ops treat it so, as PyTorch does).
struct Geom {
  DimVector shape, strides;
};
Geom geom0(const Tensor& t);
void check_int64_index(const Tensor& index, const char* op);
// scatter's checks (int64 index; self, index and src of one rank; index no larger than src, nor
// than self off dim d; entries in [0, size)); returns the wrapped dim.
int64_t check_scatter_args(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, const char* op);
// dst[..., index[..., i, ...], ...] = src[..., i, ...] along d over index's shape: the last write
// wins, or the value combines with `reduce`. No autograd.
void scatter_raw(const Tensor& dst, int64_t d, const Tensor& index, const Tensor& src,
                 std::optional<kernels::ScatterReduce> reduce);
// A gradient gathered at index's shape, as the gradient of a src of src_shape (zero where src is
// larger than index).
TensorPtr grad_for_src(const TensorPtr& g_at_index, const Tensor& index, const DimVector& src_shape);
}  // namespace detail

}  // namespace gc::ops
