package codec

// #cgo pkg-config: libjpeg
// #cgo CFLAGS: -O3 -I${SRCDIR}/../internal/simd
// #include <stdlib.h>
// #include "libjpeg.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"gocv.io/x/gocv"
)

// reduction is the factor, 1, 2, 4 or 8, by which an image of w x h can
// be decoded smaller for a detector that looks at no more than maxSide
// pixels on the longer side (0: every pixel): the largest that leaves the
// longer side at least maxSide.
func reduction(w, h, maxSide int) int {
	long := max(w, h)
	for _, d := range []int{8, 4, 2} {
		if maxSide > 0 && (long+d-1)/d >= maxSide {
			return d
		}
	}
	return 1
}

// Reduced decodes the coefficients to pixels for a detector that looks at
// no more than maxSide pixels on the longer side (0: every pixel). Where
// the image is at least twice that size, the inverse DCT scales it down by
// 2, 4 or 8, which costs a fraction of a full decode; and since the
// coefficients are already read, nothing is entropy-decoded twice. It
// returns the image (not oriented: callers use it only for unrotated
// frames), which holds its planes and converts them to BGR only when its
// pixels are asked for, and the factor by which it is smaller than the
// frame.
//
// The inverse DCT is libjpeg-turbo's, sized per component as libjpeg's
// own scaled decode sizes it, and colour is converted with libjpeg's
// arithmetic: where that brings every component to the luma resolution
// (4:2:0, 4:4:4 and grey scaled down), the pixels are libjpeg's own.
// Chroma still below it (at full size, or 4:2:2) is upsampled bilinearly,
// close to libjpeg's "fancy" triangle filter, and pixels may differ from
// libjpeg's decode by a level or two.
func (c *Coefficients) Reduced(maxSide int) (*Image, int, error) {
	denom := reduction(c.w, c.h, maxSide)
	n := len(c.comps)
	if n != 1 && n != 3 { // ReadCoefficients let only grey and YCbCr through
		return nil, 0, fmt.Errorf("%w: %d components", ErrNotTranscodable, n)
	}
	ws, hs := make([]C.int, n), make([]C.int, n)
	var msg [C.PM_MSG_LEN]C.char
	if C.pm_coef_scale(c.p, C.int(denom), &ws[0], &hs[0], &msg[0]) != 0 {
		return nil, 0, fmt.Errorf("%w: %s", ErrCorrupt, C.GoString(&msg[0]))
	}
	outW, outH := (c.w+denom-1)/denom, (c.h+denom-1)/denom
	planes := make([]gocv.Mat, 0, n) // each at least outW x outH
	kept := false
	defer func() {
		if !kept {
			for _, m := range planes {
				m.Close()
			}
		}
	}()
	for i, comp := range c.comps {
		w, h := int(ws[i]), int(hs[i])
		m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8U)
		planes = append(planes, m)
		pix, err := m.DataPtrUint8()
		if err != nil {
			return nil, 0, fmt.Errorf("reduced decode: %w", err)
		}
		if C.pm_coef_idct(c.p, C.int(i), (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), &msg[0]) != 0 {
			return nil, 0, fmt.Errorf("%w: %s", ErrCorrupt, C.GoString(&msg[0]))
		}
		// One sample of this plane spans fx x fy pixels of the output.
		ssize := w / comp.imageW
		fx := c.maxH * 8 / denom / (comp.h * ssize)
		fy := c.maxV * 8 / denom / (comp.v * ssize)
		if fx > 1 || fy > 1 {
			up := gocv.NewMat()
			gocv.Resize(m, &up, image.Pt(w*fx, h*fy), 0, 0, gocv.InterpolationLinear)
			m.Close()
			planes[i], m = up, up
		}
		if m.Cols() < outW || m.Rows() < outH {
			return nil, 0, fmt.Errorf("%w: component %d covers %dx%d of %dx%d", ErrCorrupt, i, m.Cols(), m.Rows(), outW, outH)
		}
	}
	c.rangeChecked = true // pm_coef_idct checked every block
	kept = true
	return &Image{planes: planes, w: outW, h: outH}, denom, nil
}

// Coefficients is a JPEG held as its quantised DCT coefficients. Blocks
// left alone are written back exactly as they came, so redacting a few
// regions costs no generation loss elsewhere and no full decode or encode.
// It owns C memory: close it.
type Coefficients struct {
	p     *C.pm_coef
	w, h  int
	comps []component
	rows  [][][]int16 // per component, per block row: 64 coefficients a block
	xmap  [][]int     // per component: pixel column in an MCU -> sample column
	maxH  int         // largest sampling factors: an MCU is 8*maxH x 8*maxV pixels
	maxV  int
	// rangeChecked: every block was found within the baseline range. The
	// check runs where the blocks are read anyway (Reduced), else before
	// Write: either way nothing out of range is written back.
	rangeChecked bool
}

