#include "core/autocast.h"

namespace gc {

namespace {
// Index 0: cpu, 1: cuda. PyTorch's defaults: bfloat16 on the CPU, float16 on CUDA.
thread_local bool t_on[2] = {false, false};
thread_local DType t_dtype[2] = {DType::BFloat16, DType::Float16};
int slot(DeviceType d) { return d == DeviceType::CPU ? 0 : 1; }
}  // namespace

bool Autocast::enabled(DeviceType d) { return t_on[slot(d)]; }
DType Autocast::dtype(DeviceType d) { return t_dtype[slot(d)]; }
void Autocast::set(DeviceType d, bool on, DType dtype) {
  t_on[slot(d)] = on;
  t_dtype[slot(d)] = dtype;
}
bool Autocast::any() { return t_on[0] || t_on[1]; }

}  // namespace gc
