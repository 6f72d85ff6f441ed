// Bindings of sorting: sort / argsort / msort / topk as gradcore functions and Tensor methods,
// sort and topk returning gradcore.return_types.sort / .topk (values, indices).
#include "bind/common.h"

namespace gc::bind {

static void bind_sort(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  py::handle sort_type = values_indices_type(m, "sort"), topk_type = values_indices_type(m, "topk");

  auto both = [&](const char* name, auto f, auto... args) {
    cls.def(name, f, args...);
    fns.def(name, f, py::arg("input"), args...);
  };
  // `stable` is accepted for PyTorch's signature; every gradcore sort is stable (kernels/sort.h).
  both("sort", [sort_type](const TensorPtr& x, int64_t dim, bool descending, bool /*stable*/) {
    auto r = maybe_release(x->numel(), [&] { return ops::sort(x, dim, descending); });
    return sort_type(r.first, r.second);
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = false);
  both("argsort", [](const TensorPtr& x, int64_t dim, bool descending, bool /*stable*/) {
    return maybe_release(x->numel(), [&] { return ops::sort(x, dim, descending).second; });
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = false);
  both("msort", [](const TensorPtr& x) {
    return maybe_release(x->numel(), [&] { return ops::sort(x, 0, false).first; });
  });
  both("topk", [topk_type](const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    auto r = maybe_release(x->numel(), [&] { return ops::topk(x, k, dim, largest, sorted); });
    return topk_type(r.first, r.second);
  }, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true);
}

GC_REGISTER_BINDINGS(bind_sort)

}  // namespace gc::bind
