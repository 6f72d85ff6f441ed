// NCCL collectives on CUDA tensors for gradcore.distributed's "nccl" backend (nccl.cpp).
//
// gradcore is built without NCCL: nccl.cpp declares the handful of NCCL types and entry points it
// calls (their ABI has been stable since NCCL 2.10) and loads libnccl.so.2 with dlopen at run
// time, so one build runs with or without NCCL installed (the nvidia-nccl-cu12/cu13 wheels ship
// it). Operations take contiguous tensors on the communicator's device and run on the legacy
// default stream, where gradcore's kernels run: they are ordered after the kernels that produced
// their inputs and before any that read their outputs. Each returns an event recorded after it.
// Host code only; compiled only in CUDA builds (GRADCORE_CUDA).
#pragma once
#include <memory>
#include <string>
#include "core/tensor.h"

namespace gc::cuda::nccl {

// Loads NCCL from `path` (a file name the loader searches, or a full path); RuntimeError with the
// loader's message when it cannot. Loading twice is a no-op.
void load(const std::string& path);
bool loaded();
int version();                // NCCL's version code, e.g. 22105 for 2.21.5
std::string unique_id();      // a new communicator id (NCCL_UNIQUE_ID_BYTES bytes) for rank 0 to send

// The reductions, numbered as gradcore.distributed.ReduceOp's (Python passes op.value).
enum class ReduceOp : int { Sum = 0, Avg = 1, Product = 2, Min = 3, Max = 4 };

// Marks a point on the stream: query() says whether the GPU has passed it, synchronize() waits.
class Event {
 public:
  explicit Event(int device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  bool query() const;
  void synchronize() const;

 private:
  void* event_ = nullptr;  // cudaEvent_t
};
using EventPtr = std::shared_ptr<Event>;

// One rank's NCCL communicator on one device; made by every rank of the group together.
class Comm {
 public:
  Comm(const std::string& id, int nranks, int rank, int device);
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  EventPtr all_reduce(const TensorPtr& t, int op);                       // in place
  EventPtr broadcast(const TensorPtr& t, int root);                      // in place
  EventPtr reduce(const TensorPtr& t, int op, int root);                 // in place, on root
  EventPtr all_gather(const TensorPtr& out, const TensorPtr& in);        // out: nranks * in.numel()
  EventPtr reduce_scatter(const TensorPtr& out, const TensorPtr& in, int op);  // in: nranks * out.numel()
  EventPtr send(const TensorPtr& t, int peer);
  EventPtr recv(const TensorPtr& t, int peer);
  // Frees the communicator (every rank together). A communicator never destroyed is left to the
  // process's exit: tearing it down then could wait on peers that are gone.
  void destroy();

 private:
  void check(const TensorPtr& t, const char* op) const;
  EventPtr done() const;

  void* comm_ = nullptr;  // ncclComm_t
  int device_, nranks_;
};

}  // namespace gc::cuda::nccl
