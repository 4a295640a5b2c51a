// CUDA kernels of the GPU compositor (src/av/cuda.rs). build.rs compiles this file to PTX with
// clang (no CUDA toolkit needed: clang has an NVPTX back end, and the few intrinsics used are
// clang builtins); the driver JIT-compiles the PTX for the GPU it finds at run time.
//
// The kernels reproduce the CPU compositor's arithmetic so the two can be compared pixel for
// pixel: the bilinear resize follows OpenCV's INTER_LINEAR fixed-point scheme (11-bit weights,
// the same rounding), the gradient follows `Image::fill_gradient` (one float mix per row or
// column, rounded, then the integer blend of `blend_px`). Built with -ffp-contract=off so no
// multiply-add is fused where the CPU rounds twice.

typedef unsigned char u8;

#define KERNEL extern "C" __attribute__((global))
#define DEVICE static __attribute__((device)) inline
#define METHOD __attribute__((device))

DEVICE int thread_x() {
  return __nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x() + __nvvm_read_ptx_sreg_tid_x();
}
DEVICE int thread_y() {
  return __nvvm_read_ptx_sreg_ctaid_y() * __nvvm_read_ptx_sreg_ntid_y() + __nvvm_read_ptx_sreg_tid_y();
}
DEVICE int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
DEVICE float floor_f(float v) { return __builtin_floorf(v); }
// Round half to even, as OpenCV's cvRound (saturate_cast<short>(float)).
DEVICE int round_even(float v) { return (int)__builtin_rintf(v); }

// YUV → RGB: limited or full range, matrix given as the four coefficients of
// R = Y + cr_r·Cr, G = Y − cb_g·Cb − cr_g·Cr, B = Y + cb_b·Cb (Y and C already scaled).
struct Yuv {
  float y_offset, y_scale, c_scale;
  float cr_r, cb_g, cr_g, cb_b;
};

DEVICE u8 to_u8(float v) {
  int i = (int)__builtin_rintf(v);
  return (u8)clampi(i, 0, 255);
}

// One source pixel as B, G, R from NV12 planes (4:2:0: one chroma pair per 2x2 pixels, as
// swscale's unscaled YUV420P → BGR24 path uses it, without interpolation).
struct Nv12Source {
  const u8 *luma;
  int luma_pitch;
  const u8 *chroma;
  int chroma_pitch;
  Yuv m;
  METHOD void fetch(int x, int y, int bgr[3]) const {
    float yy = ((float)luma[y * luma_pitch + x] - m.y_offset) * m.y_scale;
    const u8 *c = chroma + (y >> 1) * chroma_pitch + (x >> 1) * 2;
    float cb = ((float)c[0] - 128.0f) * m.c_scale;
    float cr = ((float)c[1] - 128.0f) * m.c_scale;
    bgr[0] = to_u8(yy + m.cb_b * cb);
    bgr[1] = to_u8(yy - m.cb_g * cb - m.cr_g * cr);
    bgr[2] = to_u8(yy + m.cr_r * cr);
  }
};

struct BgrSource {
  const u8 *data;
  int pitch;
  METHOD void fetch(int x, int y, int bgr[3]) const {
    const u8 *p = data + y * pitch + x * 3;
    bgr[0] = p[0];
    bgr[1] = p[1];
    bgr[2] = p[2];
  }
};

// OpenCV's INTER_LINEAR position and 11-bit weights for output index `d`: the left (top)
// source index, its weight and the right (bottom) one's; indices stay inside [0, n).
DEVICE void linear_tap(int d, double scale, int n, int *s0, int *s1, int *w0, int *w1, bool clamp_weight) {
  float f = (float)((d + 0.5) * scale - 0.5);
  int s = (int)floor_f(f);
  f -= (float)s;
  if (clamp_weight) {
    // Columns: OpenCV zeroes the weight outside (xofs/alpha tables).
    if (s < 0) { f = 0.0f; s = 0; }
    if (s >= n - 1) { f = 0.0f; s = n - 1; }
  }
  *w0 = round_even((1.0f - f) * 2048.0f);
  *w1 = round_even(f * 2048.0f);
  // Rows: OpenCV keeps the weights and clamps the row indices.
  *s0 = clampi(s, 0, n - 1);
  *s1 = clampi(s + 1, 0, n - 1);
}

// Bilinear enlargement of the crop (cx, cy, cw, ch) of `src` into the dw x dh rectangle at
// (ox, oy) of the BGR canvas `dst`.
template <typename Source>
DEVICE void resize_linear(const Source &src, int cx, int cy, int cw, int ch, u8 *dst, int dst_pitch, int ox,
                          int oy, int dw, int dh) {
  int x = thread_x(), y = thread_y();
  if (x >= dw || y >= dh) return;
  int sx0, sx1, a0, a1, sy0, sy1, b0, b1;
  linear_tap(x, (double)cw / dw, cw, &sx0, &sx1, &a0, &a1, true);
  linear_tap(y, (double)ch / dh, ch, &sy0, &sy1, &b0, &b1, false);
  int p00[3], p01[3], p10[3], p11[3];
  src.fetch(cx + sx0, cy + sy0, p00);
  src.fetch(cx + sx1, cy + sy0, p01);
  src.fetch(cx + sx0, cy + sy1, p10);
  src.fetch(cx + sx1, cy + sy1, p11);
  u8 *out = dst + (oy + y) * dst_pitch + (ox + x) * 3;
  for (int c = 0; c < 3; c++) {
    int top = p00[c] * a0 + p01[c] * a1;
    int bottom = p10[c] * a0 + p11[c] * a1;
    // VResizeLinearVec_32s8u: ((b0·(S0>>4))>>16) + ((b1·(S1>>4))>>16), rounded by 2 bits.
    int v = (((b0 * (top >> 4)) >> 16) + ((b1 * (bottom >> 4)) >> 16) + 2) >> 2;
    out[c] = (u8)clampi(v, 0, 255);
  }
}

