// Bindings of random-number state and sampling: the Generator class, manual_seed/seed/initial_seed,
// multinomial, bernoulli and the in-place fills bernoulli_, exponential_, geometric_, random_
// (ops/random.cpp). The factories randperm and normal bind with the others in creation.cpp.
#include "bind/common.h"
#include "core/generator.h"

namespace gc::bind {

namespace {

// A seed as PyTorch takes it: any int in [-2^63, 2^64); a negative one wraps modulo 2^64.
uint64_t seed_arg(py::handle h, const char* op) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr()))
    fail(ErrorKind::Runtime, op, "manual_seed expected a long, but got ", type_name(h));
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow == 0) return static_cast<uint64_t>(v);
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(h.ptr());
    if (!PyErr_Occurred()) return u;
    PyErr_Clear();
  }
  fail(ErrorKind::Value, op, "Overflow when unpacking long long (a seed must lie in [-2**63, 2**64))");
}

// The generator's state as PyTorch gives it, a uint8 ByteTensor: here 16 bytes, the seed's and
// the offset's 64 bits, little-endian. Its contents are opaque to users; only set_state reads it.
constexpr int64_t kStateBytes = 16;

TensorPtr state_tensor(const Generator& g) {
  auto t = ops::empty({kStateBytes}, DType::UInt8, Device{});
  uint8_t* b = t->data_as<uint8_t>();
  const uint64_t words[2] = {g.initial_seed(), g.offset()};
  for (int w = 0; w < 2; ++w)
    for (int i = 0; i < 8; ++i) b[w * 8 + i] = static_cast<uint8_t>(words[w] >> (8 * i));
  return t;
}

void set_state_from(Generator& g, py::handle state) {
  if (!is_tensor(state))
    fail(ErrorKind::Type, "set_state", "expected a gradcore.ByteTensor (as get_state() returns), but got ", type_name(state));
  auto st = as_tensor(state, "set_state", "new_state");
  if (st->dtype != DType::UInt8)
    fail(ErrorKind::Type, "set_state", "RNG state must be a gradcore.ByteTensor (uint8, as get_state() returns), got a ",
         dtype_name(st->dtype), " tensor");
  if (st->numel() != kStateBytes)
    fail(ErrorKind::Runtime, "set_state", "Expected an RNG state of size ", kStateBytes,
         " but found the input RNG state size to be ", st->numel(), ". Hint: pass a state that get_state() returned.");
  auto t = ops::to_cpu(ops::contiguous(st));
  const uint8_t* b = t->data_as<uint8_t>();
  uint64_t words[2] = {0, 0};
  for (int w = 0; w < 2; ++w)
    for (int i = 0; i < 8; ++i) words[w] |= static_cast<uint64_t>(b[w * 8 + i]) << (8 * i);
  g.set_state(words[0], words[1]);
}

// Seeds the CPU and the CUDA default generators, as torch.manual_seed does.
Generator& seed_defaults(uint64_t s) {
  default_generator().manual_seed(s);
  cuda_generator().manual_seed(s);
  return default_generator();
}

}  // namespace

