// Thin wrappers over libjpeg-turbo for the Go side: every entry point sets
// up its own error recovery (libjpeg reports errors by calling a function
// that must not return), so Go only ever sees a status and a message.
#ifndef PLATEMASK_LIBJPEG_H
#define PLATEMASK_LIBJPEG_H

#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>

#define PM_MSG_LEN 200

// pm_coef is a JPEG read as quantised DCT coefficients, without decoding
// any pixel.
typedef struct pm_coef pm_coef;

// pm_comp describes one colour component of a pm_coef.
typedef struct {
  int h, v;           // sampling factors
  int blocks_w;       // blocks per row, whole MCUs included
  int blocks_h;       // rows of blocks, whole MCUs included
  int image_blocks_w; // of which inside the image
  int image_blocks_h;
  unsigned short quant[64]; // quantisation table, natural order
} pm_comp;

pm_coef *pm_coef_read(const unsigned char *data, unsigned long n, char *msg);
// pm_coef_check_quant and pm_coef_check_blocks refuse what no encoder of
// 8-bit images writes and the writer could not write back as baseline:
// quantisation values outside 1..255; coefficients outside the baseline
// Huffman range (pm_coef_idct checks each component it decodes as well).
// 0 when fine.
int pm_coef_check_quant(pm_coef *p, char *msg);
int pm_coef_check_blocks(pm_coef *p, char *msg);
int pm_coef_comps(pm_coef *p);
int pm_coef_colorspace_ok(pm_coef *p);
void pm_coef_size(pm_coef *p, int *w, int *h);
void pm_coef_comp(pm_coef *p, int c, pm_comp *out);
// pm_coef_row is row `row` of component c's blocks, 64 coefficients each in
// natural order; writes to it change what pm_coef_write writes.
short *pm_coef_row(pm_coef *p, int c, int row);
// pm_coef_write writes the coefficients as a baseline JPEG with standard
// Huffman tables and no markers beyond JFIF; *out is malloc'd.
int pm_coef_write(pm_coef *p, unsigned char **out, unsigned long *outlen, char *msg);
void pm_coef_free(pm_coef *p);

// pm_coef_scale prepares libjpeg's inverse DCT to decode p scaled by
// 1/denom and gives each component's plane size in samples (w[c] x h[c]):
// whole blocks, so at least the scaled image's size, more for a
// subsampled component that stays at its own resolution.
int pm_coef_scale(pm_coef *p, int denom, int *w, int *h, char *msg);
// pm_coef_idct decodes component c's blocks, after pm_coef_scale, into
// rows of stride bytes at out, refusing coefficients out of range as
// pm_coef_check_blocks does.
int pm_coef_idct(pm_coef *p, int c, unsigned char *out, int stride, char *msg);

// pm_coef_encode encodes a w x h BGR image (rows of w*3 bytes) with p's
// sampling and quantisation and stores its blocks over p's, the image's
// top left at MCU column mcu_x, row mcu_y. The image must be whole MCUs,
// except where it ends at p's right or bottom edge.
int pm_coef_encode(pm_coef *p, int mcu_x, int mcu_y, const unsigned char *bgr,
                   int w, int h, char *msg);

#endif
