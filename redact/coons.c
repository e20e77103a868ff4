#include <string.h>

#include "coons.h"
#include "simd.h"

PM_CLONES
void pm_coons_fill(uint8_t *pix, long stride, int n, int h, const float *a,
                   const float *b, const float *u3, const float *left,
                   const float *right, float *lr, float *dr) {
  for (int j = 0; j < h; j++) {
    float v = ((float)j + 0.5f) / (float)h;
    uint8_t *row = pix + (long)j * stride;
    // This row's left side and left-to-right difference, repeated per
    // pixel, so that the loop below is one flat pass the compiler
    // vectorises (it would not over interleaved channels).
    for (int k = 0; k < 3; k++) {
      lr[k] = left[j * 3 + k] + 0.5f; // + 0.5: truncation below rounds
      dr[k] = right[j * 3 + k] - left[j * 3 + k];
    }
    for (int m = 3; m < n; m *= 2) {
      int c = m < n - m ? m : n - m;
      memcpy(lr + m, lr, (size_t)c * sizeof(float));
      memcpy(dr + m, dr, (size_t)c * sizeof(float));
    }
    for (int i = 0; i < n; i++) {
      float x = a[i] + v * b[i] + lr[i] + u3[i] * dr[i];
      x = x < 0.f ? 0.f : x;
      x = x > 255.f ? 255.f : x;
      row[i] = (uint8_t)(int)x;
    }
  }
}
