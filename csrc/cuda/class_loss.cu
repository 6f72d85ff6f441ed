// The fused class losses on CUDA, with the CPU kernels' numerics (cpu/class_loss.cpp):
// cross_entropy with class-index or class-probability targets, and nll_loss.
//
// The forward makes the softmax passes per row (max, sum of exp, then the row's loss from the
// log-sum-exp, never materialising log_softmax), stores each row's max and log-sum to `stats`
// for the backward, which rebuilds softmax as exp((x - max) - logsum) and writes the gradient in
// one pass. Rows go to a thread, a warp or a block (cuda/softmax_rows.cuh).
//
// The LossSums the forwards return are host doubles. Each group's lane 0 adds its rows' losses
// and weights in double; every block reduces them to one pair in a fixed tree, a one-block
// kernel sums the blocks' pairs in a fixed order, and the pair is copied to the host: the
// result depends only on the shape (no atomics), so it is the same on every run.
// The weight gradient of the probability-target backward is a column sum over rows: partial sums
// over fixed chunks of rows, then a per-class reduction over the chunks, again without atomics.
#include "cuda/class_loss.h"
#include "cuda/softmax_rows.cuh"

namespace gc::cuda {

namespace {

using namespace rows;

// ------------------------------------------------------------------ loss sums

// Adds this thread's (loss, weight) into the block's pair partials[2 * blockIdx.x + {0, 1}]. Only
// lane 0 of each group counts (the other lanes of a group hold copies). Every thread of the block
// must call it.
template <int G>
__device__ __forceinline__ void store_block_sums(double loss, double weight, double* partials) {
  if (Group<G>::lane() != 0) loss = weight = 0;
  loss = block_reduce(loss, SumOp{}, 0.0, scratch<double>());
  weight = block_reduce(weight, SumOp{}, 0.0, scratch<double>());
  if (threadIdx.x == 0) {
    partials[2 * blockIdx.x] = loss;
    partials[2 * blockIdx.x + 1] = weight;
  }
}

// out[0..1] = the sums of the n pairs. One block.
__global__ void __launch_bounds__(kRowBlock) sum_pairs_kernel(const double* partials, int64_t n, double* out) {
  double l = 0, w = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    l += partials[2 * i];
    w += partials[2 * i + 1];
  }
  l = block_reduce(l, SumOp{}, 0.0, scratch<double>());
  w = block_reduce(w, SumOp{}, 0.0, scratch<double>());
  if (threadIdx.x == 0) {
    out[0] = l;
    out[1] = w;
  }
}

// Device scratch for a forward launched with `blocks` blocks: the blocks' pairs, then the total.
struct SumBuffer {
  TensorPtr t;
  unsigned blocks;
  double* partials() const { return t->data_as<double>(); }
  double* total() const { return t->data_as<double>() + 2 * static_cast<int64_t>(blocks); }
};

SumBuffer sum_buffer(unsigned blocks, Device dev) {
  SumBuffer b;
  b.blocks = blocks;
  b.t = empty_tensor({2 * static_cast<int64_t>(blocks) + 2}, DType::Float64, dev);
  return b;
}

// Reduces the blocks' pairs and reads the total back (synchronises).
LossSums finish_sums(const SumBuffer& b, Device dev, const char* op) {
  sum_pairs_kernel<<<1, kRowBlock>>>(b.partials(), static_cast<int64_t>(b.blocks), b.total());
  check_launch(op);
  double h[2] = {0, 0};
  copy_bytes(h, Device{}, b.total(), dev, sizeof(h));
  LossSums s;
  s.loss = h[0];
  s.weight = h[1];
  return s;
}

// *out = sum_c w[c] in double. One block.
template <typename T>
__global__ void __launch_bounds__(kRowBlock) sum_weights_kernel(const T* w, int64_t C, double* out) {
  double s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += static_cast<double>(w[c]);
  s = block_reduce(s, SumOp{}, 0.0, scratch<double>());
  if (threadIdx.x == 0) *out = s;
}

// What every class-loss kernel takes besides its arrays.
struct LossArgs {
  Layout L;
  int64_t R;
  int64_t ignore_index;
  double eps;  // label smoothing
};

LossArgs loss_args(const ClassLossSpec& sp) {
  return LossArgs{device_layout(sp.L), sp.L.rows(), sp.ignore_index, sp.smoothing};
}

template <typename T>
const T* weight_ptr(const ClassLossSpec& sp) {
  return sp.weight ? sp.weight->data_as<T>() : nullptr;
}

template <typename T>
T* rows_ptr(const Tensor* rows_out) {
  return rows_out ? rows_out->data_as<T>() : nullptr;
}

// ------------------------------------------------------------ cross-entropy, index targets

// loss_r = (1 - eps) * (-w_y lp_y) + eps / C * (-sum_c w_c lp_c), lp = x - lse. Ignored rows get
// zero stats, loss and weight.
template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_forward_kernel(const T* x, const int64_t* tgt, const T* w, LossArgs a, double* st, T* rows_out,
                      double* partials) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = a.L.C, cs = a.L.inner;
  double lsum = 0, wsum = 0;
  for (int64_t r = Gr::first(); r < a.R; r += Gr::step()) {
    const int64_t y = tgt[r];
    if (y == a.ignore_index) {
      if (lane == 0) {
        st[2 * r] = st[2 * r + 1] = 0;
        if (rows_out) rows_out[r] = T(0);
      }
      continue;
    }
    const T* xr = x + a.L.base(r);
    T m;
    double s;
    row_max_sum_exp<G>(xr, C, cs, m, s);
    const T ls = static_cast<T>(::log(s));
    const double lse = static_cast<double>(m) + static_cast<double>(ls);
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    double loss = -wy * (static_cast<double>(xr[y * cs]) - lse);
    if (a.eps > 0) {
      // smooth = -sum_c w_c log_softmax_c: the cross-entropy against the uniform distribution
      double sm = 0;
      for (int64_t c = lane; c < C; c += n)
        sm += (w ? static_cast<double>(w[c]) : 1.0) * (static_cast<double>(xr[c * cs]) - lse);
      sm = Gr::all_reduce(sm, SumOp{}, 0.0);
      loss = (1.0 - a.eps) * loss - a.eps / static_cast<double>(C) * sm;
    }
    if (lane == 0) {
      st[2 * r] = static_cast<double>(m);
      st[2 * r + 1] = static_cast<double>(ls);
      if (rows_out) rows_out[r] = static_cast<T>(loss);
      lsum += loss;
      wsum += wy;
    }
  }
  store_block_sums<G>(lsum, wsum, partials);
}

