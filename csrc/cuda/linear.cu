// Linear's backward helpers on CUDA, the twins of csrc/cpu/linear.cpp: the bias gradient
// db[j] = sum_i g[i, j] and its fused ReLU variant, which also writes the masked gradient
// gm[i, j] = y[i, j] > 0 ? g[i, j] : 0. Sums accumulate in double, as on the CPU.
//
// The trick: a 2-D block, threadIdx.x over bx neighbouring columns and threadIdx.y splitting the
// rows (stride by); each column's by partial sums are merged by a tree in shared memory. Row-major
// g (unit column stride) gets 32 columns per warp row, so loads and the gm stores coalesce; a
// column-major g gets its rows across the threads instead. When the columns are too few to fill
// the GPU the rows are also split across blockIdx.y: each slice writes a double partial row, and a
// second launch of the same kernel sums the partial rows (double in, the tensor's dtype out).
// Without a bias gradient the mask is a plain elementwise kernel.
#include "cuda/linear.h"
#include <cuda_runtime.h>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

// A [rows, cols] matrix to sum down its columns; with Mask, y selects (y > 0) and the selected
// values are also stored to gm (contiguous [rows, cols]).
template <typename In>
struct ColSrc {
  const In* g;
  int64_t grs, gcs;
  const In* y;
  int64_t yrs, ycs;
  In* gm;
  int64_t rows, cols;
};

// Output of a launch: part[blockIdx.y * cols + j] (double partial rows) when part is non-null,
// else out[j].
template <typename Out>
struct ColDst {
  double* part;
  Out* out;
};

template <typename In, typename Out, bool Mask>
__global__ void __launch_bounds__(kBlock) column_sum_kernel(ColSrc<In> s, ColDst<Out> d, int64_t rchunk) {
  __shared__ double sh[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * rchunk;
  const int64_t i1 = rchunk < s.rows - i0 ? i0 + rchunk : s.rows;
  // The loop over column groups is uniform across the block, so the barriers are too.
  for (int64_t jb = static_cast<int64_t>(blockIdx.x) * bx; jb < s.cols; jb += static_cast<int64_t>(gridDim.x) * bx) {
    const int64_t j = jb + tx;
    double acc = 0.0;
    if (j < s.cols) {
      for (int64_t i = i0 + ty; i < i1; i += by) {
        In v = s.g[i * s.grs + j * s.gcs];
        if constexpr (Mask) {
          const In yv = s.y[i * s.yrs + j * s.ycs];
          v = yv > In(0) ? v : In(0);
          s.gm[i * s.cols + j] = v;
        }
        acc += static_cast<double>(v);
      }
    }
    if (by > 1) {
      double* mine = sh + ty * bx + tx;
      *mine = acc;
      __syncthreads();
      for (int h = by >> 1; h > 0; h >>= 1) {
        if (ty < h) {
          acc += mine[h * bx];
          *mine = acc;
        }
        __syncthreads();
      }
    }
    if (ty == 0 && j < s.cols) {
      if (d.part) d.part[static_cast<int64_t>(blockIdx.y) * s.cols + j] = acc;
      else d.out[j] = static_cast<Out>(acc);
    }
  }
}

template <typename T>
__global__ void relu_mask_kernel(const T* g, int64_t grs, int64_t gcs, const T* y, int64_t yrs, int64_t ycs,
                                 T* gm, int64_t M, int64_t N) {
  const int64_t n = M * N;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = idx / N, j = idx - i * N;
    const T gv = g[i * grs + j * gcs], yv = y[i * yrs + j * ycs];
    gm[idx] = yv > T(0) ? gv : T(0);
  }
}

// Block shape for summing `rows` x `cols` with the given strides: columns across threadIdx.x
// unless the rows are the unit-stride direction.
void block_shape(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int& bx, int& by) {
  if (rs == 1 && cs != 1) {
    by = pow2_cap(rows, kBlock);
    bx = pow2_cap(cols, kBlock / by);
  } else {
    bx = pow2_cap(cols, 32);
    by = pow2_cap(rows, kBlock / bx);
    bx = pow2_cap(cols, kBlock / by);
  }
}

