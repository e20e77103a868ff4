package samples

import (
	"image"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
)

// TestSamplesLookLikeCameraImages: the demo runs the shipped detector on
// these samples, so every plate in them must be found, and the frame must
// not glow over as a whole (without sensor grain, 85-100% of each frame
// was redacted).
func TestSamplesLookLikeCameraImages(t *testing.T) {
	detect.SetThreads(1)
	d, err := detect.New(detect.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var share float64
	const n = 6
	for i := range n {
		data, plates, err := Image(int64(1+i), 1280, 720, 1+i%3)
		if err != nil {
			t.Fatal(err)
		}
		im, err := codec.Decode(data, codec.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		regions, err := d.Detect(im)
		im.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := image.Rect(0, 0, 1280, 720)
		for _, p := range plates {
			if c := covered(regions, p.Rect); c < 0.95 {
				t.Errorf("sample %d: plate %q only %.0f%% covered", i, p.Text, 100*c)
			}
		}
		share += covered(regions, b)
	}
	if share /= n; share > 0.25 {
		t.Errorf("%.0f%% of the frame redacted on average, want at most 25%%", 100*share)
	}
	t.Logf("%.1f%% of the frame redacted on average", 100*share)
}

// covered is the share of r inside any region.
func covered(regions []detect.Region, r image.Rectangle) float64 {
	in := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			for _, g := range regions {
				if image.Pt(x, y).In(g.Rect) {
					in++
					break
				}
			}
		}
	}
	return float64(in) / float64(r.Dx()*r.Dy())
}
