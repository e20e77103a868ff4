package redact

import (
	"fmt"
	"image"
	"math"
	"slices"
	"time"
)

// TimeBucket is how coarse the time kept in records is.
type TimeBucket string

const (
	BucketNone TimeBucket = "none"
	BucketDay  TimeBucket = "day"
	BucketHour TimeBucket = "hour"
)

// ParseTimeBucket accepts none, day or hour.
func ParseTimeBucket(s string) (TimeBucket, error) {
	switch b := TimeBucket(s); b {
	case BucketNone, BucketDay, BucketHour:
		return b, nil
	}
	return "", fmt.Errorf("unknown time bucket %q (none, day or hour)", s)
}

// Of renders t at the bucket's resolution ("" when none or t is zero).
func (b TimeBucket) Of(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	switch b {
	case BucketDay:
		return t.Format("2006-01-02")
	case BucketHour:
		return t.Format("2006-01-02T15")
	}
	return ""
}

// Policy is what the operator chose: how to destroy, what to keep.
type Policy struct {
	Method     Method     `json:"method"`
	TimeBucket TimeBucket `json:"time_bucket"`
	NoPlate    NoPlate    `json:"no_plate"`
	// Margin overrides detectors' calibrated padding when set.
	Margin *float64 `json:"margin,omitempty"`
}

// NoPlate is what happens to an image in which no plate is found.
type NoPlate string

const (
	// Quarantine holds it back for review (the default: fail closed).
	Quarantine NoPlate = "quarantine"
	// Keep stores it anyway, for users who knowingly accept that.
	Keep NoPlate = "keep"
)

// ParseNoPlate accepts quarantine or keep.
func ParseNoPlate(s string) (NoPlate, error) {
	switch p := NoPlate(s); p {
	case Quarantine, Keep:
		return p, nil
	}
	return "", fmt.Errorf("unknown no-plate policy %q (quarantine or keep)", s)
}

// Record describes one stored output. It holds nothing that identifies a
// person, vehicle or camera without the keys.
type Record struct {
	Schema     int    `json:"schema"`
	Image      string `json:"image"`
	Camera     string `json:"camera,omitempty"`
	TimeBucket string `json:"time_bucket,omitempty"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Regions    int    `json:"regions"`
	// Destroyed is the share of the image's pixels overwritten (0 to 1):
	// a high share flags an image a detector over-redacted.
	Destroyed float64        `json:"destroyed_share"`
	Kinds     map[string]int `json:"region_kinds,omitempty"`
	Detector  string         `json:"detector"`
	Models    []string       `json:"models,omitempty"`
	Policy    Policy         `json:"policy"`
	KeyID     string         `json:"key_id"`
	// Review says an operator released the image from quarantine: with
	// regions they drew, or confirming it holds no plate.
	Review string `json:"review,omitempty"`
}

// destroyedShare is the share of bounds covered by the union of the
// rectangles painted, rounded to 1e-4. Regions are few, so the union is measured on
// the grid of their edges rather than pixel by pixel.
func destroyedShare(regions []image.Rectangle, bounds image.Rectangle) float64 {
	if bounds.Empty() {
		return 0
	}
	var rects []image.Rectangle
	xs, ys := []int{bounds.Min.X, bounds.Max.X}, []int{bounds.Min.Y, bounds.Max.Y}
	for _, r := range regions {
		if c := r.Intersect(bounds); !c.Empty() {
			rects = append(rects, c)
			xs, ys = append(xs, c.Min.X, c.Max.X), append(ys, c.Min.Y, c.Max.Y)
		}
	}
	slices.Sort(xs)
	slices.Sort(ys)
	xs, ys = slices.Compact(xs), slices.Compact(ys)
	area := 0
	for i := 0; i+1 < len(xs); i++ {
		for k := 0; k+1 < len(ys); k++ {
			cell := image.Rect(xs[i], ys[k], xs[i+1], ys[k+1])
			for _, r := range rects {
				if cell.In(r) {
					area += cell.Dx() * cell.Dy()
					break
				}
			}
		}
	}
	share := float64(area) / float64(bounds.Dx()*bounds.Dy())
	return math.Round(share*1e4) / 1e4
}
