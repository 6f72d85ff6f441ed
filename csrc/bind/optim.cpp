// Bindings of the optimizer updates: _C._sgd_step, _C._adam_step, _C._rmsprop_step and
// _C._adagrad_step, each called once per param group by gradcore.optim with lists of tensors.
// The lists are converted while holding the GIL; the update itself runs with the GIL released.
#include "bind/common.h"

namespace gc::bind {

namespace {

// A list or tuple of tensors; None entries stay null (the op reports them by parameter index).
TensorList tensor_list(py::handle h, const char* op, const char* arg) {
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    fail(ErrorKind::Type, op, "argument '", arg, "' must be a list of Tensors, not ",
         py::str(py::type::of(h).attr("__name__")).cast<std::string>());
  TensorList out;
  auto seq = py::reinterpret_borrow<py::sequence>(h);
  out.reserve(seq.size());
  for (auto item : seq) out.push_back(item.is_none() ? nullptr : as_tensor(item, op, arg));
  return out;
}

// One flag per parameter, or one bool for all of them.
std::vector<bool> flag_list(py::handle h, size_t n, const char* op, const char* arg) {
  if (PyBool_Check(h.ptr())) return std::vector<bool>(n, h.cast<bool>());
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    fail(ErrorKind::Type, op, "argument '", arg, "' must be a bool or a list of bools");
  std::vector<bool> out;
  for (auto item : py::reinterpret_borrow<py::sequence>(h)) out.push_back(py::bool_(item).cast<bool>());
  return out;
}

}  // namespace

static void bind_optim(py::module_& m, TensorClass&) {
  // GradScaler.unscale_'s fused pass: every gradient times inv_scale, found_inf set on inf/NaN.
  m.def("_amp_unscale_", [](py::object grads, const TensorPtr& found_inf, double inv_scale) {
    auto gs = tensor_list(grads, "GradScaler.unscale_", "grads");
    py::gil_scoped_release release;
    ops::amp_unscale_(gs, found_inf, inv_scale);
  }, py::arg("grads"), py::arg("found_inf"), py::arg("inv_scale"));
  m.def("_sgd_step",
        [](py::object params, py::object grads, py::object bufs, double lr, double momentum, double dampening,
           double weight_decay, bool nesterov, bool maximize, py::object first_step) {
          const char* op = "sgd_step";
          auto ps = tensor_list(params, op, "params"), gs = tensor_list(grads, op, "grads");
          auto bs = tensor_list(bufs, op, "momentum_buffers");
          auto init = flag_list(first_step, ps.size(), op, "first_step");
          ops::SgdOptions o{lr, momentum, dampening, weight_decay, nesterov, maximize};
          py::gil_scoped_release release;
          ops::sgd_step(ps, gs, bs, init, o);
        },
        py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("lr"), py::arg("momentum"),
        py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
        py::arg("first_step"));

  m.def("_adam_step",
        [](py::object params, py::object grads, py::object exp_avgs, py::object exp_avg_sqs,
           py::object max_exp_avg_sqs, py::object steps, double lr, double beta1, double beta2, double eps,
           double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
          const char* op = decoupled ? "adamw_step" : "adam_step";
          auto ps = tensor_list(params, op, "params"), gs = tensor_list(grads, op, "grads");
          auto ms = tensor_list(exp_avgs, op, "exp_avgs"), vs = tensor_list(exp_avg_sqs, op, "exp_avg_sqs");
          auto vmax = tensor_list(max_exp_avg_sqs, op, "max_exp_avg_sqs");
          auto ss = tensor_list(steps, op, "state_steps");
          ops::AdamOptions o{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
          py::gil_scoped_release release;
          ops::adam_step(ps, gs, ms, vs, vmax, ss, o);
        },
        py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"),
        py::arg("state_steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"));

  m.def("_rmsprop_step",
        [](py::object params, py::object grads, py::object square_avgs, py::object grad_avgs, py::object bufs,
           py::object steps, double lr, double alpha, double eps, double weight_decay, double momentum,
           bool centered, bool maximize) {
          const char* op = "rmsprop_step";
          auto ps = tensor_list(params, op, "params"), gs = tensor_list(grads, op, "grads");
          auto sq = tensor_list(square_avgs, op, "square_avgs"), ga = tensor_list(grad_avgs, op, "grad_avgs");
          auto bs = tensor_list(bufs, op, "momentum_buffers"), ss = tensor_list(steps, op, "state_steps");
          ops::RmspropOptions o{lr, alpha, eps, weight_decay, momentum, centered, maximize};
          py::gil_scoped_release release;
          ops::rmsprop_step(ps, gs, sq, ga, bs, ss, o);
        },
        py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("grad_avgs"),
        py::arg("momentum_buffers"), py::arg("state_steps"), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"), py::arg("maximize"));

  m.def("_adagrad_step",
        [](py::object params, py::object grads, py::object state_sums, py::object steps, double lr,
           double lr_decay, double weight_decay, double eps, bool maximize) {
          const char* op = "adagrad_step";
          auto ps = tensor_list(params, op, "params"), gs = tensor_list(grads, op, "grads");
          auto sums = tensor_list(state_sums, op, "state_sums"), ss = tensor_list(steps, op, "state_steps");
          ops::AdagradOptions o{lr, lr_decay, weight_decay, eps, maximize};
          py::gil_scoped_release release;
          ops::adagrad_step(ps, gs, sums, ss, o);
        },
        py::arg("params"), py::arg("grads"), py::arg("state_sums"), py::arg("state_steps"), py::arg("lr"),
        py::arg("lr_decay"), py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"));
}

GC_REGISTER_BINDINGS(bind_optim)

}  // namespace gc::bind
