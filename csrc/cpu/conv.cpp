// Convolution on the CPU (layout in kernels/conv.h).
//
// im2col / col2im over a batch: work is split over (image, channel) planes: each plane of x fills
// its own kh*kw rows of cols, and each plane of dx gathers from its own rows, so threads never
// write the same memory and the sums are in a fixed order.
//
// The convolution itself (conv2d_forward / _input_grad / _weight_grad): threads take whole images;
// each builds one image's columns in its own buffer, runs that image's GEMMs on them
// single-threaded while they are in cache, adds the bias (or sums the bias gradient) on the
// output it just wrote, and moves on. One parallel region per call, no batch-sized columns
// buffer, no pass over memory besides the GEMMs'. The weight gradient sums per-thread partials in
// thread order, so a thread count gives one result.
#include "cpu/conv.h"
#include <algorithm>
#include <cstring>
#include "cpu/loops.h"
#include "cpu/matmul.h"

namespace gc::cpu {

namespace {

using kernels::ConvGeom;

// The output columns [x0, x1) whose input column x*sw - pw + jj (jj = j*dw) lies in [0, W).
inline void valid_range(int64_t ow, int64_t sw, int64_t pw, int64_t jj, int64_t W, int64_t& x0, int64_t& x1) {
  // x*sw + (jj - pw) >= 0  <=>  x >= ceil((pw - jj) / sw);  < W  <=>  x <= floor((W - 1 - jj + pw) / sw)
  const int64_t lo = pw - jj, hi = W - 1 - jj + pw;
  x0 = lo <= 0 ? 0 : (lo + sw - 1) / sw;
  x1 = hi < 0 ? 0 : std::min(ow, hi / sw + 1);
  if (x1 < x0) x1 = x0;
}

// rows: this plane's kh*kw rows of oh*ow columns each, ld elements apart.
template <typename T>
void im2col_plane(const T* xp, const ConvGeom& g, T* rows, int64_t ld) {
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      T* out = rows + (i * g.kw + j) * ld;
      int64_t x0, x1;
      valid_range(g.ow, g.sw, g.pw, j * g.dw, g.W, x0, x1);
      for (int64_t y = 0; y < g.oh; ++y) {
        T* o = out + y * g.ow;
        const int64_t iy = y * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.H) {
          std::fill(o, o + g.ow, T(0));
          continue;
        }
        const T* row = xp + iy * g.W;
        const int64_t off = j * g.dw - g.pw;  // input column of output column x: x * sw + off
        std::fill(o, o + x0, T(0));
        if (g.sw == 1 && x1 > x0) {
          std::memcpy(o + x0, row + (x0 + off), static_cast<size_t>(x1 - x0) * sizeof(T));
        } else {
          for (int64_t x = x0; x < x1; ++x) o[x] = row[x * g.sw + off];
        }
        std::fill(o + x1, o + g.ow, T(0));
      }
    }
}

template <typename T>
void col2im_plane(const T* rows, const ConvGeom& g, T* dxp, int64_t ld) {
  std::fill(dxp, dxp + g.H * g.W, T(0));
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* in = rows + (i * g.kw + j) * ld;
      int64_t x0, x1;
      valid_range(g.ow, g.sw, g.pw, j * g.dw, g.W, x0, x1);
      for (int64_t y = 0; y < g.oh; ++y) {
        const int64_t iy = y * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.H) continue;
        const T* c = in + y * g.ow;
        T* row = dxp + iy * g.W;
        const int64_t off = j * g.dw - g.pw;
        for (int64_t x = x0; x < x1; ++x) row[x * g.sw + off] += c[x];
      }
    }
}

// A 2-D strided view of t's storage (no autograd, no shared_ptr to a Tensor): what the GEMM reads.
struct View2d {
  Tensor t;
  View2d(const Tensor& base, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t offset) {
    t.shape = {rows, cols};
    t.strides = {rs, cs};
    t.offset = base.offset + offset;
    t.dtype = base.dtype;
    t.device = base.device;
    t.storage = base.storage;
  }
};

// Threads for image-level work: one per image at most, one when the whole is too small to share.
int image_threads(int64_t N, double flops) {
  const int64_t nt = std::min<int64_t>(get_num_threads(), N);
  return flops < 4.0 * (1 << 20) ? 1 : static_cast<int>(std::max<int64_t>(nt, 1));
}

