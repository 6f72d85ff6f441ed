// Bindings of the softmax family: x.softmax(dim) and gradcore.softmax(input, dim, dtype=None)
// (and log_softmax), with PyTorch's argument names and defaults; and the fused attention kernel.
#include "bind/common.h"

namespace gc::bind {

static int64_t dim_arg(py::handle h, const char* op) {
  if (h.is_none() || PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    fail(ErrorKind::Type, op, "argument 'dim' must be an int, not ", py::str(py::type::of(h).attr("__name__")).cast<std::string>(),
         ". Hint: name the class dim, e.g. ", op, "(x, dim=-1)");
  return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
}

static void bind_softmax(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  for (bool log : {false, true}) {
    const char* name = log ? "log_softmax" : "softmax";
    // dtype, when given, casts the input first (differentiably), as PyTorch's does; else, under
    // CUDA autocast, a 16-bit input computes in float32 (fp32_set_opt_dtype).
    auto f = [log, name](const TensorPtr& x, py::object dim, py::object dtype) {
      int64_t d = dim_arg(dim, name);
      auto dt = optional_dtype(dtype, name);
      return maybe_release(x->numel(), [&] {
        auto in = dt ? ops::to_dtype(x, *dt) : ops::autocast(name, x);
        return log ? ops::log_softmax(in, d) : ops::softmax(in, d);
      });
    };
    cls.def(name, f, py::arg("dim"), py::arg("dtype") = py::none());
    fns.def(name, f, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  }
}

// The fused kernel behind F.scaled_dot_product_attention (nn/_functional_attention.py checks the
// arguments PyTorch's way and prepares the operands first).
static void bind_attention(py::module_& m, TensorClass&) {
  functions(m).def(
      "_fused_sdpa",
      [](const TensorPtr& q, const TensorPtr& k, const TensorPtr& v, std::optional<TensorPtr> mask, double dropout_p,
         bool is_causal, std::optional<double> scale) {
        return maybe_release(q->numel() * k->shape[k->dim() - 2], [&] {
          return ops::scaled_dot_product_attention(q, k, v, mask ? *mask : nullptr, dropout_p, is_causal, scale);
        });
      },
      py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
      py::arg("dropout_p") = 0.0, py::arg("is_causal") = false, py::arg("scale") = py::none());
}

GC_REGISTER_BINDINGS(bind_softmax)
GC_REGISTER_BINDINGS(bind_attention)

}  // namespace gc::bind
