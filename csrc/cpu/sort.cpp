// Sort and topk on the CPU. Each row is copied into a buffer of (value, position) pairs (one
// strided read of the row), ordered there with kernels::SortOrder, which breaks ties by position
// so std::sort is stable and selection is deterministic, and written out. topk orders only what
// it returns: std::partial_sort (O(C log k)) when sorted, std::nth_element (O(C)) otherwise.
// Rows are split over threads in chunks, each with its own buffer, when the work is big.
#include "cpu/sort.h"
#include <algorithm>
#include <utility>
#include <vector>
#include "cpu/loops.h"
#include "kernels/sort.h"

namespace gc::cpu {

namespace {

// f(row, buffer) for every row; chunks of rows run on threads when the whole job is large.
template <typename T, typename F>
void for_rows(const RowLayout& L, const F& f) {
  const int64_t R = L.rows();
  if (R == 0 || L.C == 0) return;
  const int64_t chunks = std::min<int64_t>(R, 4 * static_cast<int64_t>(get_num_threads()));
  for_planes(chunks, R * L.C, [&](int64_t c) {
    std::vector<std::pair<T, int64_t>> buf(static_cast<size_t>(L.C));
    for (int64_t r = c * R / chunks, end = (c + 1) * R / chunks; r < end; ++r) f(r, buf);
  });
}

template <typename T>
void select_rows(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
                 bool descending, bool full_sort, bool sorted) {
  if (k == 0) return;
  const T* xp = x.data_as<T>();
  T* vp = values.data_as<T>();
  int64_t* ip = indices.data_as<int64_t>();
  const kernels::SortOrder<T> order{descending};
  auto cmp = [&](const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
    return order.before(a.first, a.second, b.first, b.second);
  };
  const RowLayout out{L.outer, k, L.inner};
  for_rows<T>(L, [&](int64_t r, std::vector<std::pair<T, int64_t>>& buf) {
    const T* row = xp + L.base(r);
    for (int64_t c = 0; c < L.C; ++c) buf[c] = {row[c * L.inner], c};
    if (full_sort) std::sort(buf.begin(), buf.end(), cmp);
    else if (sorted) std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), cmp);
    else std::nth_element(buf.begin(), buf.begin() + (k - 1), buf.end(), cmp);
    const int64_t ob = out.base(r);
    for (int64_t c = 0; c < k; ++c) {
      vp[ob + c * L.inner] = buf[c].first;
      ip[ob + c * L.inner] = buf[c].second;
    }
  });
}

}  // namespace

void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, bool descending) {
  GC_DISPATCH_ALL(x.dtype, "sort", [&] { select_rows<scalar_t>(values, indices, x, L, L.C, descending, true, true); });
}

void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
                 bool largest, bool sorted) {
  GC_DISPATCH_ALL(x.dtype, "topk", [&] {
    select_rows<scalar_t>(values, indices, x, L, k, largest, k == L.C && sorted, sorted);
  });
}

}  // namespace gc::cpu