// Area average (shrinking, as INTER_AREA): each output pixel averages the source pixels its
// footprint covers, partly covered ones by the covered fraction.
template <typename Source>
DEVICE void resize_area(const Source &src, int cx, int cy, int cw, int ch, u8 *dst, int dst_pitch, int ox,
                        int oy, int dw, int dh) {
  int x = thread_x(), y = thread_y();
  if (x >= dw || y >= dh) return;
  double sx = (double)cw / dw, sy = (double)ch / dh;
  double fx0 = x * sx, fx1 = fx0 + sx, fy0 = y * sy, fy1 = fy0 + sy;
  double sum[3] = {0, 0, 0}, total = 0;
  for (int j = (int)fy0; j < ch && j < fy1; j++) {
    double wy = (j + 1 < fy1 ? j + 1 : fy1) - (j > fy0 ? j : fy0);
    for (int i = (int)fx0; i < cw && i < fx1; i++) {
      double wx = (i + 1 < fx1 ? i + 1 : fx1) - (i > fx0 ? i : fx0);
      int p[3];
      src.fetch(cx + i, cy + j, p);
      double w = wx * wy;
      sum[0] += p[0] * w;
      sum[1] += p[1] * w;
      sum[2] += p[2] * w;
      total += w;
    }
  }
  u8 *out = dst + (oy + y) * dst_pitch + (ox + x) * 3;
  for (int c = 0; c < 3; c++) out[c] = to_u8((float)(sum[c] / total));
}

KERNEL void nv12_resize_linear(const u8 *luma, int luma_pitch, const u8 *chroma, int chroma_pitch, Yuv m, int cx,
                               int cy, int cw, int ch, u8 *dst, int dst_pitch, int ox, int oy, int dw, int dh) {
  Nv12Source s = {luma, luma_pitch, chroma, chroma_pitch, m};
  resize_linear(s, cx, cy, cw, ch, dst, dst_pitch, ox, oy, dw, dh);
}

KERNEL void nv12_resize_area(const u8 *luma, int luma_pitch, const u8 *chroma, int chroma_pitch, Yuv m, int cx,
                             int cy, int cw, int ch, u8 *dst, int dst_pitch, int ox, int oy, int dw, int dh) {
  Nv12Source s = {luma, luma_pitch, chroma, chroma_pitch, m};
  resize_area(s, cx, cy, cw, ch, dst, dst_pitch, ox, oy, dw, dh);
}

KERNEL void bgr_resize_linear(const u8 *src, int src_pitch, int cx, int cy, int cw, int ch, u8 *dst, int dst_pitch,
                              int ox, int oy, int dw, int dh) {
  BgrSource s = {src, src_pitch};
  resize_linear(s, cx, cy, cw, ch, dst, dst_pitch, ox, oy, dw, dh);
}

KERNEL void bgr_resize_area(const u8 *src, int src_pitch, int cx, int cy, int cw, int ch, u8 *dst, int dst_pitch,
                            int ox, int oy, int dw, int dh) {
  BgrSource s = {src, src_pitch};
  resize_area(s, cx, cy, cw, ch, dst, dst_pitch, ox, oy, dw, dh);
}

// A gradient (or, with from == to, a flat rectangle) blended over the rectangle (x, y, w, h)
// of a canvas cw x ch, clipped to it. Colours are B, G, R, A.
KERNEL void gradient(u8 *canvas, int pitch, int cw, int ch, int x, int y, int w, int h, int vertical,
                     unsigned int from, unsigned int to) {
  int px = x + thread_x(), py = y + thread_y();
  if (px < 0 || py < 0 || px >= cw || py >= ch || px >= x + w || py >= y + h) return;
  int steps = (vertical ? h : w);
  steps = (steps < 2 ? 2 : steps) - 1;
  int i = vertical ? py - y : px - x;
  if (i > steps) i = steps;
  float t = (float)i / (float)steps;
  int mix[4];
  for (int c = 0; c < 4; c++) {
    float a = (float)((from >> (8 * c)) & 255), b = (float)((to >> (8 * c)) & 255);
    mix[c] = (int)__builtin_roundf(a + (b - a) * t);
  }
  int alpha = mix[3];
  if (alpha == 0) return;
  u8 *p = canvas + py * pitch + px * 3;
  for (int c = 0; c < 3; c++) {
    p[c] = alpha >= 255 ? (u8)mix[c] : (u8)((p[c] * (255 - alpha) + mix[c] * alpha + 127) / 255);
  }
}
