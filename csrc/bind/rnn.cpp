// Binding of gradcore._C._nn.rnn_layer: one recurrent layer in one direction (ops/rnn.cpp), which
// nn.RNN / LSTM / GRU call per layer and direction and the cells call for one step.
#include "bind/common.h"

namespace gc::bind {

namespace {

kernels::RnnMode rnn_mode(const std::string& mode) {
  if (mode == "RNN_TANH") return kernels::RnnMode::RnnTanh;
  if (mode == "RNN_RELU") return kernels::RnnMode::RnnRelu;
  if (mode == "LSTM") return kernels::RnnMode::Lstm;
  if (mode == "GRU") return kernels::RnnMode::Gru;
  fail(ErrorKind::Value, "rnn_layer", "unknown mode '", mode, "'; expected RNN_TANH, RNN_RELU, LSTM or GRU");
}

}  // namespace

static void bind_rnn(py::module_& m, TensorClass&) {
  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("rnn_layer", [](const std::string& mode, const TensorPtr& input, const TensorPtr& hx,
                         std::optional<TensorPtr> cx, const TensorPtr& w_ih, const TensorPtr& w_hh,
                         std::optional<TensorPtr> b_ih, std::optional<TensorPtr> b_hh, bool reverse,
                         std::optional<TensorPtr> w_hr) {
    auto opt = [](const std::optional<TensorPtr>& t) -> TensorPtr { return t ? *t : nullptr; };
    const auto m = rnn_mode(mode);
    auto [out, h_n, c_n] = maybe_release(input->numel() + w_hh->numel(), [&] {
      return ops::rnn_layer(m, input, hx, opt(cx), w_ih, w_hh, opt(b_ih), opt(b_hh), reverse, opt(w_hr));
    });
    return py::make_tuple(out, h_n, c_n ? py::cast(c_n) : py::none());
  }, py::arg("mode"), py::arg("input"), py::arg("hx"), py::arg("cx"), py::arg("weight_ih"), py::arg("weight_hh"),
     py::arg("bias_ih"), py::arg("bias_hh"), py::arg("reverse") = false, py::arg("weight_hr") = py::none());
}

GC_REGISTER_BINDINGS(bind_rnn)

}  // namespace gc::bind
