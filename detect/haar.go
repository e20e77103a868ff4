package detect

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/codec"
)

// CascadePaths are where Debian's opencv-data and common builds install the
// plate cascade.
var CascadePaths = []string{
	"/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml",
	"/usr/share/opencv/haarcascades/haarcascade_russian_plate_number.xml",
	"/usr/local/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml",
}

// FindCascade returns the first installed plate cascade.
func FindCascade() (string, error) {
	for _, p := range CascadePaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Haar plate cascade found: install opencv-data or pass --cascade")
}

// Haar runs OpenCV's Russian-plate Haar cascade (opencv-data).
type Haar struct {
	cc      gocv.CascadeClassifier
	pad     Padding
	maxSide int
	file    string
}

// HaarPadding is the default padding: the cascade's box is tight and often
// misses a character at either end.
var HaarPadding = Padding{Frac: 0.25, WidthFrac: 0.1, Px: 2}

// NewHaar loads the cascade at path ("" finds the installed one).
func NewHaar(path string, pad Padding) (*Haar, error) {
	if path == "" {
		var err error
		if path, err = FindCascade(); err != nil {
			return nil, err
		}
	}
	cc := gocv.NewCascadeClassifier()
	if !cc.Load(path) {
		cc.Close()
		return nil, fmt.Errorf("load cascade %s: not a cascade file", path)
	}
	return &Haar{cc: cc, pad: pad, maxSide: 1280, file: filepath.Base(path)}, nil
}

func (h *Haar) Name() string { return "haar" }

// MaxSide is the size the cascade scales larger images down to.
func (h *Haar) MaxSide() int { return h.maxSide }

func (h *Haar) Close() error { return h.cc.Close() }

func (h *Haar) Detect(im *codec.Image) ([]Region, error) {
	src := im.Mat()
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(src, &gray, gocv.ColorBGRToGray)
	s := fitScale(im.Bounds(), h.maxSide)
	if s < 1 {
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(gray, &small, image.Point{}, s, s, gocv.InterpolationArea)
		gray, small = small, gray
	}
	rects := h.cc.DetectMultiScaleWithParams(gray, 1.1, 3, 0, image.Pt(24, 8), image.Point{})
	out := make([]Region, 0, len(rects))
	for _, r := range rects {
		out = append(out, Region{Rect: h.pad.Apply(scaleRect(r, s), im.Bounds()), Kind: "haar", Score: 1})
	}
	return out, nil
}
