#include "planar.h"

#include <math.h>
#include <stdlib.h>

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

// A source row resampled across: rows[plane][slot] of dw floats, and
// which source row each of the two slots holds.
typedef struct {
  float *rows[3][2];
  int tag[2];
} rowcache;

static void across(const uint8_t *restrict s, const int *restrict x0,
                   const int *restrict x1, const float *restrict ax,
                   float *restrict o, int dw) {
  for (int x = 0; x < dw; x++) {
    float a = s[x0[x]], b = s[x1[x]];
    o[x] = a + ax[x] * (b - a);
  }
}

// down blends two resampled rows of each plane by t and converts to BGR.
static void down(const float *restrict l0, const float *restrict l1,
                 const float *restrict u0, const float *restrict u1,
                 const float *restrict v0, const float *restrict v1, float t,
                 float scale, float *restrict b, float *restrict g,
                 float *restrict r, int dw) {
  for (int x = 0; x < dw; x++) {
    float l = l0[x] + t * (l1[x] - l0[x]);
    float u = u0[x] + t * (u1[x] - u0[x]) - 128.0f;
    float v = v0[x] + t * (v1[x] - v0[x]) - 128.0f;
    // JFIF's YCbCr to RGB, as libjpeg converts (jdcolor.c).
    r[x] = clampf(l + 1.40200f * v) * scale;
    g[x] = clampf(l - 0.34414f * u - 0.71414f * v) * scale;
    b[x] = clampf(l + 1.77200f * u) * scale;
  }
}

static int cached(rowcache *c, const uint8_t *const *src, const long *strides,
                  int np, int r, int keep, int dw, const int *x0,
                  const int *x1, const float *ax) {
  if (c->tag[0] == r) return 0;
  if (c->tag[1] == r) return 1;
  int slot = c->tag[0] == keep ? 1 : 0;
  for (int p = 0; p < np; p++)
    across(src[p] + r * strides[p], x0, x1, ax, c->rows[p][slot], dw);
  c->tag[slot] = r;
  return slot;
}

int pm_ycc_planar(const uint8_t *y, long ys, const uint8_t *cb, long cbs,
                  const uint8_t *cr, long crs, int sw, int sh, int dw, int dh,
                  float scale, float *dst, int pw, int ph) {
  const uint8_t *src[3] = {y, cb, cr};
  long strides[3] = {ys, cbs, crs};
  int np = cb ? 3 : 1;
  int *x0 = malloc(sizeof(int) * 2 * dw), *y0 = malloc(sizeof(int) * 2 * dh);
  float *ax = malloc(sizeof(float) * dw), *ay = malloc(sizeof(float) * dh);
  float *buf = malloc(sizeof(float) * 6 * dw);
  if (!x0 || !y0 || !ax || !ay || !buf) {
    free(x0), free(y0), free(ax), free(ay), free(buf);
    return -1;
  }
  int *x1 = x0 + dw, *y1 = y0 + dh;
  taps(dw, sw, x0, x1, ax);
  taps(dh, sh, y0, y1, ay);
  rowcache c = {.tag = {-1, -1}};
  for (int p = 0; p < 3; p++)
    for (int s = 0; s < 2; s++) c.rows[p][s] = buf + (p * 2 + s) * dw;
  long plane = (long)pw * ph;
  for (int y = 0; y < dh; y++) {
    int s0 = cached(&c, src, strides, np, y0[y], y1[y], dw, x0, x1, ax);
    int s1 = cached(&c, src, strides, np, y1[y], y0[y], dw, x0, x1, ax);
    float t = ay[y];
    float *b = dst + (long)y * pw, *g = b + plane, *r = g + plane;
    const float *l0 = c.rows[0][s0], *l1 = c.rows[0][s1];
    if (np == 1) {
      for (int x = 0; x < dw; x++) {
        float v = (l0[x] + t * (l1[x] - l0[x])) * scale;
        b[x] = g[x] = r[x] = v;
      }
      continue;
    }
    down(l0, l1, c.rows[1][s0], c.rows[1][s1], c.rows[2][s0], c.rows[2][s1], t,
         scale, b, g, r, dw);
  }
  free(x0), free(y0), free(ax), free(ay), free(buf);
  return 0;
}