// f(thread, first image, end image) for nt contiguous image ranges, in parallel.
template <typename F>
void split_images(int64_t N, int nt, const F& f) {
#ifdef GRADCORE_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      f(t, N * t / T, N * (t + 1) / T);
    }
    return;
  }
#endif
  f(0, int64_t(0), N);
}

double conv_flops(const ConvGeom& g, int64_t O, int64_t groups) {
  return 2.0 * static_cast<double>(g.N) * O * (g.rows() / groups) * g.cols();
}

// How the images are grouped: B images share one columns buffer [R, B*L] (row r, image b at
// r*B*L + b*L), so a small convolution's GEMMs see B*L columns instead of L. B keeps the buffer
// within about 512 KB (in cache between im2col and the GEMMs); B = 1 for a large image, whose
// GEMMs then read and write the batch tensors in place.
struct Plan {
  int64_t O, Og, R, Rg, L, B;
  int nt;
  Plan(const ConvGeom& g, int64_t O_, int64_t groups, size_t itemsize)
      : O(O_), Og(O_ / groups), R(g.rows()), Rg(g.rows() / groups), L(g.cols()) {
    const int64_t per_image = std::max<int64_t>(R * L * static_cast<int64_t>(itemsize), 1);
    B = std::clamp<int64_t>((int64_t(512) << 10) / per_image, 1, std::max<int64_t>(g.N, 1));
    nt = image_threads(g.N, conv_flops(g, O, groups));
    B = std::min<int64_t>(B, std::max<int64_t>(g.N / nt, 1));  // every thread gets whole chunks
  }
  int64_t cols_size() const { return R * B * L; }  // per thread
  int64_t tmp_size() const { return B > 1 ? O * B * L : 0; }  // [O, B*L] staging of out / gout
  // Group gi's [Og, ld] block of out or gout for the chunk starting at image n: the staging area
  // at tmp_off in buf when images share a buffer, the batch tensor itself when B == 1.
  View2d block(const Tensor& batch, const Tensor& buf, int64_t tmp_off, int64_t n, int64_t gi, int64_t ld) const {
    return B > 1 ? View2d(buf, Og, ld, ld, 1, tmp_off + gi * Og * ld)
                 : View2d(batch, Og, L, L, 1, (n * O + gi * Og) * L);
  }
};

// The columns of images [n, n + b) into cp, image k's at column k*L of rows ld = b*L apart.
template <typename T>
void im2col_chunk(const T* xp, const ConvGeom& g, int64_t n, int64_t b, T* cp) {
  const int64_t L = g.cols(), ld = b * L;
  for (int64_t k = 0; k < b; ++k)
    for (int64_t c = 0; c < g.C; ++c)
      im2col_plane(xp + ((n + k) * g.C + c) * g.H * g.W, g, cp + c * g.kh * g.kw * ld + k * L, ld);
}

// gout's images [n, n + b) ([O, L] each) staged side by side as [O, b*L] in tp.
template <typename T>
void stage_chunk(const T* gp, int64_t n, int64_t b, int64_t O, int64_t L, T* tp) {
  const int64_t ld = b * L;
  for (int64_t k = 0; k < b; ++k)
    for (int64_t r = 0; r < O; ++r)
      std::copy(gp + ((n + k) * O + r) * L, gp + ((n + k) * O + r + 1) * L, tp + r * ld + k * L);
}

// Each thread's columns buffer and staging area, in one allocation: thread t's start at t * per.
struct ThreadBuffers {
  int64_t per;
  TensorPtr buf;
  ThreadBuffers(const Plan& P, const Tensor& like)
      : per(P.cols_size() + P.tmp_size()), buf(empty_tensor({P.nt, per}, like.dtype, like.device)) {}
  int64_t cols_off(int t) const { return t * per; }
  int64_t tmp_off(int t, const Plan& P) const { return t * per + P.cols_size(); }
  template <typename T>
  T* at(int64_t off) const { return buf->data_as<T>() + off; }
};

