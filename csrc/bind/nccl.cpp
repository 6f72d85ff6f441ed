// Bindings of the NCCL backend (cuda/nccl.h) that gradcore.distributed's _nccl.py drives; only in
// CUDA builds, where gradcore._C has _nccl_load, _nccl_unique_id and the _NcclComm class.
#ifdef GRADCORE_CUDA
#include "bind/common.h"
#include "cuda/nccl.h"

namespace gc::bind {

static void bind_nccl(py::module_& m, TensorClass&) {
  namespace nccl = cuda::nccl;
  m.def("_nccl_load", &nccl::load, py::arg("path"));
  m.def("_nccl_version", &nccl::version);
  m.def("_nccl_unique_id", []() { return py::bytes(nccl::unique_id()); });
  py::class_<nccl::Event, nccl::EventPtr>(m, "_NcclEvent")
      .def("query", &nccl::Event::query)
      .def("synchronize", [](const nccl::Event& e) {
        py::gil_scoped_release nogil;
        e.synchronize();
      });
  // Every rank constructs its communicator at the same time and NCCL waits for all of them, so the
  // constructor releases the GIL; the operations only enqueue work on the stream.
  py::class_<nccl::Comm>(m, "_NcclComm")
      .def(py::init([](py::bytes id, int nranks, int rank, int device) {
             std::string key = id;
             py::gil_scoped_release nogil;
             return new nccl::Comm(key, nranks, rank, device);
           }), py::arg("unique_id"), py::arg("nranks"), py::arg("rank"), py::arg("device"))
      .def("all_reduce", &nccl::Comm::all_reduce, py::arg("tensor"), py::arg("op"))
      .def("broadcast", &nccl::Comm::broadcast, py::arg("tensor"), py::arg("root"))
      .def("reduce", &nccl::Comm::reduce, py::arg("tensor"), py::arg("op"), py::arg("root"))
      .def("all_gather", &nccl::Comm::all_gather, py::arg("output"), py::arg("input"))
      .def("reduce_scatter", &nccl::Comm::reduce_scatter, py::arg("output"), py::arg("input"), py::arg("op"))
      .def("send", &nccl::Comm::send, py::arg("tensor"), py::arg("peer"))
      .def("recv", &nccl::Comm::recv, py::arg("tensor"), py::arg("peer"))
      .def("destroy", &nccl::Comm::destroy);
}

GC_REGISTER_BINDINGS(bind_nccl)

}  // namespace gc::bind
#endif
