package codec

import (
	"fmt"

	"gocv.io/x/gocv"
)

// DefaultQuality is the JPEG quality of outputs.
const DefaultQuality = 90

// Encode writes im as a baseline JPEG. OpenCV's encoder writes a JFIF APP0
// and nothing else: no EXIF, XMP, ICC, comments or thumbnails.
func Encode(im *Image, quality int) ([]byte, error) {
	if quality <= 0 || quality > 100 {
		quality = DefaultQuality
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, im.mat, []int{
		gocv.IMWriteJpegQuality, quality,
		gocv.IMWriteJpegProgressive, 0,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	defer buf.Close()
	out := make([]byte, buf.Len())
	copy(out, buf.GetBytes())
	return out, nil
}
