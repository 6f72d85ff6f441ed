// Bindings of autocast's state and casts: gradcore._C._set_autocast / _get_autocast (what
// gradcore.autocast and gradcore.is_autocast_enabled use) and _autocast(op, t), the cast of an op
// on autocast's lists, for the ops written in Python (l1_loss, the BCE losses, F.pad's modes).
#include "bind/common.h"
#include "core/autocast.h"

namespace gc::bind {

static DeviceType autocast_device(const std::string& type) {
  if (type == "cpu") return DeviceType::CPU;
  if (type == "cuda") return DeviceType::CUDA;
  fail(ErrorKind::Runtime, "autocast", "User specified an unsupported autocast device_type '", type,
       "'. Hint: use 'cpu' or 'cuda'.");
}

static void bind_autocast(py::module_& m, TensorClass&) {
  m.def("_set_autocast", [](const std::string& type, bool enabled, DType dtype) {
    Autocast::set(autocast_device(type), enabled, dtype);
  });
  m.def("_get_autocast", [](const std::string& type) {
    const DeviceType d = autocast_device(type);
    return py::make_tuple(Autocast::enabled(d), Autocast::dtype(d));
  });
  m.def("_autocast", [](const char* op, std::optional<TensorPtr> t) -> std::optional<TensorPtr> {
    if (!t) return std::nullopt;
    return ops::autocast(op, *t);
  });
}

GC_REGISTER_BINDINGS(bind_autocast)

}  // namespace gc::bind
