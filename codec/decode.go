package codec

import (
	"fmt"

	"gocv.io/x/gocv"
)

// Decode checks data against lim, decodes it and applies the EXIF
// orientation, so that the result is upright as a viewer shows it.
func Decode(data []byte, lim Limits) (*Image, error) {
	info, err := Check(data, lim)
	if err != nil {
		return nil, err
	}
	m, err := gocv.IMDecode(data, gocv.IMReadColor|gocv.IMReadIgnoreOrientation)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if m.Empty() {
		m.Close()
		return nil, fmt.Errorf("%w: decoder returned no pixels", ErrCorrupt)
	}
	if m.Cols() != info.Width || m.Rows() != info.Height || m.Type() != gocv.MatTypeCV8UC3 {
		m.Close()
		return nil, fmt.Errorf("%w: decoded size differs from header", ErrCorrupt)
	}
	return FromMat(orient(m, info.Orientation)), nil
}

// orient applies EXIF orientation o to m, consuming m.
func orient(m gocv.Mat, o int) gocv.Mat {
	steps := map[int][]func(src gocv.Mat, dst *gocv.Mat){
		2: {flip(1)},
		3: {rotate(gocv.Rotate180Clockwise)},
		4: {flip(0)},
		5: {transpose},
		6: {rotate(gocv.Rotate90Clockwise)},
		7: {transpose, rotate(gocv.Rotate180Clockwise)},
		8: {rotate(gocv.Rotate90CounterClockwise)},
	}[o]
	for _, step := range steps {
		dst := gocv.NewMat()
		step(m, &dst)
		m.Close()
		m = dst
	}
	return m
}

func flip(code int) func(gocv.Mat, *gocv.Mat) {
	return func(src gocv.Mat, dst *gocv.Mat) { gocv.Flip(src, dst, code) }
}

func rotate(code gocv.RotateFlag) func(gocv.Mat, *gocv.Mat) {
	return func(src gocv.Mat, dst *gocv.Mat) { gocv.Rotate(src, dst, code) }
}

func transpose(src gocv.Mat, dst *gocv.Mat) { gocv.Transpose(src, dst) }
