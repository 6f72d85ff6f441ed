// NCCL loaded at run time (see nccl.h): the few NCCL declarations gradcore needs, written out from
// nccl.h's stable ABI, bound to libnccl.so.2's symbols with dlsym.
#include "cuda/nccl.h"
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <cstring>
#include "cuda/runtime.h"

namespace gc::cuda::nccl {

namespace {

// From nccl.h (unchanged since NCCL 2.10): opaque communicator, 128-byte id passed by value,
// int-sized enums.
using ncclComm_t = void*;
constexpr size_t kUniqueIdBytes = 128;
struct ncclUniqueId {
  char internal[kUniqueIdBytes];
};
using ncclResult_t = int;
constexpr ncclResult_t ncclSuccess = 0;
enum ncclDataType_t : int {
  ncclInt8 = 0, ncclUint8 = 1, ncclInt32 = 2, ncclUint32 = 3, ncclInt64 = 4, ncclUint64 = 5,
  ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9
};
enum ncclRedOp_t : int { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };

struct Api {
  const char* (*GetErrorString)(ncclResult_t);
  ncclResult_t (*GetVersion)(int*);
  ncclResult_t (*GetUniqueId)(ncclUniqueId*);
  ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*CommDestroy)(ncclComm_t);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*Broadcast)(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*Reduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*AllGather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*ReduceScatter)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*Send)(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*Recv)(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
};

Api g_api;
bool g_loaded = false;
// gradcore's kernels run on the legacy default stream (cuda/runtime.h); NCCL joins them there.
const cudaStream_t kStream = nullptr;

const Api& api(const char* op) {
  if (!g_loaded)
    fail(ErrorKind::Runtime, op, "NCCL is not loaded. Hint: init_process_group(backend='nccl') loads it.");
  return g_api;
}

void check_nccl(const char* op, ncclResult_t r) {
  if (r != ncclSuccess) fail(ErrorKind::Runtime, op, "NCCL error ", r, ": ", g_api.GetErrorString(r));
}

void check_cuda(const char* op, cudaError_t e) {
  if (e != cudaSuccess) fail(ErrorKind::Runtime, op, "CUDA error: ", cudaGetErrorString(e));
}

template <typename F>
void bind_symbol(void* lib, const char* name, F& fn, const std::string& path) {
  void* sym = dlsym(lib, name);
  if (!sym) fail(ErrorKind::Runtime, "nccl", path, " has no symbol ", name, ": it is not NCCL 2.10 or newer");
  fn = reinterpret_cast<F>(sym);
}

// The NCCL type a reduction of `dt` runs in (int16 and bool are staged by gradcore.distributed).
ncclDataType_t reduce_type(DType dt, const char* op) {
  switch (dt) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Float16: return ncclFloat16;
    case DType::BFloat16: return ncclBfloat16;
    case DType::Int64: return ncclInt64;
    case DType::Int32: return ncclInt32;
    case DType::Int8: return ncclInt8;
    case DType::UInt8: return ncclUint8;
    case DType::Int16:
    case DType::Bool: break;
  }
  fail(ErrorKind::Type, op, "NCCL cannot reduce ", dtype_name(dt), " tensors. Hint: reduce an int32 (or uint8) copy.");
}

ncclRedOp_t reduce_op(int op, const char* name) {
  switch (op) {
    case static_cast<int>(ReduceOp::Sum): return ncclSum;
    case static_cast<int>(ReduceOp::Avg): return ncclAvg;
    case static_cast<int>(ReduceOp::Product): return ncclProd;
    case static_cast<int>(ReduceOp::Min): return ncclMin;
    case static_cast<int>(ReduceOp::Max): return ncclMax;
    default: break;  // an int from Python, not an enum: the bitwise ops have no NCCL twin
  }
  fail(ErrorKind::Value, name, "NCCL has no such reduction (ReduceOp value ", op, "); it has SUM, AVG, PRODUCT, MIN, MAX");
}