// gx = g_r * scale * [(1 - eps) w_y (p - onehot_y) + eps / C (p * sum(w) - w)]
//    = k p - b w - a onehot_y, with p = exp((x - m) - ls); zero on ignored rows.
// wall_dev: the device sum of the weights, or null to use wall_host (no weight: C).
template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_backward_kernel(T* gx, const T* x, const int64_t* tgt, const T* w, const double* wall_dev, double wall_host,
                       LossArgs a, const double* st, const T* g, int64_t gs, double scale) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = a.L.C, cs = a.L.inner;
  const double wall = wall_dev ? *wall_dev : wall_host;
  const bool smooth_w = w && a.eps > 0;
  for (int64_t r = Gr::first(); r < a.R; r += Gr::step()) {
    const int64_t b0 = a.L.base(r);
    T* out = gx + b0;
    const int64_t y = tgt[r];
    if (y == a.ignore_index) {
      for (int64_t c = lane; c < C; c += n) out[c * cs] = T(0);
      continue;
    }
    const T* xr = x + b0;
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(g[r * gs]) * scale;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    const double ad = s * (1.0 - a.eps) * wy, bd = s * a.eps / static_cast<double>(C);
    const T k = static_cast<T>(ad + bd * wall), bt = static_cast<T>(bd), at = static_cast<T>(ad);
    for (int64_t c = lane; c < C; c += n) {
      T v = k * dexp((xr[c * cs] - m) - ls) - bt * (smooth_w ? w[c] : T(1));
      if (c == y) v -= at;
      out[c * cs] = v;
    }
  }
}

// --------------------------------------------------------- cross-entropy, probability targets

