// Package codec is the boundary to the JPEG codecs: it checks limits on the
// bytes, decodes to an upright BGR image (OpenCV) or, for detection, to a
// reduced one (libjpeg), and writes baseline JPEGs that carry no metadata:
// either re-encoding pixels (OpenCV) or rewriting the DCT coefficients of
// only the blocks under regions and copying the rest (libjpeg, see
// Coefficients). Only codec and detect import gocv.
package codec

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// Image is a decoded, upright 8-bit image. It owns C memory: the caller
// that gets one closes it.
//
// An image from a reduced decode (Coefficients.Reduced) holds the planes
// the inverse DCT gave and makes its BGR pixels only when first asked for
// them (Mat, Pix). The project's network reads the planes straight into
// its input (Planes), which saves converting and then resizing every frame.
type Image struct {
	mat    gocv.Mat // BGR; made from planes on first use where hasMat is false
	hasMat bool
	planes []gocv.Mat // Y, or Y, Cb and Cr, the picture at the top left of each
	w, h   int
}

// Close frees the pixels.
func (im *Image) Close() error {
	for _, p := range im.planes {
		p.Close()
	}
	im.planes = nil
	if im.hasMat {
		im.hasMat = false
		return im.mat.Close()
	}
	return nil
}

// Bounds is the image rectangle, origin at 0,0.
func (im *Image) Bounds() image.Rectangle { return image.Rect(0, 0, im.w, im.h) }

// Mat exposes the BGR pixels to the detectors. The Mat stays owned by the
// Image.
func (im *Image) Mat() gocv.Mat {
	if !im.hasMat {
		m, err := planesToBGR(im.planes, im.w, im.h)
		if err != nil {
			// Reduced checked every plane's type and size.
			panic(fmt.Sprintf("codec: %v", err))
		}
		im.mat, im.hasMat = m, true
	}
	return im.mat
}

// Planes are the image's planes where it came from a reduced decode: one
// (grey) or three (Y, Cb, Cr, full-range BT.601 as JFIF stores them),
// 8-bit, each at least Bounds' size with the picture at its top left. Nil
// for an image decoded to BGR. They stay owned by the Image.
func (im *Image) Planes() []gocv.Mat { return im.planes }

// Pix returns the BGR bytes, row after row with no padding, as a view onto
// the image's own memory: writes change the image (but not its Planes).
func (im *Image) Pix() ([]byte, error) {
	m := im.Mat()
	if !m.IsContinuous() {
		return nil, fmt.Errorf("pixels are not continuous")
	}
	return m.DataPtrUint8()
}

// FromMat wraps a BGR Mat; the Image takes ownership.
func FromMat(m gocv.Mat) *Image {
	return &Image{mat: m, hasMat: true, w: m.Cols(), h: m.Rows()}
}

// Clone returns a deep copy of the BGR pixels.
func (im *Image) Clone() *Image {
	m := im.Mat()
	return FromMat(m.Clone())
}

// planesToBGR converts the top left w x h of one grey or three YCbCr
// planes to a new BGR Mat.
func planesToBGR(planes []gocv.Mat, w, h int) (gocv.Mat, error) {
	out := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	switch len(planes) {
	case 1:
		grey := planes[0].Region(image.Rect(0, 0, w, h))
		defer grey.Close()
		gocv.CvtColor(grey, &out, gocv.ColorGrayToBGR)
		return out, nil
	case 3:
		if err := yccToBGR(planes[0], planes[1], planes[2], w, h, out); err != nil {
			out.Close()
			return gocv.Mat{}, err
		}
		return out, nil
	}
	out.Close()
	return gocv.Mat{}, fmt.Errorf("%d planes, want 1 or 3", len(planes))
}
