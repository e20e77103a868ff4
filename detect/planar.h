#ifndef PLATEMASK_PLANAR_H
#define PLATEMASK_PLANAR_H

#include <stdint.h>

// pm_planar writes h rows of w interleaved 3-channel bytes (stride bytes
// apart) as three planes of w*h floats each, every value times scale.
void pm_planar(const uint8_t *src, long stride, int w, int h, float scale,
               float *dst);

// pm_ycc_planar resizes the top left sw x sh of JFIF Y, Cb and Cr planes
// (rows ys, cbs and crs bytes apart; cb and cr NULL for grey) bilinearly
// to dw x dh, converts to BGR and writes it, times scale, into the top
// left of three pw x ph float planes (B, G, R). Returns -1 when out of
// memory.
int pm_ycc_planar(const uint8_t *y, long ys, const uint8_t *cb, long cbs,
                  const uint8_t *cr, long crs, int sw, int sh, int dw, int dh,
                  float scale, float *dst, int pw, int ph);

#endif