// loss_r = -sum_c w_c t'_c (x_c - lse), t' = keep * t + spread. No row is ignored; the weight
// sum stays 0 (the mean divides by the number of rows).
template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_prob_forward_kernel(const T* x, const T* t, const T* w, LossArgs a, double keep, double spread, double* st,
                           T* rows_out, double* partials) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = a.L.C, cs = a.L.inner;
  double lsum = 0;
  for (int64_t r = Gr::first(); r < a.R; r += Gr::step()) {
    const int64_t b0 = a.L.base(r);
    const T *xr = x + b0, *tr = t + b0;
    T m;
    double s;
    row_max_sum_exp<G>(xr, C, cs, m, s);
    const T ls = static_cast<T>(::log(s));
    const double lse = static_cast<double>(m) + static_cast<double>(ls);
    double acc = 0;
    for (int64_t c = lane; c < C; c += n) {
      const double tc = keep * static_cast<double>(tr[c * cs]) + spread, wc = w ? static_cast<double>(w[c]) : 1.0;
      acc += wc * tc * (static_cast<double>(xr[c * cs]) - lse);
    }
    const double loss = 0.0 - Gr::all_reduce(acc, SumOp{}, 0.0);
    if (lane == 0) {
      st[2 * r] = static_cast<double>(m);
      st[2 * r + 1] = static_cast<double>(ls);
      if (rows_out) rows_out[r] = static_cast<T>(loss);
      lsum += loss;
    }
  }
  store_block_sums<G>(lsum, 0.0, partials);
}

// With lp = (x - m) - ls and tw = sum_c w_c t'_c:
//   gx_c = s (exp(lp_c) tw - w_c t'_c),   gt_c = -s keep w_c lp_c        (s = g_r * scale)
template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_prob_backward_kernel(T* gx, T* gt, const T* x, const T* t, const T* w, LossArgs a, double keep, double spread,
                            const double* st, const T* g, int64_t gs, double scale) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = a.L.C, cs = a.L.inner;
  for (int64_t r = Gr::first(); r < a.R; r += Gr::step()) {
    const int64_t b0 = a.L.base(r);
    const T *xr = x + b0, *tr = t + b0;
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(g[r * gs]) * scale;
    double tw = 0;
    for (int64_t c = lane; c < C; c += n)
      tw += (w ? static_cast<double>(w[c]) : 1.0) * (keep * static_cast<double>(tr[c * cs]) + spread);
    tw = Gr::all_reduce(tw, SumOp{}, 0.0);
    for (int64_t c = lane; c < C; c += n) {
      const T lp = (xr[c * cs] - m) - ls;
      const double wc = w ? static_cast<double>(w[c]) : 1.0, tc = keep * static_cast<double>(tr[c * cs]) + spread;
      if (gx) gx[b0 + c * cs] = static_cast<T>(s * (static_cast<double>(dexp(lp)) * tw - wc * tc));
      if (gt) gt[b0 + c * cs] = static_cast<T>(-s * keep * wc * static_cast<double>(lp));
    }
  }
}

// The weight gradient, part 1: part[k * C + c] = -sum over the rows of chunk k of s_r t'_rc lp_rc.
template <typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_prob_gw_partial_kernel(double* part, const T* x, const T* t, LossArgs a, int64_t chunk_rows, int64_t chunks,
                              double keep, double spread, const double* st, const T* g, int64_t gs, double scale) {
  const int64_t C = a.L.C, total = chunks * C;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = i / C, c = i % C;
    const int64_t r0 = k * chunk_rows, r1 = r0 + chunk_rows < a.R ? r0 + chunk_rows : a.R;
    double acc = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t e = a.L.base(r) + c * a.L.inner;
      const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
      const double s = static_cast<double>(g[r * gs]) * scale;
      const double tc = keep * static_cast<double>(t[e]) + spread;
      const T lp = (x[e] - m) - ls;
      acc -= s * tc * static_cast<double>(lp);
    }
    part[i] = acc;
  }
}

// Part 2: gw[c] = sum_k part[k * C + c], a block per class.
template <typename T>
__global__ void __launch_bounds__(kRowBlock)
    ce_prob_gw_finish_kernel(T* gw, const double* part, int64_t chunks, int64_t C) {
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double s = 0;
    for (int64_t k = threadIdx.x; k < chunks; k += blockDim.x) s += part[k * C + c];
    s = block_reduce(s, SumOp{}, 0.0, scratch<double>());
    if (threadIdx.x == 0) gw[c] = static_cast<T>(s);
  }
}

