// Autocast's state (torch.autocast): per thread and device type, whether it is on and the lower
// precision dtype it casts to. The ops on autocast's lists read it (ops/autocast.cpp).
#pragma once
#include "core/dtype.h"

namespace gc {

struct Autocast {
  static bool enabled(DeviceType d);
  static DType dtype(DeviceType d);
  static void set(DeviceType d, bool on, DType dtype);
  static bool any();  // on for some device type: the ops' one-branch fast check
};

}  // namespace gc