constexpr int64_t kMaxGridX = 65535LL * 8;
constexpr int64_t kMinPerThread = 16;
constexpr int64_t kMaxSlices = 1024;

template <typename In, typename Out, bool Mask>
void launch_columns(const ColSrc<In>& s, const ColDst<Out>& d, int bx, int by, int64_t slices, int64_t rchunk,
                    const char* op) {
  const int64_t cblocks = (s.cols + bx - 1) / bx;
  const dim3 grid(static_cast<unsigned>(cblocks < kMaxGridX ? cblocks : kMaxGridX), static_cast<unsigned>(slices));
  column_sum_kernel<In, Out, Mask><<<grid, dim3(bx, by)>>>(s, d, rchunk);
  check_launch(op);
}

// db[j] = sum over the rows of s (masked with y when Mask); db has s.cols elements.
template <typename T, bool Mask>
void column_sums(const ColSrc<T>& s, T* db, const char* op) {
  if (s.cols == 0) return;
  int bx, by;
  block_shape(s.rows, s.cols, s.grs, s.gcs, bx, by);
  const int64_t cblocks = (s.cols + bx - 1) / bx, target = 8LL * sm_count();
  int64_t slices = 1;
  if (cblocks < target) {
    slices = (target + cblocks - 1) / cblocks;
    const int64_t by_work = s.rows / (static_cast<int64_t>(by) * kMinPerThread);
    if (by_work < slices) slices = by_work;
    if (slices > kMaxSlices) slices = kMaxSlices;
    if (slices < 1) slices = 1;
  }
  if (slices == 1) return launch_columns<T, T, Mask>(s, ColDst<T>{nullptr, db}, bx, by, 1, s.rows, op);

  int64_t rchunk = (s.rows + slices - 1) / slices;
  slices = (s.rows + rchunk - 1) / rchunk;  // no empty slice
  DeviceBuffer buf(sizeof(double) * static_cast<size_t>(slices) * static_cast<size_t>(s.cols));
  double* part = static_cast<double*>(buf.ptr);
  launch_columns<T, T, Mask>(s, ColDst<T>{part, nullptr}, bx, by, slices, rchunk, op);
  // Sum the partial rows: a contiguous [slices, cols] double matrix.
  ColSrc<double> q{part, s.cols, 1, nullptr, 0, 0, nullptr, slices, s.cols};
  int qbx, qby;
  block_shape(slices, s.cols, s.cols, 1, qbx, qby);
  launch_columns<double, T, false>(q, ColDst<T>{nullptr, db}, qbx, qby, 1, slices, op);
}

}  // namespace

void column_sum(const Tensor& g, const Tensor& db) {
  GC_DISPATCH_FLOAT(g.dtype, "linear_backward", [&] {
    using T = scalar_t;
    ColSrc<T> s{g.data_as<T>(), g.strides[0], g.strides[1], nullptr, 0, 0, nullptr, g.shape[0], g.shape[1]};
    column_sums<T, false>(s, db.data_as<T>(), "linear_backward");
  });
}

void relu_mask_column_sum(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db) {
  const char* op = "linear_relu_backward";
  GC_DISPATCH_FLOAT(g.dtype, op, [&] {
    using T = scalar_t;
    const int64_t M = g.shape[0], N = g.shape[1];
    if (db) {
      ColSrc<T> s{g.data_as<T>(), g.strides[0], g.strides[1], y.data_as<T>(), y.strides[0], y.strides[1],
                  gm.data_as<T>(), M, N};
      column_sums<T, true>(s, db->data_as<T>(), op);
      return;
    }
    const int64_t n = M * N;
    if (n == 0) return;
    relu_mask_kernel<T><<<grid_for(n), kBlock>>>(g.data_as<T>(), g.strides[0], g.strides[1], y.data_as<T>(),
                                                 y.strides[0], y.strides[1], gm.data_as<T>(), M, N);
    check_launch(op);
  });
}

}  // namespace gc::cuda