type component struct {
	h, v             int
	blocksW, blocksH int // whole MCUs, padding included
	// Blocks inside the image. The writer makes up the padding blocks of
	// edge MCUs itself (the last DC, no AC), whatever they held.
	imageW, imageH int
	quant          [64]float32
}

// ErrNotTranscodable marks a JPEG whose coefficients this package does not
// rewrite (colour spaces other than YCbCr and grey); decode it instead.
var ErrNotTranscodable = errors.New("colour space not supported for coefficient rewriting")

// ReadCoefficients reads a checked baseline JPEG without decoding pixels.
// Coefficients outside the baseline range, which the writer could not
// write back, are refused (ErrCorrupt) by Reduced or Write, whichever reads
// the blocks first.
func ReadCoefficients(data []byte) (*Coefficients, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	var msg [C.PM_MSG_LEN]C.char
	p := C.pm_coef_read((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &msg[0])
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, C.GoString(&msg[0]))
	}
	c := &Coefficients{p: p}
	if C.pm_coef_check_quant(p, &msg[0]) != 0 {
		c.Close()
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, C.GoString(&msg[0]))
	}
	if C.pm_coef_colorspace_ok(p) == 0 {
		c.Close()
		return nil, ErrNotTranscodable
	}
	var w, h C.int
	C.pm_coef_size(p, &w, &h)
	c.w, c.h = int(w), int(h)
	for i := 0; i < int(C.pm_coef_comps(p)); i++ {
		var pc C.pm_comp
		C.pm_coef_comp(p, C.int(i), &pc)
		comp := component{h: int(pc.h), v: int(pc.v), blocksW: int(pc.blocks_w), blocksH: int(pc.blocks_h),
			imageW: int(pc.image_blocks_w), imageH: int(pc.image_blocks_h)}
		for k := range comp.quant {
			comp.quant[k] = float32(pc.quant[k])
		}
		c.comps = append(c.comps, comp)
		var rows [][]int16
		for y := 0; y < comp.blocksH; y++ {
			p := C.pm_coef_row(p, C.int(i), C.int(y))
			if p == nil {
				c.Close()
				return nil, fmt.Errorf("%w: coefficient row %d of component %d", ErrCorrupt, y, i)
			}
			rows = append(rows, unsafe.Slice((*int16)(unsafe.Pointer(p)), comp.blocksW*64))
		}
		c.rows = append(c.rows, rows)
		c.maxH, c.maxV = max(c.maxH, comp.h), max(c.maxV, comp.v)
	}
	for _, comp := range c.comps {
		if c.maxH%comp.h != 0 || c.maxV%comp.v != 0 {
			c.Close()
			return nil, fmt.Errorf("%w: sampling factors %dx%d under %dx%d", ErrNotTranscodable, comp.h, comp.v, c.maxH, c.maxV)
		}
		xm := make([]int, 8*c.maxH)
		for x := range xm {
			xm[x] = x * comp.h / c.maxH
		}
		c.xmap = append(c.xmap, xm)
	}
	return c, nil
}

// Bounds is the image rectangle, origin at 0,0.
func (c *Coefficients) Bounds() image.Rectangle { return image.Rect(0, 0, c.w, c.h) }

// Close frees the coefficients.
func (c *Coefficients) Close() error {
	if c.p != nil {
		c.rows = nil // views of the memory freed next
		C.pm_coef_free(c.p)
		c.p = nil
	}
	return nil
}

// Write encodes the coefficients as a baseline JPEG with standard Huffman
// tables, the source's quantisation tables and sampling, and no metadata:
// a JFIF APP0 and nothing else. Coefficients out of range are ErrCorrupt.
func (c *Coefficients) Write() ([]byte, error) {
	var out *C.uchar
	var n C.ulong
	var msg [C.PM_MSG_LEN]C.char
	if !c.rangeChecked {
		if C.pm_coef_check_blocks(c.p, &msg[0]) != 0 {
			return nil, fmt.Errorf("%w: %s", ErrCorrupt, C.GoString(&msg[0]))
		}
		c.rangeChecked = true
	}
	if C.pm_coef_write(c.p, &out, &n, &msg[0]) != 0 {
		return nil, fmt.Errorf("%w: %s", ErrEncode, C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

// row is row y of component ci's blocks, 64 coefficients per block, as a
// view of libjpeg's memory (valid until Close).
func (c *Coefficients) row(ci, y int) []int16 { return c.rows[ci][y] }

// encode has libjpeg encode a w x h BGR crop into the blocks from MCU
// (mx, my) on.
func (c *Coefficients) encode(mx, my int, bgr []byte, w, h int) error {
	var msg [C.PM_MSG_LEN]C.char
	if C.pm_coef_encode(c.p, C.int(mx), C.int(my), (*C.uchar)(unsafe.Pointer(&bgr[0])), C.int(w), C.int(h), &msg[0]) != 0 {
		return fmt.Errorf("%w: %s", ErrEncode, C.GoString(&msg[0]))
	}
	return nil
}
