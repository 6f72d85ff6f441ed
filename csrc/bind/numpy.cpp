// NumPy interop: tensors that share an array's memory and arrays that view a tensor's, and the
// copying conversion gradcore.tensor uses.
#include "bind/common.h"

namespace gc::bind {

namespace {

DType numpy_to_dtype(const py::array& a, const char* op) {
  char kind = a.dtype().kind();
  auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 2) return DType::Int16;
  if (kind == 'i' && size == 1) return DType::Int8;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (kind == 'b') return DType::Bool;
  fail(ErrorKind::Type, op, "can't convert np.ndarray of type ", py::str(a.dtype()).cast<std::string>(),
       ". The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool. "
       "Hint: convert first, e.g. arr.astype(np.float32)");
}

py::dtype dtype_to_numpy(DType d) {
  switch (d) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::Int16: return py::dtype::of<int16_t>();
    case DType::Int8: return py::dtype::of<int8_t>();
    case DType::UInt8: return py::dtype::of<uint8_t>();
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Float16: return py::dtype("float16");
    case DType::BFloat16:  // NumPy has no bfloat16: PyTorch's error
      fail(ErrorKind::Type, "numpy", "Got unsupported ScalarType BFloat16. Hint: convert first with .float() (or "
           ".to(torch.float32)).");
  }
  return py::dtype::of<float>();
}

}  // namespace

// Shares the array's memory: the storage keeps a reference to the array.
TensorPtr from_numpy(py::array arr) {
  DType dt = numpy_to_dtype(arr, "from_numpy");
  auto t = std::make_shared<Tensor>();
  int64_t isz = static_cast<int64_t>(itemsize(dt));
  int64_t max_off = 0;
  bool empty = false;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    int64_t st = arr.strides(i);
    if (st < 0)
      fail(ErrorKind::Value, "from_numpy", "at least one stride in the given numpy array is negative. Hint: copy it "
           "first with arr.copy()");
    if (st % isz)
      fail(ErrorKind::Value, "from_numpy", "given numpy array strides not a multiple of the element byte size. Hint: "
           "copy it first with np.ascontiguousarray(arr)");
    t->shape.push_back(arr.shape(i));
    t->strides.push_back(st / isz);
    if (arr.shape(i) == 0) empty = true;
    else max_off += (arr.shape(i) - 1) * (st / isz);
  }
  t->dtype = dt;
  size_t nbytes = empty ? 0 : static_cast<size_t>(max_off + 1) * isz;
  auto* keep = new py::object(arr);
  t->storage = std::make_shared<Storage>(const_cast<void*>(arr.data()), nbytes, Device{}, [keep] {
    py::gil_scoped_acquire gil;
    delete keep;
  });
  return t;
}

py::array to_numpy(const TensorPtr& t) {
  if (!t->device.is_cpu())
    fail(ErrorKind::Type, "numpy", "can't convert ", t->device.str(), " device type tensor to numpy. Use Tensor.cpu() "
         "to copy the tensor to host memory first.");
  if (t->requires_grad)
    fail(ErrorKind::Runtime, "numpy", "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end()), strides;
  for (auto s : t->strides) strides.push_back(s * static_cast<py::ssize_t>(t->itemsize()));
  auto holder = new std::shared_ptr<Storage>(t->storage);
  py::capsule base(holder, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(dtype_to_numpy(t->dtype), shape, strides, t->data(), base);
}

// Copies an array into a new tensor of `dtype` (gradcore.tensor's back end).
TensorPtr tensor_from_numpy_copy(py::array arr, std::optional<DType> dtype, bool from_python) {
  py::array src = arr;
  char kind = arr.dtype().kind();
  DType natural;
  const auto fsize = arr.dtype().itemsize();
  if (kind == 'f')
    natural = from_python ? default_dtype() : (fsize == 8 ? DType::Float64 : fsize == 2 ? DType::Float16 : DType::Float32);
  else if (kind == 'i' || kind == 'u')  // the wider unsigned types gradcore lacks become int64
    natural = from_python || (kind == 'u' && fsize > 1) ? DType::Int64 : numpy_to_dtype(arr, "tensor");
  else if (kind == 'b') natural = DType::Bool;
  else
    fail(ErrorKind::Type, "tensor", "can't convert data of NumPy type ", py::str(arr.dtype()).cast<std::string>(),
         " to a tensor. The supported types are float, int and bool.");
  DType dt = dtype ? *dtype : natural;
  // NumPy has no bfloat16: such a tensor is made from float32 and rounded by the copy kernel.
  const DType via = dt == DType::BFloat16 ? DType::Float32 : dt;
  py::array conv = py::array::ensure(src.attr("astype")(dtype_to_numpy(via)), py::array::c_style);
  DimVector shape(conv.shape(), conv.shape() + conv.ndim());
  auto t = ops::empty(shape, via, Device{});
  if (t->storage->nbytes) std::memcpy(t->data(), conv.data(), t->storage->nbytes);
  return via == dt ? t : ops::to_dtype(t, dt);
}

}  // namespace gc::bind
