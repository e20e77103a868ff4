package codec

// #cgo CFLAGS: -O3
// #include "colour.h"
import "C"

import (
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"
)

// yccToBGR converts the top left w x h of three 8-bit planes into out,
// an 8-bit BGR Mat of that size, as libjpeg's decoder converts colour.
// One pass in C: OpenCV needed two (merge the planes, then convert).
func yccToBGR(y, cb, cr gocv.Mat, w, h int, out gocv.Mat) error {
	for _, m := range []gocv.Mat{y, cb, cr} {
		if m.Type() != gocv.MatTypeCV8U || m.Cols() < w || m.Rows() < h {
			return fmt.Errorf("colour planes: %dx%d type %v, want 8-bit at least %dx%d", m.Cols(), m.Rows(), m.Type(), w, h)
		}
	}
	if out.Type() != gocv.MatTypeCV8UC3 || out.Cols() != w || out.Rows() != h {
		return fmt.Errorf("colour output: %dx%d type %v, want 8-bit BGR %dx%d", out.Cols(), out.Rows(), out.Type(), w, h)
	}
	ptr := func(m gocv.Mat) (*C.uint8_t, error) {
		pix, err := m.DataPtrUint8()
		if err != nil {
			return nil, err
		}
		return (*C.uint8_t)(unsafe.Pointer(&pix[0])), nil
	}
	var p [4]*C.uint8_t
	for i, m := range []gocv.Mat{y, cb, cr, out} {
		var err error
		if p[i], err = ptr(m); err != nil {
			return fmt.Errorf("colour planes: %w", err)
		}
	}
	C.pm_ycc_to_bgr(p[0], C.long(y.Step()), p[1], C.long(cb.Step()), p[2], C.long(cr.Step()),
		C.int(w), C.int(h), p[3], C.long(out.Step()))
	return nil
}
