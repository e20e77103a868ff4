// The scaled inverse DCT (pm_coef_idct) is libjpeg-turbo's own, SIMD where
// the CPU has it, reached through the library's internal module interface
// (jinit_inverse_dct and struct jpeg_inverse_dct, exported since 6b);
// pm_coef_encode takes the quantised blocks from the compressor through
// the same interface (struct jpeg_entropy_encoder).
#define JPEG_INTERNALS
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "libjpeg.h"
#include "simd.h"

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} pm_error;

static void pm_fail(j_common_ptr c) {
  pm_error *e = (pm_error *)c->err;
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jump, 1);
}

// Warnings are how libjpeg reports damaged data it papers over (missing
// bytes, bad Huffman codes): treat them as errors, so that a damaged
// image is refused instead of coming out partly grey.
static void pm_emit(j_common_ptr c, int level) {
  if (level < 0) {
    pm_fail(c);
  }
}

static struct jpeg_error_mgr *pm_errors(pm_error *e) {
  struct jpeg_error_mgr *pub = jpeg_std_error(&e->pub);
  pub->error_exit = pm_fail;
  pub->emit_message = pm_emit;
  e->msg[0] = 0;
  return pub;
}

static void pm_copy_msg(char *dst, const char *src) {
  strncpy(dst, src, PM_MSG_LEN - 1);
  dst[PM_MSG_LEN - 1] = 0;
}

struct pm_coef {
  struct jpeg_decompress_struct d;
  pm_error e;
  jvirt_barray_ptr *arrays;
  unsigned char *data; // our copy: libjpeg reads from it until the end
};

pm_coef *pm_coef_read(const unsigned char *data, unsigned long n, char *msg) {
  pm_coef *p = calloc(1, sizeof(pm_coef));
  if (p == NULL) {
    pm_copy_msg(msg, "out of memory");
    return NULL;
  }
  p->data = malloc(n);
  if (p->data == NULL) {
    free(p);
    pm_copy_msg(msg, "out of memory");
    return NULL;
  }
  memcpy(p->data, data, n);
  p->d.err = pm_errors(&p->e);
  if (setjmp(p->e.jump)) {
    pm_copy_msg(msg, p->e.msg);
    jpeg_destroy_decompress(&p->d);
    free(p->data);
    free(p);
    return NULL;
  }
  jpeg_create_decompress(&p->d);
  jpeg_mem_src(&p->d, p->data, n);
  jpeg_read_header(&p->d, TRUE);
  p->arrays = jpeg_read_coefficients(&p->d);
  return p;
}

int pm_coef_check_quant(pm_coef *p, char *msg) {
  for (int c = 0; c < p->d.num_components; c++) {
    jpeg_component_info *ci = &p->d.comp_info[c];
    if (ci->quant_table == NULL) {
      pm_copy_msg(msg, "component without a quantisation table");
      return 1;
    }
    for (int i = 0; i < DCTSIZE2; i++) {
      if (ci->quant_table->quantval[i] < 1 || ci->quant_table->quantval[i] > 255) {
        pm_copy_msg(msg, "quantisation value outside 1..255");
        return 1;
      }
    }
  }
  return 0;
}

// check_row refuses a row of blocks holding a coefficient outside the
// baseline range. A branch-free pass over the row flags anything outside
// -1023..1023 (it vectorises); only a flagged row is looked at block by
// block, since a DC of -1024 is fine.
PM_CLONES
static int check_row(JBLOCKROW row, JDIMENSION blocks, char *msg) {
  const JCOEF *k = row[0];
  size_t n = (size_t)blocks * DCTSIZE2;
  unsigned flagged = 0;
  for (size_t i = 0; i < n; i++) {
    flagged |= (unsigned)(k[i] + 1023) > 2046u;
  }
  if (!flagged) {
    return 0;
  }
  for (JDIMENSION b = 0; b < blocks; b++) {
    const JCOEF *blk = row[b];
    if (blk[0] < -1024 || blk[0] > 1023) {
      pm_copy_msg(msg, "DC coefficient out of range");
      return 1;
    }
    for (int i = 1; i < DCTSIZE2; i++) {
      if (blk[i] < -1023 || blk[i] > 1023) {
        pm_copy_msg(msg, "AC coefficient out of range");
        return 1;
      }
    }
  }
  return 0;
}

