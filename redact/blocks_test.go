package redact

import (
	"image"
	"reflect"
	"testing"
)

func TestGroups(t *testing.T) {
	r := func(x0, y0, x1, y1 int) image.Rectangle { return image.Rect(x0, y0, x1, y1) }
	tests := []struct {
		name  string
		rects []image.Rectangle
		want  [][]int
	}{
		{"none", nil, [][]int{}},
		{"apart", []image.Rectangle{r(0, 0, 10, 10), r(20, 0, 30, 10)}, [][]int{{0}, {1}}},
		{"touching edges do not overlap", []image.Rectangle{r(0, 0, 10, 10), r(10, 0, 20, 10)}, [][]int{{0}, {1}}},
		{"chain", []image.Rectangle{r(0, 0, 10, 10), r(50, 50, 60, 60), r(5, 5, 15, 15), r(14, 14, 55, 55)}, [][]int{{0, 1, 2, 3}}},
		{"two pairs", []image.Rectangle{r(0, 0, 10, 10), r(100, 0, 110, 10), r(5, 5, 15, 15), r(105, 5, 115, 15)}, [][]int{{0, 2}, {1, 3}}},
	}
	for _, tt := range tests {
		if got := groups(tt.rects); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
