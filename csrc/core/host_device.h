// GC_HOST_DEVICE marks small functions that both backends call: compiled for the GPU too when
// nvcc compiles the including file, plain inline C++ otherwise.
#pragma once

#if defined(__CUDACC__)
#define GC_HOST_DEVICE __host__ __device__
#else
#define GC_HOST_DEVICE
#endif