// f(first image, count) over [n0, n1) in chunks of at most B.
template <typename F>
void chunks(int64_t n0, int64_t n1, int64_t B, const F& f) {
  for (int64_t n = n0; n < n1; n += B) f(n, std::min(B, n1 - n));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeom& g, int64_t groups,
                    const Tensor& out) {
  GC_DISPATCH_FLOAT(x.dtype, "conv2d", [&] {
    const Plan P(g, w.shape[0], groups, x.itemsize());
    const ThreadBuffers T(P, x);
    const Tensor& buf = *T.buf;
    const scalar_t* xp = x.data_as<scalar_t>();
    const scalar_t* bp = bias ? bias->data_as<scalar_t>() : nullptr;
    scalar_t* op = out.data_as<scalar_t>();
    split_images(g.N, P.nt, [&](int t, int64_t n0, int64_t n1) {
      const int64_t cols_off = T.cols_off(t), tmp_off = T.tmp_off(t, P);
      scalar_t* cp = T.at<scalar_t>(cols_off);
      scalar_t* tp = T.at<scalar_t>(tmp_off);
      chunks(n0, n1, P.B, [&](int64_t n, int64_t b) {
        const int64_t ld = b * P.L;  // columns of this chunk's buffer
        im2col_chunk(xp, g, n, b, cp);
        for (int64_t gi = 0; gi < groups; ++gi) {  // out_g (or its staging) = W_g @ cols_g
          View2d o = P.block(out, buf, tmp_off, n, gi, ld);
          View2d a(w, P.Og, P.Rg, P.Rg, 1, gi * P.Og * P.Rg), c(buf, P.Rg, ld, ld, 1, cols_off + gi * P.Rg * ld);
          gemm_kernel(o.t, a.t, c.t, 1.0, 0.0);
        }
        for (int64_t k = 0; k < b; ++k)  // unstage image k, adding the bias on the way
          for (int64_t r = 0; r < P.O; ++r) {
            scalar_t* dst = op + ((n + k) * P.O + r) * P.L;
            const scalar_t* src = P.B > 1 ? tp + r * ld + k * P.L : dst;
            const scalar_t v = bp ? bp[r] : scalar_t(0);
            if (src == dst && !bp) continue;
            for (int64_t l = 0; l < P.L; ++l) dst[l] = src[l] + v;
          }
      });
    });
  });
}

void conv2d_input_grad(const Tensor& gout, const Tensor& w, const ConvGeom& g, int64_t groups, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "conv2d_backward", [&] {
    const Plan P(g, w.shape[0], groups, dx.itemsize());
    const ThreadBuffers T(P, dx);
    const Tensor& buf = *T.buf;
    const scalar_t* gp = gout.data_as<scalar_t>();
    scalar_t* dp = dx.data_as<scalar_t>();
    split_images(g.N, P.nt, [&](int t, int64_t n0, int64_t n1) {
      const int64_t cols_off = T.cols_off(t), tmp_off = T.tmp_off(t, P);
      scalar_t* cp = T.at<scalar_t>(cols_off);
      scalar_t* tp = T.at<scalar_t>(tmp_off);
      chunks(n0, n1, P.B, [&](int64_t n, int64_t b) {
        const int64_t ld = b * P.L;
        if (P.B > 1) stage_chunk(gp, n, b, P.O, P.L, tp);
        for (int64_t gi = 0; gi < groups; ++gi) {  // d cols_g = W_g^T @ g_g
          View2d c(buf, P.Rg, ld, ld, 1, cols_off + gi * P.Rg * ld), a(w, P.Rg, P.Og, 1, P.Rg, gi * P.Og * P.Rg);
          View2d gg = P.block(gout, buf, tmp_off, n, gi, ld);
          gemm_kernel(c.t, a.t, gg.t, 1.0, 0.0);
        }
        for (int64_t k = 0; k < b; ++k)
          for (int64_t c = 0; c < g.C; ++c)
            col2im_plane(cp + c * g.kh * g.kw * ld + k * P.L, g, dp + ((n + k) * g.C + c) * g.H * g.W, ld);
      });
    });
  });
}