int pm_coef_check_blocks(pm_coef *p, char *msg) {
  if (setjmp(p->e.jump)) {
    pm_copy_msg(msg, p->e.msg);
    return 1;
  }
  for (int c = 0; c < p->d.num_components; c++) {
    jpeg_component_info *ci = &p->d.comp_info[c];
    for (JDIMENSION row = 0; row < ci->height_in_blocks; row++) {
      JBLOCKARRAY rows = (*p->d.mem->access_virt_barray)(
          (j_common_ptr)&p->d, p->arrays[c], row, 1, FALSE);
      if (check_row(rows[0], ci->width_in_blocks, msg) != 0) {
        return 1;
      }
    }
  }
  return 0;
}

int pm_coef_comps(pm_coef *p) { return p->d.num_components; }

int pm_coef_colorspace_ok(pm_coef *p) {
  return (p->d.num_components == 3 && p->d.jpeg_color_space == JCS_YCbCr) ||
         (p->d.num_components == 1 && p->d.jpeg_color_space == JCS_GRAYSCALE);
}

void pm_coef_size(pm_coef *p, int *w, int *h) {
  *w = p->d.image_width;
  *h = p->d.image_height;
}

void pm_coef_comp(pm_coef *p, int c, pm_comp *out) {
  jpeg_component_info *ci = &p->d.comp_info[c];
  out->h = ci->h_samp_factor;
  out->v = ci->v_samp_factor;
  // The arrays hold whole MCUs: jpeg_read_coefficients rounds up to the
  // sampling factors.
  out->blocks_w = (ci->width_in_blocks + ci->h_samp_factor - 1) /
                  ci->h_samp_factor * ci->h_samp_factor;
  out->blocks_h = (ci->height_in_blocks + ci->v_samp_factor - 1) /
                  ci->v_samp_factor * ci->v_samp_factor;
  out->image_blocks_w = ci->width_in_blocks;
  out->image_blocks_h = ci->height_in_blocks;
  for (int i = 0; i < 64; i++) {
    out->quant[i] = ci->quant_table ? ci->quant_table->quantval[i] : 1;
  }
}

short *pm_coef_row(pm_coef *p, int c, int row) {
  // The arrays are in memory, so this fails only on a bad row number.
  if (setjmp(p->e.jump)) {
    return NULL;
  }
  JBLOCKARRAY rows = (*p->d.mem->access_virt_barray)(
      (j_common_ptr)&p->d, p->arrays[c], row, 1, TRUE);
  return (short *)rows[0];
}

int pm_coef_write(pm_coef *p, unsigned char **out, unsigned long *outlen, char *msg) {
  struct jpeg_compress_struct c;
  pm_error e;
  *out = NULL;
  *outlen = 0;
  c.err = pm_errors(&e);
  if (setjmp(e.jump)) {
    pm_copy_msg(msg, e.msg);
    jpeg_destroy_compress(&c);
    free(*out);
    *out = NULL;
    return 1;
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, out, outlen);
  // Quantisation and sampling come from the source; Huffman tables are the
  // standard ones and no marker of the source is copied.
  jpeg_copy_critical_parameters(&p->d, &c);
  jpeg_write_coefficients(&c, p->arrays);
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  return 0;
}

void pm_coef_free(pm_coef *p) {
  if (p == NULL) {
    return;
  }
  jpeg_destroy_decompress(&p->d);
  free(p->data);
  free(p);
}

// pm_sink receives the blocks of an encode: libjpeg's compressor runs as
// usual (colour conversion, downsampling, forward DCT, quantisation), but
// its entropy encoder is replaced by take_mcu, which stores each quantised
// MCU straight into the destination's coefficient arrays. Encoding to
// Huffman codes and reading them back, as a whole compress and decompress
// would, gives the same blocks and cost about a third of the time.
typedef struct {
  pm_coef *dst;
  int mcu_x, mcu_y; // where the encoded image's top left goes, in dst's MCUs
  long n;           // MCUs taken so far, in the order libjpeg emits them
} pm_sink;

