#include "planar.h"

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
