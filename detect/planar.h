#ifndef PLATEMASK_PLANAR_H
#define PLATEMASK_PLANAR_H

#include <stdint.h>

// pm_planar writes h rows of w interleaved 3-channel bytes (stride bytes
// apart) as three planes of w*h floats each, every value times scale.
void pm_planar(const uint8_t *src, long stride, int w, int h, float scale,
               float *dst);

#endif
