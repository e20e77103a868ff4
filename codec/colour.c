#include "colour.h"

#define SCALEBITS 16
#define ONE_HALF (1 << (SCALEBITS - 1))
#define FIX(x) ((int32_t)((x) * (1L << SCALEBITS) + 0.5))

static inline uint8_t clamp(int32_t v) {
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void pm_ycc_to_bgr(const uint8_t *y, long ys, const uint8_t *cb, long cbs,
                   const uint8_t *cr, long crs, int w, int h, uint8_t *out,
                   long outs) {
  for (int j = 0; j < h; j++) {
    const uint8_t *yr = y + j * ys, *br = cb + j * cbs, *rr = cr + j * crs;
    uint8_t *o = out + j * outs;
    for (int i = 0; i < w; i++) {
      int32_t l = yr[i], u = br[i] - 128, v = rr[i] - 128;
      // The same sums as libjpeg's tables (Cr_r_tab, Cb_b_tab, Cb_g_tab,
      // Cr_g_tab), written out so that the compiler can vectorise them.
      int32_t r = l + ((FIX(1.40200) * v + ONE_HALF) >> SCALEBITS);
      int32_t g = l + ((-FIX(0.34414) * u - FIX(0.71414) * v + ONE_HALF) >> SCALEBITS);
      int32_t b = l + ((FIX(1.77200) * u + ONE_HALF) >> SCALEBITS);
      o[3 * i] = clamp(b);
      o[3 * i + 1] = clamp(g);
      o[3 * i + 2] = clamp(r);
    }
  }
}