static boolean take_mcu(j_compress_ptr c, JBLOCKROW *data) {
  pm_sink *s = (pm_sink *)c->client_data;
  long cx = s->n % c->MCUs_per_row, cy = s->n / c->MCUs_per_row;
  s->n++;
  int blkn = 0;
  for (int i = 0; i < c->comps_in_scan; i++) {
    jpeg_component_info *from = c->cur_comp_info[i];
    int ci = from->component_index;
    jpeg_component_info *to = &s->dst->d.comp_info[ci];
    // The destination's arrays hold whole MCUs, edge padding included.
    int dst_w = (to->width_in_blocks + to->h_samp_factor - 1) / to->h_samp_factor * to->h_samp_factor;
    int dst_h = (to->height_in_blocks + to->v_samp_factor - 1) / to->v_samp_factor * to->v_samp_factor;
    for (int yi = 0; yi < from->MCU_height; yi++) {
      int by = s->mcu_y * to->v_samp_factor + (int)cy * from->MCU_height + yi;
      JBLOCKARRAY row = NULL;
      if (by < dst_h) {
        row = (*s->dst->d.mem->access_virt_barray)((j_common_ptr)&s->dst->d, s->dst->arrays[ci], by, 1, TRUE);
      }
      for (int xi = 0; xi < from->MCU_width; xi++, blkn++) {
        int bx = s->mcu_x * to->h_samp_factor + (int)cx * from->MCU_width + xi;
        if (row != NULL && bx < dst_w) {
          memcpy(row[0][bx], data[blkn][0], sizeof(JBLOCK));
        }
      }
    }
  }
  return TRUE;
}

static int encode_fail(j_compress_ptr c, unsigned char *out, char *msg, const char *why) {
  pm_copy_msg(msg, why);
  jpeg_destroy_compress(c);
  free(out);
  return 1;
}

int pm_coef_encode(pm_coef *p, int mcu_x, int mcu_y, const unsigned char *bgr,
                   int w, int h, char *msg) {
  struct jpeg_compress_struct c;
  pm_error e;
  unsigned char *out = NULL; // headers only: no entropy-coded data is written
  unsigned long outlen = 0;
  pm_sink sink = {p, mcu_x, mcu_y, 0};
  c.err = pm_errors(&e);
  // An error in the compressor, or in the destination's block access
  // inside take_mcu, lands in one of these, and both are cleaned up.
  if (setjmp(e.jump)) {
    return encode_fail(&c, out, msg, e.msg);
  }
  if (setjmp(p->e.jump)) {
    return encode_fail(&c, out, msg, p->e.msg);
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &out, &outlen);
  c.client_data = &sink;
  c.image_width = w;
  c.image_height = h;
  c.input_components = 3;
  c.in_color_space = JCS_EXT_BGR;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, p->d.jpeg_color_space);
  for (int i = 0; i < NUM_QUANT_TBLS; i++) {
    if (p->d.quant_tbl_ptrs[i] != NULL) {
      if (c.quant_tbl_ptrs[i] == NULL) {
        c.quant_tbl_ptrs[i] = jpeg_alloc_quant_table((j_common_ptr)&c);
      }
      memcpy(c.quant_tbl_ptrs[i]->quantval, p->d.quant_tbl_ptrs[i]->quantval,
             sizeof(c.quant_tbl_ptrs[i]->quantval));
    }
  }
  for (int ci = 0; ci < p->d.num_components; ci++) {
    c.comp_info[ci].h_samp_factor = p->d.comp_info[ci].h_samp_factor;
    c.comp_info[ci].v_samp_factor = p->d.comp_info[ci].v_samp_factor;
    c.comp_info[ci].quant_tbl_no = p->d.comp_info[ci].quant_tbl_no;
  }
  // One baseline scan in one pass (no optimised tables): the entropy
  // encoder's start_pass has run inside jpeg_start_compress, so the
  // hooks set now are the ones the coefficient controller calls.
  c.optimize_coding = FALSE;
  jpeg_start_compress(&c, TRUE);
  if (c.num_scans > 1 || c.comps_in_scan != c.num_components) {
    return encode_fail(&c, out, msg, "encoder did not set up one scan of every component");
  }
  c.entropy->encode_mcu = take_mcu;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(bgr + (size_t)c.next_scanline * w * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  long want = (long)c.MCUs_per_row * c.MCU_rows_in_scan;
  // Every MCU has gone through take_mcu once the last row is in; finishing
  // would only write an end-of-image marker to out.
  if (sink.n != want) {
    return encode_fail(&c, out, msg, "encoder emitted fewer blocks than the image holds");
  }
  jpeg_destroy_compress(&c);
  free(out);
  return 0;
}

