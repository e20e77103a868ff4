#ifndef PLATEMASK_COLOUR_H
#define PLATEMASK_COLOUR_H

#include <stdint.h>

// pm_ycc_to_bgr converts w x h pixels of Y, Cb and Cr planes (rows ys,
// cbs and crs bytes apart) to interleaved BGR rows outs bytes apart, with
// libjpeg's JFIF arithmetic (jdcolor.c: 16-bit fixed point, rounded), so
// the result is what libjpeg's own decoder gives for the same samples.
void pm_ycc_to_bgr(const uint8_t *y, long ys, const uint8_t *cb, long cbs,
                   const uint8_t *cr, long crs, int w, int h, uint8_t *out,
                   long outs);

#endif