// ------------------------------------------------------------------------- nll_loss

// loss_r = -w_y logp[r, y] (0 where y == ignore_index). A thread per row.
template <typename T>
__global__ void __launch_bounds__(kRowBlock)
    nll_forward_kernel(const T* x, const int64_t* tgt, const T* w, LossArgs a, T* rows_out, double* partials) {
  double lsum = 0, wsum = 0;
  for (int64_t r = Group<1>::first(); r < a.R; r += Group<1>::step()) {
    const int64_t y = tgt[r];
    double loss = 0;
    if (y != a.ignore_index) {
      const double wy = w ? static_cast<double>(w[y]) : 1.0;
      loss = -wy * static_cast<double>(x[a.L.base(r) + y * a.L.inner]);
      lsum += loss;
      wsum += wy;
    }
    if (rows_out) rows_out[r] = static_cast<T>(loss);
  }
  store_block_sums<1>(lsum, wsum, partials);
}

// gx[r, y] = -g_r * scale * w_y on a zeroed gx. A thread per row.
template <typename T>
__global__ void __launch_bounds__(kRowBlock)
    nll_backward_kernel(T* gx, const int64_t* tgt, const T* w, LossArgs a, const T* g, int64_t gs, double scale) {
  for (int64_t r = Group<1>::first(); r < a.R; r += Group<1>::step()) {
    const int64_t y = tgt[r];
    if (y == a.ignore_index) continue;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    gx[a.L.base(r) + y * a.L.inner] = static_cast<T>(-static_cast<double>(g[r * gs]) * scale * wy);
  }
}

}  // namespace

LossSums cross_entropy_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp, const Tensor& stats,
                               const Tensor* rows_out) {
  const int64_t R = sp.L.rows();
  if (R == 0) return LossSums{};
  return GC_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    const Plan p = plan_rows(sp.L);
    SumBuffer buf = sum_buffer(p.grid, x.device);
    with_group(p.group, [&](auto grp) {
      ce_forward_kernel<decltype(grp)::value, T><<<p.grid, kRowBlock>>>(
          x.data_as<T>(), target.data_as<int64_t>(), weight_ptr<T>(sp), loss_args(sp), stats.data_as<double>(),
          rows_ptr<T>(rows_out), buf.partials());
    });
    check_launch("cross_entropy");
    return finish_sums(buf, x.device, "cross_entropy");
  });
}

void cross_entropy_backward(const Tensor& gx, const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                            const Tensor& stats, const Tensor& g, int64_t g_stride, double scale) {
  if (sp.L.rows() == 0 || gx.numel() == 0) return;
  GC_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    const T* w = weight_ptr<T>(sp);
    TensorPtr wall;  // the sum of the class weights, on the device
    if (w) {
      wall = empty_tensor({1}, DType::Float64, x.device);
      sum_weights_kernel<T><<<1, kRowBlock>>>(w, sp.L.C, wall->data_as<double>());
      check_launch("cross_entropy_backward");
    }
    const Plan p = plan_rows(sp.L);
    with_group(p.group, [&](auto grp) {
      ce_backward_kernel<decltype(grp)::value, T><<<p.grid, kRowBlock>>>(
          gx.data_as<T>(), x.data_as<T>(), target.data_as<int64_t>(), w, wall ? wall->data_as<double>() : nullptr,
          static_cast<double>(sp.L.C), loss_args(sp), stats.data_as<double>(), g.data_as<T>(), g_stride, scale);
    });
    check_launch("cross_entropy_backward");
  });
}

LossSums cross_entropy_prob_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                                    const Tensor& stats, const Tensor* rows_out) {
  const int64_t R = sp.L.rows();
  if (R == 0) return LossSums{};
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(sp.L.C);
  return GC_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    const Plan p = plan_rows(sp.L);
    SumBuffer buf = sum_buffer(p.grid, x.device);
    with_group(p.group, [&](auto grp) {
      ce_prob_forward_kernel<decltype(grp)::value, T><<<p.grid, kRowBlock>>>(
          x.data_as<T>(), target.data_as<T>(), weight_ptr<T>(sp), loss_args(sp), keep, spread,
          stats.data_as<double>(), rows_ptr<T>(rows_out), buf.partials());
    });
    check_launch("cross_entropy");
    return finish_sums(buf, x.device, "cross_entropy");
  });
}