size_t nbytes(const Tensor& t) { return static_cast<size_t>(t.numel()) * t.itemsize(); }

}  // namespace

void load(const std::string& path) {
  if (g_loaded) return;
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) fail(ErrorKind::Runtime, "nccl", "cannot load ", path, ": ", dlerror());
  Api a{};
  bind_symbol(lib, "ncclGetErrorString", a.GetErrorString, path);
  bind_symbol(lib, "ncclGetVersion", a.GetVersion, path);
  bind_symbol(lib, "ncclGetUniqueId", a.GetUniqueId, path);
  bind_symbol(lib, "ncclCommInitRank", a.CommInitRank, path);
  bind_symbol(lib, "ncclCommDestroy", a.CommDestroy, path);
  bind_symbol(lib, "ncclAllReduce", a.AllReduce, path);
  bind_symbol(lib, "ncclBroadcast", a.Broadcast, path);
  bind_symbol(lib, "ncclReduce", a.Reduce, path);
  bind_symbol(lib, "ncclAllGather", a.AllGather, path);
  bind_symbol(lib, "ncclReduceScatter", a.ReduceScatter, path);
  bind_symbol(lib, "ncclSend", a.Send, path);
  bind_symbol(lib, "ncclRecv", a.Recv, path);
  g_api = a;
  g_loaded = true;  // the library stays loaded for the life of the process
}

bool loaded() { return g_loaded; }

int version() {
  int v = 0;
  check_nccl("nccl.version", api("nccl.version").GetVersion(&v));
  return v;
}

std::string unique_id() {
  ncclUniqueId id;
  check_nccl("nccl.unique_id", api("nccl.unique_id").GetUniqueId(&id));
  return std::string(id.internal, kUniqueIdBytes);
}

Event::Event(int device) {
  DeviceGuard guard(Device{DeviceType::CUDA, device});
  cudaEvent_t e;
  check_cuda("nccl event", cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  event_ = e;
  check_cuda("nccl event", cudaEventRecord(e, kStream));
}

Event::~Event() { cudaEventDestroy(static_cast<cudaEvent_t>(event_)); }

bool Event::query() const {
  cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event_));
  if (e == cudaErrorNotReady) return false;
  check_cuda("Work.is_completed", e);
  return true;
}

void Event::synchronize() const { check_cuda("Work.synchronize", cudaEventSynchronize(static_cast<cudaEvent_t>(event_))); }

Comm::Comm(const std::string& id, int nranks, int rank, int device) : device_(device), nranks_(nranks) {
  const Api& a = api("nccl.init");
  if (id.size() != kUniqueIdBytes)
    fail(ErrorKind::Value, "nccl.init", "a unique id has ", kUniqueIdBytes, " bytes, got ", id.size());
  if (rank < 0 || rank >= nranks)
    fail(ErrorKind::Value, "nccl.init", "rank ", rank, " is outside a communicator of ", nranks, " ranks");
  ncclUniqueId uid;
  std::memcpy(uid.internal, id.data(), kUniqueIdBytes);
  DeviceGuard guard(Device{DeviceType::CUDA, device});
  ncclComm_t c = nullptr;
  check_nccl("nccl.init", a.CommInitRank(&c, nranks, uid, rank));
  comm_ = c;
}

void Comm::check(const TensorPtr& t, const char* op) const {
  if (!comm_) fail(ErrorKind::Runtime, op, "the NCCL communicator was destroyed (destroy_process_group)");
  if (t->device.type != DeviceType::CUDA || t->device.norm_index() != device_)
    fail(ErrorKind::Runtime, op, "the group's NCCL communicator is on cuda:", device_, " but the tensor is on ",
         t->device.str(), ". Hint: one GPU per rank: call gradcore.cuda.set_device(local_rank) before the first "
         "collective.");
  if (!t->is_contiguous())
    fail(ErrorKind::Runtime, op, "NCCL needs a contiguous tensor, got strides ", shape_str(t->strides),
         ". Hint: pass t.contiguous() and copy the result back.");
}

