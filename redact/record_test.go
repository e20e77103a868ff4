package redact

import (
	"image"
	"testing"
)

func TestDestroyedShare(t *testing.T) {
	bounds := image.Rect(0, 0, 100, 50)
	reg := func(rs ...image.Rectangle) []image.Rectangle { return rs }
	tests := []struct {
		name    string
		regions []image.Rectangle
		want    float64
	}{
		{"none", nil, 0},
		{"one", reg(image.Rect(0, 0, 10, 10)), 0.02},
		{"overlap counted once", reg(image.Rect(0, 0, 10, 10), image.Rect(5, 5, 15, 15)), 0.035},
		{"nested", reg(image.Rect(0, 0, 20, 20), image.Rect(5, 5, 10, 10)), 0.08},
		{"clipped to the image", reg(image.Rect(90, 40, 200, 200)), 0.02},
		{"outside", reg(image.Rect(200, 200, 300, 300)), 0},
		{"whole frame", reg(image.Rect(-5, -5, 105, 55), image.Rect(10, 10, 20, 20)), 1},
	}
	for _, tt := range tests {
		if got := destroyedShare(tt.regions, bounds); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
