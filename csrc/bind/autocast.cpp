// Bindings of autocast's state and casts: gradcore._C._set_autocast / _get_autocast (what
// gradcore.autocast and gradcore.is_autocast_enabled use), _autocast(op, t), the cast of an op
// on autocast's lists for the ops written in Python (l1_loss, the BCE losses, F.pad's modes,
// group_norm, interpolate), _autocast_suspend / _autocast_resume around the inner ops of such a
// function that is on no list, and the lists themselves for the tests: _autocast_policy,
// _autocast_op_list and _set_autocast_op_lists.
#include "bind/common.h"
#include "core/autocast.h"

namespace gc::bind {

static DeviceType autocast_device(const std::string& type) {
  if (type == "cpu") return DeviceType::CPU;
  if (type == "cuda") return DeviceType::CUDA;
  fail(ErrorKind::Runtime, "autocast", "User specified an unsupported autocast device_type '", type,
       "'. Hint: use 'cpu' or 'cuda'.");
}

static const char* device_type_name(DeviceType d) { return d == DeviceType::CPU ? "cpu" : "cuda"; }

static void bind_autocast(py::module_& m, TensorClass&) {
  m.def("_set_autocast", [](const std::string& type, bool enabled, DType dtype) {
    Autocast::set(autocast_device(type), enabled, dtype);
  });
  m.def("_get_autocast", [](const std::string& type) {
    const DeviceType d = autocast_device(type);
    return py::make_tuple(Autocast::enabled(d), Autocast::dtype(d));
  });
  m.def("_autocast", [](const char* op, std::optional<TensorPtr> t, bool dtype_given) -> std::optional<TensorPtr> {
    if (!t) return std::nullopt;
    return ops::autocast(op, *t, dtype_given);
  }, py::arg("op"), py::arg("tensor"), py::arg("dtype_given") = false);
  // Autocast off on both devices for the inner ops of a Python function (PyTorch runs an op's
  // insides below its autocast layer): the saved state, or None when autocast was off already.
  m.def("_autocast_suspend", []() -> py::object {
    if (!Autocast::any()) return py::none();
    py::tuple saved(2);
    for (DeviceType d : {DeviceType::CPU, DeviceType::CUDA}) {
      saved[static_cast<size_t>(d)] = py::make_tuple(Autocast::enabled(d), Autocast::dtype(d));
      Autocast::set(d, false, Autocast::dtype(d));
    }
    return std::move(saved);
  });
  m.def("_autocast_resume", [](py::object saved) {
    if (saved.is_none()) return;
    for (DeviceType d : {DeviceType::CPU, DeviceType::CUDA}) {
      auto s = saved[py::int_(static_cast<int>(d))].cast<py::tuple>();
      Autocast::set(d, s[0].cast<bool>(), s[1].cast<DType>());
    }
  });
  // PyTorch 2.13's policy name of aten op `op` on a device's list (None when on no list).
  m.def("_autocast_policy", [](const std::string& type, const char* op) -> py::object {
    const char* name = ops::autocast_policy_name(ops::autocast_policy(op, autocast_device(type)));
    return name ? py::object(py::str(name)) : py::object(py::none());
  }, py::arg("device_type"), py::arg("op"));
  m.def("_autocast_op_list", [](const std::string& type) {
    py::dict out;
    for (const auto& [op, p] : ops::autocast_op_list(autocast_device(type))) out[op] = ops::autocast_policy_name(p);
    return out;
  }, py::arg("device_type"));
  // Routes a device's tensors to another device's op lists (tests: the CUDA lists on CPU
  // tensors); returns the device type they followed before.
  m.def("_set_autocast_op_lists", [](const std::string& type, const std::string& lists) {
    const DeviceType d = autocast_device(type);
    const DeviceType before = ops::autocast_op_lists(d);
    ops::set_autocast_op_lists(d, autocast_device(lists));
    return device_type_name(before);
  }, py::arg("device_type"), py::arg("lists"));
}

GC_REGISTER_BINDINGS(bind_autocast)

}  // namespace gc::bind