static void bind_random(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  py::class_<Generator>(m, "Generator")
      .def(py::init([](py::object device) {
             Device d = device.is_none() ? Device{} : device_arg(device, "Generator");
             check_device_available(d, "Generator");
             return new Generator(67280421310721ULL, d);  // PyTorch's default seed
           }),
           py::arg("device") = py::none())
      .def("manual_seed", [](Generator& g, py::object s) -> Generator& { g.manual_seed(seed_arg(s, "manual_seed")); return g; },
           py::arg("seed"), py::return_value_policy::reference)
      .def("seed", [](Generator& g) { uint64_t s = nondeterministic_seed(); g.manual_seed(s); return s; })
      .def("initial_seed", &Generator::initial_seed)
      .def("get_state", [](const Generator& g) { return state_tensor(g); })
      .def("set_state", [](Generator& g, py::object st) -> Generator& { set_state_from(g, st); return g; }, py::arg("new_state"),
           py::return_value_policy::reference)
      .def_property_readonly("device", &Generator::device);
  m.def("default_generator", []() -> Generator& { return default_generator(); }, py::return_value_policy::reference);
  m.def("_cuda_generator", []() -> Generator& { return cuda_generator(); }, py::return_value_policy::reference);
  m.def("_cuda_manual_seed", [](py::object s) { cuda_generator().manual_seed(seed_arg(s, "manual_seed")); });

  // torch.manual_seed(seed) takes int(seed); seed() draws a fresh one; both return the CPU generator's.
  fns.def("manual_seed", [](py::object s) -> Generator& { return seed_defaults(seed_arg(py::int_(s), "manual_seed")); },
          py::arg("seed"), py::return_value_policy::reference);
  fns.def("seed", []() { uint64_t s = nondeterministic_seed(); seed_defaults(s); return s; });
  fns.def("initial_seed", []() { return default_generator().initial_seed(); });

  auto multinomial = [](const TensorPtr& x, int64_t n, bool replacement, py::object gen) {
    return ops::multinomial(x, n, replacement, generator_arg(gen));
  };
  fns.def("multinomial", multinomial, py::arg("input"), py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(),
          py::arg("generator") = py::none());
  cls.def("multinomial", multinomial, py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(),
          py::arg("generator") = py::none());

  // bernoulli(input): 1 with probability input[i]; bernoulli(input, p): input's shape, probability p.
  auto bernoulli = [](const TensorPtr& x, py::object p, py::object gen) {
    if (p.is_none()) return ops::bernoulli(x, generator_arg(gen));
    return ops::bernoulli(x, to_scalar(p, "bernoulli", "p").d, generator_arg(gen));
  };
  fns.def("bernoulli", bernoulli, py::arg("input"), py::arg("p") = py::none(), py::kw_only(), py::arg("generator") = py::none());
  cls.def("bernoulli", bernoulli, py::arg("p") = py::none(), py::kw_only(), py::arg("generator") = py::none());
  cls.def("bernoulli_", [](const TensorPtr& t, py::object p, py::object gen) {
        if (is_tensor(p)) ops::bernoulli_(t, as_tensor(p, "bernoulli_", "p"), generator_arg(gen));
        else ops::bernoulli_(t, to_scalar(p, "bernoulli_", "p").d, generator_arg(gen));
        return t;
      }, py::arg("p") = 0.5, py::kw_only(), py::arg("generator") = py::none())
      .def("exponential_", [](const TensorPtr& t, double lambd, py::object gen) {
        ops::exponential_(t, lambd, generator_arg(gen));
        return t;
      }, py::arg("lambd") = 1.0, py::kw_only(), py::arg("generator") = py::none())
      .def("geometric_", [](const TensorPtr& t, double p, py::object gen) {
        ops::geometric_(t, p, generator_arg(gen));
        return t;
      }, py::arg("p"), py::kw_only(), py::arg("generator") = py::none())
      // random_(), random_(to), random_(from, to) with to possibly None (up to the dtype's limit).
      .def("random_", [](const TensorPtr& t, py::args args, py::kwargs kw) {
        py::object from = py::none(), to = py::none(), gen = py::none();
        for (auto item : kw) {
          auto k = item.first.cast<std::string>();
          if (k == "from") from = py::reinterpret_borrow<py::object>(item.second);
          else if (k == "to") to = py::reinterpret_borrow<py::object>(item.second);
          else if (k == "generator") gen = py::reinterpret_borrow<py::object>(item.second);
          else fail(ErrorKind::Type, "random_", "got an unexpected keyword argument '", k, "'");
        }
        if (args.size() > 2) fail(ErrorKind::Type, "random_", "expected random_(), random_(to) or random_(from, to), got ", args.size(), " arguments");
        if (args.size() == 1 && from.is_none() && to.is_none()) to = args[0];
        else if (args.size() >= 1) {
          from = args[0];
          if (args.size() == 2) to = args[1];
        }
        int64_t lo = from.is_none() ? 0 : from.cast<int64_t>();
        std::optional<int64_t> hi;
        if (!to.is_none()) hi = to.cast<int64_t>();
        ops::random_(t, lo, hi, generator_arg(gen));
        return t;
      });
}

GC_REGISTER_BINDINGS(bind_random)

}  // namespace gc::bind