void conv2d_weight_grad(const Tensor& x, const Tensor& gout, const ConvGeom& g, int64_t groups, const Tensor* dw,
                        const Tensor* db) {
  GC_DISPATCH_FLOAT(x.dtype, "conv2d_backward", [&] {
    const Plan P(g, gout.shape[1], groups, x.itemsize());
    const int64_t wsize = P.O * P.Rg;  // dW [O, Rg] and db [O] per thread, thread 0's written in place
    const ThreadBuffers T(P, x);
    const Tensor& buf = *T.buf;
    auto partial = empty_tensor({std::max(P.nt - 1, 1), wsize + P.O}, x.dtype, x.device);
    const scalar_t* xp = x.data_as<scalar_t>();
    const scalar_t* gp = gout.data_as<scalar_t>();
    split_images(g.N, P.nt, [&](int t, int64_t n0, int64_t n1) {
      const int64_t cols_off = T.cols_off(t), tmp_off = T.tmp_off(t, P);
      scalar_t* cp = T.at<scalar_t>(cols_off);
      scalar_t* tp = T.at<scalar_t>(tmp_off);
      const bool own = t == 0;  // thread 0 writes dw / db in place, the others their partials
      const Tensor& wt = own && dw ? *dw : *partial;
      const int64_t woff = own ? 0 : (t - 1) * (wsize + P.O);
      scalar_t* bsum = own && db ? db->data_as<scalar_t>() : partial->data_as<scalar_t>() + woff + wsize;
      if (db) std::fill(bsum, bsum + P.O, scalar_t(0));
      if (dw && n0 == n1) std::fill(wt.data_as<scalar_t>() + woff, wt.data_as<scalar_t>() + woff + wsize, scalar_t(0));
      chunks(n0, n1, P.B, [&](int64_t n, int64_t b) {
        const int64_t ld = b * P.L;
        if (db)
          for (int64_t k = 0; k < b; ++k)
            for (int64_t r = 0; r < P.O; ++r) {
              const scalar_t* row = gp + ((n + k) * P.O + r) * P.L;
              scalar_t acc = 0;
              for (int64_t l = 0; l < P.L; ++l) acc += row[l];
              bsum[r] += acc;
            }
        if (!dw) return;
        im2col_chunk(xp, g, n, b, cp);
        if (P.B > 1) stage_chunk(gp, n, b, P.O, P.L, tp);
        for (int64_t gi = 0; gi < groups; ++gi) {  // dW_g += g_g @ cols_g^T
          View2d d(wt, P.Og, P.Rg, P.Rg, 1, woff + gi * P.Og * P.Rg), c(buf, ld, P.Rg, 1, ld, cols_off + gi * P.Rg * ld);
          View2d gg = P.block(gout, buf, tmp_off, n, gi, ld);
          gemm_kernel(d.t, gg.t, c.t, 1.0, n == n0 ? 0.0 : 1.0);
        }
      });
    });
    for (int t = 1; t < P.nt; ++t) {  // fixed order
      const scalar_t* part = partial->data_as<scalar_t>() + (t - 1) * (wsize + P.O);
      if (dw) {
        scalar_t* wp = dw->data_as<scalar_t>();
        for (int64_t i = 0; i < wsize; ++i) wp[i] += part[i];
      }
      if (db) {
        scalar_t* bp = db->data_as<scalar_t>();
        for (int64_t k = 0; k < P.O; ++k) bp[k] += part[wsize + k];
      }
    }
  });
}

void im2col(const Tensor& x, const ConvGeom& g, const Tensor& cols) {
  GC_DISPATCH_FLOAT(x.dtype, "conv2d", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* cp = cols.data_as<scalar_t>();
    const int64_t plane = g.H * g.W, block = g.kh * g.kw * g.oh * g.ow;
    for_planes(g.N * g.C, g.N * g.rows() * g.cols(), [&](int64_t p) { im2col_plane(xp + p * plane, g, cp + p * block, g.cols()); });
  });
}

void col2im(const Tensor& cols, const ConvGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "conv2d_backward", [&] {
    const scalar_t* cp = cols.data_as<scalar_t>();
    scalar_t* dp = dx.data_as<scalar_t>();
    const int64_t plane = g.H * g.W, block = g.kh * g.kw * g.oh * g.ow;
    for_planes(g.N * g.C, g.N * g.rows() * g.cols(), [&](int64_t p) { col2im_plane(cp + p * block, g, dp + p * plane, g.cols()); });
  });
}

}  // namespace gc::cpu