EventPtr Comm::done() const { return std::make_shared<Event>(device_); }

EventPtr Comm::all_reduce(const TensorPtr& t, int op) {
  check(t, "all_reduce");
  DeviceGuard guard(t->device);
  if (t->numel())
    check_nccl("all_reduce", api("all_reduce").AllReduce(t->data(), t->data(), static_cast<size_t>(t->numel()),
               reduce_type(t->dtype, "all_reduce"), reduce_op(op, "all_reduce"), comm_, kStream));
  return done();
}

EventPtr Comm::broadcast(const TensorPtr& t, int root) {
  check(t, "broadcast");
  DeviceGuard guard(t->device);
  if (t->numel())
    check_nccl("broadcast", api("broadcast").Broadcast(t->data(), t->data(), nbytes(*t), ncclUint8, root, comm_, kStream));
  return done();
}

EventPtr Comm::reduce(const TensorPtr& t, int op, int root) {
  check(t, "reduce");
  DeviceGuard guard(t->device);
  if (t->numel())
    check_nccl("reduce", api("reduce").Reduce(t->data(), t->data(), static_cast<size_t>(t->numel()),
               reduce_type(t->dtype, "reduce"), reduce_op(op, "reduce"), root, comm_, kStream));
  return done();
}

EventPtr Comm::all_gather(const TensorPtr& out, const TensorPtr& in) {
  check(out, "all_gather_into_tensor");
  check(in, "all_gather_into_tensor");
  if (out->dtype != in->dtype || out->numel() != in->numel() * nranks_)
    fail(ErrorKind::Runtime, "all_gather_into_tensor", "the output must have world_size (", nranks_,
         ") times the input's elements and its dtype, got ", shape_str(out->shape), " ", dtype_name(out->dtype),
         " for ", shape_str(in->shape), " ", dtype_name(in->dtype));
  DeviceGuard guard(in->device);
  if (in->numel())
    check_nccl("all_gather_into_tensor", api("all_gather").AllGather(in->data(), out->data(), nbytes(*in), ncclUint8,
               comm_, kStream));
  return done();
}

EventPtr Comm::reduce_scatter(const TensorPtr& out, const TensorPtr& in, int op) {
  check(out, "reduce_scatter_tensor");
  check(in, "reduce_scatter_tensor");
  if (out->dtype != in->dtype || in->numel() != out->numel() * nranks_)
    fail(ErrorKind::Runtime, "reduce_scatter_tensor", "the input must have world_size (", nranks_,
         ") times the output's elements and its dtype, got ", shape_str(in->shape), " ", dtype_name(in->dtype),
         " for ", shape_str(out->shape), " ", dtype_name(out->dtype));
  DeviceGuard guard(in->device);
  if (out->numel())
    check_nccl("reduce_scatter_tensor", api("reduce_scatter").ReduceScatter(in->data(), out->data(),
               static_cast<size_t>(out->numel()), reduce_type(in->dtype, "reduce_scatter_tensor"),
               reduce_op(op, "reduce_scatter_tensor"), comm_, kStream));
  return done();
}

EventPtr Comm::send(const TensorPtr& t, int peer) {
  check(t, "send");
  DeviceGuard guard(t->device);
  if (t->numel()) check_nccl("send", api("send").Send(t->data(), nbytes(*t), ncclUint8, peer, comm_, kStream));
  return done();
}

EventPtr Comm::recv(const TensorPtr& t, int peer) {
  check(t, "recv");
  DeviceGuard guard(t->device);
  if (t->numel()) check_nccl("recv", api("recv").Recv(t->data(), nbytes(*t), ncclUint8, peer, comm_, kStream));
  return done();
}

void Comm::destroy() {
  if (!comm_) return;
  DeviceGuard guard(Device{DeviceType::CUDA, device_});
  ncclComm_t c = static_cast<ncclComm_t>(comm_);
  comm_ = nullptr;
  check_nccl("destroy_process_group", api("destroy_process_group").CommDestroy(c));
}

}  // namespace gc::cuda::nccl