// range_limit sets up the clamping table libjpeg's C inverse DCTs index
// (the SIMD ones clamp by themselves); a full decompression builds it in
// its master module, which reading coefficients never runs. The layout
// is that of jdmaster.c's prepare_range_limit_table.
static void range_limit(j_decompress_ptr d) {
  JSAMPLE *t = (JSAMPLE *)(*d->mem->alloc_small)(
      (j_common_ptr)d, JPOOL_IMAGE, (5 * (MAXJSAMPLE + 1) + CENTERJSAMPLE) * sizeof(JSAMPLE));
  t += MAXJSAMPLE + 1;
  d->sample_range_limit = t;
  memset(t - (MAXJSAMPLE + 1), 0, (MAXJSAMPLE + 1) * sizeof(JSAMPLE));
  for (int i = 0; i <= MAXJSAMPLE; i++) {
    t[i] = (JSAMPLE)i;
  }
  t += CENTERJSAMPLE;
  for (int i = CENTERJSAMPLE; i < 2 * (MAXJSAMPLE + 1); i++) {
    t[i] = MAXJSAMPLE;
  }
  memset(t + 2 * (MAXJSAMPLE + 1), 0, (2 * (MAXJSAMPLE + 1) - CENTERJSAMPLE) * sizeof(JSAMPLE));
  memcpy(t + (4 * (MAXJSAMPLE + 1) - CENTERJSAMPLE), d->sample_range_limit, CENTERJSAMPLE * sizeof(JSAMPLE));
}

int pm_coef_scale(pm_coef *p, int denom, int *w, int *h, char *msg) {
  j_decompress_ptr d = &p->d;
  if (setjmp(p->e.jump)) {
    pm_copy_msg(msg, p->e.msg);
    return 1;
  }
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) {
    pm_copy_msg(msg, "scale must be 1/1, 1/2, 1/4 or 1/8");
    return 1;
  }
  // As jdmaster.c chooses: every component at DCTSIZE/denom, and a
  // subsampled one at up to twice or four times that, so that it comes
  // out at the luma plane's resolution without upsampling.
  int min_size = DCTSIZE / denom;
  for (int c = 0; c < d->num_components; c++) {
    jpeg_component_info *ci = &d->comp_info[c];
    int ssize = min_size;
    while (ssize < DCTSIZE &&
           (d->max_h_samp_factor * min_size) % (ci->h_samp_factor * ssize * 2) == 0 &&
           (d->max_v_samp_factor * min_size) % (ci->v_samp_factor * ssize * 2) == 0) {
      ssize *= 2;
    }
    ci->DCT_scaled_size = ssize;
    w[c] = ci->width_in_blocks * ssize;
    h[c] = ci->height_in_blocks * ssize;
  }
  d->min_DCT_scaled_size = min_size;
  if (d->sample_range_limit == NULL) {
    range_limit(d);
  }
  if (d->idct == NULL) {
    jinit_inverse_dct(d);
  }
  d->idct->start_pass(d);
  return 0;
}

int pm_coef_idct(pm_coef *p, int c, unsigned char *out, int stride, char *msg) {
  j_decompress_ptr d = &p->d;
  if (setjmp(p->e.jump)) {
    pm_copy_msg(msg, p->e.msg);
    return 1;
  }
  jpeg_component_info *ci = &d->comp_info[c];
  int ssize = ci->DCT_scaled_size;
  inverse_DCT_method_ptr idct = d->idct->inverse_DCT[c];
  JSAMPROW rows[DCTSIZE];
  for (JDIMENSION by = 0; by < ci->height_in_blocks; by++) {
    JBLOCKARRAY b = (*d->mem->access_virt_barray)((j_common_ptr)d, p->arrays[c], by, 1, FALSE);
    // The range check costs next to nothing on a row about to be read
    // anyway, against a pass of its own over every block.
    if (check_row(b[0], ci->width_in_blocks, msg) != 0) {
      return 1;
    }
    for (int k = 0; k < ssize; k++) {
      rows[k] = out + ((size_t)by * ssize + k) * stride;
    }
    for (JDIMENSION bx = 0; bx < ci->width_in_blocks; bx++) {
      idct(d, ci, b[0][bx], rows, bx * ssize);
    }
  }
  return 0;
}
