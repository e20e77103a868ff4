package detect

// #cgo CFLAGS: -O3 -I${SRCDIR}/../internal/simd
// #cgo LDFLAGS: -lm
// #include "planar.h"
import "C"

import (
	"errors"
	"image"
	"unsafe"
)

// planar writes the w x h interleaved BGR bytes of src (stride bytes a
// row) into dst as three planes, each value times scale: the layout and
// scale the network reads. One pass in C; OpenCV needed two (split, then
// convert each plane), and converting before splitting moved four times
// the memory.
func planar(src []byte, stride, w, h int, scale float32, dst []float32) {
	if w == 0 || h == 0 || len(src) < (h-1)*stride+3*w || len(dst) < 3*w*h {
		panic("detect: planar buffers too small")
	}
	C.pm_planar((*C.uint8_t)(unsafe.Pointer(&src[0])), C.long(stride), C.int(w), C.int(h), C.float(scale),
		(*C.float)(&dst[0]))
}

// yccPlanar resizes the top left src.X x src.Y of one grey or three YCbCr
// planes (rows strides[i] bytes apart) bilinearly to dst.X x dst.Y,
// converts to BGR as a JPEG decoder would and writes it, times scale, into
// the top left of the three pad.X x pad.Y planes of blob. One pass in C for
// what took three (convert, resize, lay out): the planes come from the
// reduced decode, and the BGR image is never made.
func yccPlanar(planes [][]byte, strides []int, src, dst, pad image.Point, scale float32, blob []float32) error {
	n := len(planes)
	if (n != 1 && n != 3) || len(strides) != n {
		return errors.New("want 1 or 3 planes")
	}
	if src.X <= 0 || src.Y <= 0 || dst.X <= 0 || dst.Y <= 0 || dst.X > pad.X || dst.Y > pad.Y || len(blob) < 3*pad.X*pad.Y {
		panic("detect: yccPlanar sizes out of range")
	}
	var ptrs [3]*C.uint8_t
	var strs [3]C.long
	for i, p := range planes {
		if strides[i] < src.X || len(p) < (src.Y-1)*strides[i]+src.X {
			panic("detect: yccPlanar plane too small")
		}
		ptrs[i], strs[i] = (*C.uint8_t)(unsafe.Pointer(&p[0])), C.long(strides[i])
	}
	if C.pm_ycc_planar(ptrs[0], strs[0], ptrs[1], strs[1], ptrs[2], strs[2], C.int(src.X), C.int(src.Y),
		C.int(dst.X), C.int(dst.Y), C.float(scale), (*C.float)(&blob[0]), C.int(pad.X), C.int(pad.Y)) != 0 {
		return errors.New("out of memory")
	}
	return nil
}
