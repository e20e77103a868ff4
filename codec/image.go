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

// Image is a decoded, upright 8-bit BGR image. It owns C memory: the caller
// that gets one closes it.
type Image struct {
	mat gocv.Mat
}

// Close frees the pixels.
func (im *Image) Close() error { return im.mat.Close() }

// Bounds is the image rectangle, origin at 0,0.
func (im *Image) Bounds() image.Rectangle {
	return image.Rect(0, 0, im.mat.Cols(), im.mat.Rows())
}

// Mat exposes the pixels to the detectors. The Mat stays owned by the Image.
func (im *Image) Mat() gocv.Mat { return im.mat }

// Pix returns the BGR bytes, row after row with no padding, as a view onto
// the image's own memory: writes change the image.
func (im *Image) Pix() ([]byte, error) {
	if !im.mat.IsContinuous() {
		return nil, fmt.Errorf("pixels are not continuous")
	}
	return im.mat.DataPtrUint8()
}

// FromMat wraps a BGR Mat; the Image takes ownership.
func FromMat(m gocv.Mat) *Image { return &Image{mat: m} }

// Clone returns a deep copy.
func (im *Image) Clone() *Image { return &Image{mat: im.mat.Clone()} }
