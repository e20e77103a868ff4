package redact

// #cgo CFLAGS: -O3 -I${SRCDIR}/../internal/simd
// #include "coons.h"
import "C"

import "unsafe"

// coonsFill paints rows of w pixels (3 interleaved channels, stride bytes
// apart, starting at pix[0]) with the patch a[i] + v*b[i] + left[j] +
// u*(right[j]-left[j]) (see patch.paint). It is the one per-pixel loop of a
// redaction, over regions that can cover much of a frame; in C the
// compiler vectorises it (BenchmarkDestroy, a quarter of a 1080p frame:
// 3.6 ms against 4.9 with the loop in Go).
func coonsFill(pix []byte, stride, w, h int, a, b, u3, left, right []float32) {
	n := 3 * w
	if h == 0 || w == 0 || len(a) < n || len(b) < n || len(u3) < n || len(left) < 3*h || len(right) < 3*h ||
		len(pix) < (h-1)*stride+n {
		panic("redact: coonsFill buffers too small")
	}
	scratch := make([]float32, 2*n)
	C.pm_coons_fill((*C.uint8_t)(unsafe.Pointer(&pix[0])), C.long(stride), C.int(n), C.int(h),
		(*C.float)(&a[0]), (*C.float)(&b[0]), (*C.float)(&u3[0]), (*C.float)(&left[0]), (*C.float)(&right[0]),
		(*C.float)(&scratch[0]), (*C.float)(&scratch[n]))
}
