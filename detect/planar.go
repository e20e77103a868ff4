package detect

// #cgo CFLAGS: -O3
// #include "planar.h"
import "C"

import "unsafe"

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
