#ifndef PLATEMASK_COONS_H
#define PLATEMASK_COONS_H

#include <stdint.h>

// pm_coons_fill writes rows of n = 3 * width interleaved channel values:
// row j (of h, stride bytes apart from pix) gets, at index i,
//   a[i] + v*b[i] + left[j][c] + u3[i] * (right[j][c] - left[j][c]),
// rounded and clamped to 0..255, with v = (j + 0.5) / h and c = i % 3.
// lr and dr are scratch of n floats.
void pm_coons_fill(uint8_t *pix, long stride, int n, int h, const float *a,
                   const float *b, const float *u3, const float *left,
                   const float *right, float *lr, float *dr);

#endif
