package redact

import (
	"bytes"
	"image"
	"math/rand"
	"testing"
)

// TestDestroyReadsNoRegionPixel is invariant 2 at the pixel level: change
// only the pixels inside the regions and the result must not change.
func TestDestroyReadsNoRegionPixel(t *testing.T) {
	const w, h = 97, 61
	tests := []struct {
		name  string
		rects []image.Rectangle
	}{
		{"one", []image.Rectangle{image.Rect(20, 20, 60, 35)}},
		{"overlapping", []image.Rectangle{image.Rect(10, 10, 50, 30), image.Rect(40, 20, 80, 40)}},
		{"touching edges", []image.Rectangle{image.Rect(0, 0, 30, 10), image.Rect(70, 50, 97, 61)}},
		{"adjacent", []image.Rectangle{image.Rect(10, 10, 30, 20), image.Rect(30, 10, 50, 20)}},
		{"whole image", []image.Rectangle{image.Rect(0, 0, w, h)}},
		{"outside", []image.Rectangle{image.Rect(-20, -20, 5, 5), image.Rect(200, 200, 300, 300)}},
	}
	for _, tt := range tests {
		for _, m := range []Method{Blur, Fill} {
			t.Run(tt.name+"/"+string(m), func(t *testing.T) {
				r := rand.New(rand.NewSource(1))
				a := make([]byte, w*h*3)
				r.Read(a)
				b := bytes.Clone(a)
				inside := image.Rectangle{}
				for _, rc := range tt.rects {
					rc = rc.Intersect(image.Rect(0, 0, w, h))
					inside = inside.Union(rc)
					for y := rc.Min.Y; y < rc.Max.Y; y++ {
						r.Read(b[(y*w+rc.Min.X)*3 : (y*w+rc.Max.X)*3])
					}
				}
				if !inside.Empty() && bytes.Equal(a, b) {
					t.Fatal("test did not change the region pixels")
				}
				if err := Destroy(a, w, h, tt.rects, m); err != nil {
					t.Fatal(err)
				}
				if err := Destroy(b, w, h, tt.rects, m); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Error("output depends on pixels inside the regions")
				}
			})
		}
	}
}

// TestDestroyChangesOnlyRegions checks nothing outside is touched and the
// inside is replaced.
func TestDestroyChangesOnlyRegions(t *testing.T) {
	const w, h = 64, 48
	orig := make([]byte, w*h*3)
	for i := range orig {
		orig[i] = byte(i * 7)
	}
	pix := bytes.Clone(orig)
	rc := image.Rect(10, 12, 40, 30)
	if err := Destroy(pix, w, h, []image.Rectangle{rc}, Blur); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			same := bytes.Equal(pix[i:i+3], orig[i:i+3])
			in := image.Pt(x, y).In(rc)
			if !in && !same {
				t.Fatalf("pixel %d,%d outside the region changed", x, y)
			}
			if in && !same {
				changed++
			}
		}
	}
	if changed < rc.Dx()*rc.Dy()/2 {
		t.Errorf("only %d of %d region pixels changed", changed, rc.Dx()*rc.Dy())
	}
}

func TestDropNested(t *testing.T) {
	tests := []struct {
		in   []image.Rectangle
		want int
	}{
		{[]image.Rectangle{image.Rect(0, 0, 10, 10), image.Rect(20, 20, 30, 30)}, 2},
		{[]image.Rectangle{image.Rect(0, 0, 10, 10), image.Rect(5, 5, 15, 15)}, 2}, // overlap only
		{[]image.Rectangle{image.Rect(2, 2, 8, 8), image.Rect(0, 0, 10, 10)}, 1},
		{[]image.Rectangle{image.Rect(0, 0, 10, 10), image.Rect(0, 0, 10, 10)}, 1},
		{[]image.Rectangle{image.Rect(1, 1, 2, 2), image.Rect(3, 3, 4, 4), image.Rect(0, 0, 10, 10)}, 1},
	}
	for i, tt := range tests {
		got := dropNested(append([]image.Rectangle(nil), tt.in...))
		if len(got) != tt.want {
			t.Errorf("case %d: %d rects %v, want %d", i, len(got), got, tt.want)
		}
		for _, r := range tt.in {
			covered := false
			for _, g := range got {
				covered = covered || r.In(g)
			}
			if !covered {
				t.Errorf("case %d: %v not covered by %v", i, r, got)
			}
		}
	}
}

// BenchmarkDestroy blurs a region covering a quarter of a 1080p frame (a
// glow over a car body can be that large).
func BenchmarkDestroy(b *testing.B) {
	const w, h = 1920, 1080
	pix := make([]byte, w*h*3)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	rects := []image.Rectangle{image.Rect(200, 300, 1160, 840)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Destroy(pix, w, h, rects, Blur); err != nil {
			b.Fatal(err)
		}
	}
}