void cross_entropy_prob_backward(const Tensor* gx, const Tensor* gt, const Tensor* gw, const Tensor& x,
                                 const Tensor& target, const ClassLossSpec& sp, const Tensor& stats, const Tensor& g,
                                 int64_t g_stride, double scale) {
  const int64_t R = sp.L.rows(), C = sp.L.C;
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(C);
  GC_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    T* ox = gx ? gx->data_as<T>() : nullptr;
    T* ot = gt ? gt->data_as<T>() : nullptr;
    const T *xi = x.data_as<T>(), *ti = target.data_as<T>(), *gi = g.data_as<T>();
    const T* w = weight_ptr<T>(sp);
    const double* st = stats.data_as<double>();
    const LossArgs a = loss_args(sp);
    if ((ox || ot) && R > 0 && C > 0) {
      const Plan p = plan_rows(sp.L);
      with_group(p.group, [&](auto grp) {
        ce_prob_backward_kernel<decltype(grp)::value, T>
            <<<p.grid, kRowBlock>>>(ox, ot, xi, ti, w, a, keep, spread, st, gi, g_stride, scale);
      });
      check_launch("cross_entropy_backward");
    }
    if (gw && C > 0) {
      // Chunks of rows so that chunks * C is about 2^18 work items (at least one row a chunk).
      const int64_t target_chunks = ((int64_t(1) << 18) + C - 1) / C;
      int64_t chunks = R < target_chunks ? R : target_chunks;
      if (chunks < 1) chunks = 1;
      const int64_t chunk_rows = R > 0 ? (R + chunks - 1) / chunks : 0;
      if (R > 0) chunks = (R + chunk_rows - 1) / chunk_rows;
      auto part = empty_tensor({chunks * C}, DType::Float64, x.device);
      ce_prob_gw_partial_kernel<T><<<grid_for(chunks * C, kRowBlock), kRowBlock>>>(
          part->data_as<double>(), xi, ti, a, chunk_rows, chunks, keep, spread, st, gi, g_stride, scale);
      check_launch("cross_entropy_backward");
      const unsigned blocks = static_cast<unsigned>(C < kMaxRowBlocks ? C : kMaxRowBlocks);
      ce_prob_gw_finish_kernel<T><<<blocks, kRowBlock>>>(gw->data_as<T>(), part->data_as<double>(), chunks, C);
      check_launch("cross_entropy_backward");
    }
  });
}

LossSums nll_loss_forward(const Tensor& logp, const Tensor& target, const ClassLossSpec& sp, const Tensor* rows_out) {
  const int64_t R = sp.L.rows();
  if (R == 0) return LossSums{};
  return GC_DISPATCH_FLOAT(logp.dtype, "nll_loss", [&] {
    using T = scalar_t;
    const unsigned grid = row_blocks(R, 1);
    SumBuffer buf = sum_buffer(grid, logp.device);
    nll_forward_kernel<T><<<grid, kRowBlock>>>(logp.data_as<T>(), target.data_as<int64_t>(), weight_ptr<T>(sp),
                                               loss_args(sp), rows_ptr<T>(rows_out), buf.partials());
    check_launch("nll_loss");
    return finish_sums(buf, logp.device, "nll_loss");
  });
}

void nll_loss_backward(const Tensor& gx, const Tensor& target, const ClassLossSpec& sp, const Tensor& g,
                       int64_t g_stride, double scale) {
  if (gx.numel() == 0) return;
  GC_DISPATCH_FLOAT(gx.dtype, "nll_loss_backward", [&] {
    using T = scalar_t;
    memset_zero(gx.data(), gx.device, static_cast<size_t>(gx.numel()) * sizeof(T));
    const int64_t R = sp.L.rows();
    nll_backward_kernel<T><<<row_blocks(R, 1), kRowBlock>>>(gx.data_as<T>(), target.data_as<int64_t>(),
                                                            weight_ptr<T>(sp), loss_args(sp), g.data_as<T>(),
                                                            g_stride, scale);
    check_launch("nll_loss_backward");
  });
}

}  // namespace gc::cuda
