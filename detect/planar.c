#include "planar.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>

PM_CLONES
void pm_planar(const uint8_t *src, long stride, int w, int h, float scale,
               float *dst) {
  long plane = (long)w * h;
  for (int y = 0; y < h; y++) {
    const uint8_t *s = src + y * stride;
    float *b = dst + (long)y * w, *g = b + plane, *r = g + plane;
    for (int x = 0; x < w; x++) {
      b[x] = s[3 * x] * scale;
      g[x] = s[3 * x + 1] * scale;
      r[x] = s[3 * x + 2] * scale;
    }
  }
}

// clampf keeps v within a byte's range; plain comparisons, which the
// compiler vectorises (fminf and fmaxf must honour NaNs and do not).
static inline float clampf(float v) {
  return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

// taps places each of dn destination samples between two of sn source
// samples as OpenCV's bilinear resize does: centres aligned, clamped at
// the edges.
static void taps(int dn, int sn, int *i0, int *i1, float *a) {
  double s = (double)sn / dn;
  for (int d = 0; d < dn; d++) {
    double f = (d + 0.5) * s - 0.5;
    int i = (int)floor(f);
    double t = f - i;
    if (i < 0) {
      i = 0;
      t = 0;
    }
    if (i >= sn - 1) {
      i = sn - 1;
      t = 0;
    }
    i0[d] = i;
    i1[d] = i + 1 < sn ? i + 1 : i;
    a[d] = (float)t;
  }
}

// blend mixes two source rows of a plane by t into out: the vertical half
// of the bilinear resize, on contiguous samples, so it vectorises.
static void blend(const uint8_t *restrict a, const uint8_t *restrict b,
                  float t, float *restrict out, int n) {
  for (int x = 0; x < n; x++) {
    float fa = a[x], fb = b[x];
    out[x] = fa + t * (fb - fa);
  }
}

PM_CLONES
int pm_ycc_planar(const uint8_t *y, long ys, const uint8_t *cb, long cbs,
                  const uint8_t *cr, long crs, int sw, int sh, int dw, int dh,
                  float scale, float *dst, int pw, int ph) {
  int *x0 = malloc(sizeof(int) * 2 * dw), *y0 = malloc(sizeof(int) * 2 * dh);
  float *ax = malloc(sizeof(float) * dw), *ay = malloc(sizeof(float) * dh);
  float *rows = malloc(sizeof(float) * 3 * sw);
  if (!x0 || !y0 || !ax || !ay || !rows) {
    free(x0), free(y0), free(ax), free(ay), free(rows);
    return -1;
  }
  int *x1 = x0 + dw, *y1 = y0 + dh;
  taps(dw, sw, x0, x1, ax);
  taps(dh, sh, y0, y1, ay);
  const float *l = rows, *u = rows + sw, *v = rows + 2 * sw;
  long plane = (long)pw * ph;
  for (int j = 0; j < dh; j++) {
    // Vertically first, then across: the same bilinear weights as
    // resizing across first, in the other order.
    blend(y + y0[j] * ys, y + y1[j] * ys, ay[j], rows, sw);
    float *b = dst + (long)j * pw, *g = b + plane, *r = g + plane;
    if (!cb) {
      for (int i = 0; i < dw; i++) {
        float e = l[x0[i]], f = l[x1[i]];
        b[i] = g[i] = r[i] = (e + ax[i] * (f - e)) * scale;
      }
      continue;
    }
    blend(cb + y0[j] * cbs, cb + y1[j] * cbs, ay[j], rows + sw, sw);
    blend(cr + y0[j] * crs, cr + y1[j] * crs, ay[j], rows + 2 * sw, sw);
    for (int i = 0; i < dw; i++) {
      int p = x0[i], q = x1[i];
      float a = ax[i];
      float lv = l[p] + a * (l[q] - l[p]);
      float uv = u[p] + a * (u[q] - u[p]) - 128.0f;
      float vv = v[p] + a * (v[q] - v[p]) - 128.0f;
      // JFIF's YCbCr to RGB, as libjpeg converts (jdcolor.c).
      r[i] = clampf(lv + 1.40200f * vv) * scale;
      g[i] = clampf(lv - 0.34414f * uv - 0.71414f * vv) * scale;
      b[i] = clampf(lv + 1.77200f * uv) * scale;
    }
  }
  free(x0), free(y0), free(ax), free(ay), free(rows);
  return 0;
}
