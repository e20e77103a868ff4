// Package detect finds licence plates in decoded images. Every detector
// returns regions already padded by the margin it was calibrated with, so
// callers can destroy the regions as they are.
//
// Detectors hold OpenCV state that is not safe for concurrent use: give each
// worker its own (see New).
package detect

import (
	"image"

	"github.com/platemask/platemask/codec"
)

// Region is an area to destroy and what found it.
type Region struct {
	Rect  image.Rectangle
	Kind  string // detector name, "static" or "manual"
	Score float32
}

// Detector finds plates in an upright BGR image.
type Detector interface {
	Name() string
	Detect(im *codec.Image) ([]Region, error)
	Close() error
}

// Padding grows a detection into the region that is destroyed. Detectors
// tend to cut the first and last characters, so the padding is generous.
type Padding struct {
	Frac      float64 // of the box height, on every side
	WidthFrac float64 // of the box width, added left and right
	Px        int     // on every side
}

// Apply pads r and clips it to bounds.
func (p Padding) Apply(r, bounds image.Rectangle) image.Rectangle {
	dy := int(p.Frac*float64(r.Dy())+0.999) + p.Px
	dx := dy + int(p.WidthFrac*float64(r.Dx())+0.999)
	return image.Rect(r.Min.X-dx, r.Min.Y-dy, r.Max.X+dx, r.Max.Y+dy).Intersect(bounds)
}

// scaleRect maps a rectangle found on an image scaled by s back to the
// original, rounding outwards.
func scaleRect(r image.Rectangle, s float64) image.Rectangle {
	if s == 1 {
		return r
	}
	floor := func(v int) int { return int(float64(v) / s) }
	ceil := func(v int) int { return int(float64(v)/s + 0.999) }
	return image.Rect(floor(r.Min.X), floor(r.Min.Y), ceil(r.Max.X), ceil(r.Max.Y))
}

// fitScale is the factor that brings the longer side of b down to maxSide
// (never up).
func fitScale(b image.Rectangle, maxSide int) float64 {
	long := max(b.Dx(), b.Dy())
	if maxSide <= 0 || long <= maxSide {
		return 1
	}
	return float64(maxSide) / float64(long)
}

// MaxSide is the longest side of the images d looks at: it scales larger
// ones down itself, so it may as well be handed them reduced. 0 means it
// needs every pixel (detectors that do not say).
func MaxSide(d Detector) int {
	if m, ok := d.(interface{ MaxSide() int }); ok {
		return m.MaxSide()
	}
	return 0
}

// ScaleUp maps regions found on an image reduced by scale (see MaxSide)
// onto the frame, clipped to its bounds, in place.
func ScaleUp(rs []Region, scale int, bounds image.Rectangle) []Region {
	out := rs[:0]
	for _, r := range rs {
		r.Rect = image.Rectangle{Min: r.Rect.Min.Mul(scale), Max: r.Rect.Max.Mul(scale)}.Intersect(bounds)
		if !r.Rect.Empty() {
			out = append(out, r)
		}
	}
	return out
}
