package detect_test

import (
	"fmt"
	"image"
	"image/color"
	"math/rand"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/synth"
)

// TestShippedNetOnGeneratedScenes: on the generated street scenes of
// `platemask samples` (flat sky, flat car bodies, rendered plates: the Go
// generator, not the training data), the shipped model covers every plate.
// It also glows over most of these flat frames, as it learned that large
// flat panels go with plates; the share is held where it stands (85% when
// measured, 93% for the weights before) so that it cannot silently grow.
func TestShippedNetOnGeneratedScenes(t *testing.T) {
	n := shippedNet(t)
	defer n.Close()
	const scenes, maxShare = 12, 0.9
	total := 0.0
	for seed := int64(0); seed < scenes; seed++ {
		data, plates := testenv.SceneJPEG(t, seed, 1280, 720, 1+int(seed)%3, 90)
		rects := detectJPEG(t, n, data)
		for _, p := range plates {
			if c := covered(p.Rect, rects); c < 0.95 {
				t.Errorf("scene %d: plate %v only %.0f%% covered by %v", seed, p.Rect, 100*c, rects)
			}
		}
		total += covered(image.Rect(0, 0, 1280, 720), rects)
	}
	if mean := total / scenes; mean > maxShare {
		t.Errorf("regions cover %.0f%% of the frame on average, want at most %.0f%%", 100*mean, 100*maxShare)
	} else {
		t.Logf("regions cover %.1f%% of the frame on average", 100*mean)
	}
}

// detectJPEG decodes data whole and returns the rects n finds in it.
func detectJPEG(t *testing.T, n *detect.Net, data []byte) []image.Rectangle {
	t.Helper()
	im, err := codec.Decode(data, codec.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	regions, err := n.Detect(im)
	if err != nil {
		t.Fatal(err)
	}
	return rectsOf(regions)
}

func rectsOf(regions []detect.Region) []image.Rectangle {
	var rects []image.Rectangle
	for _, r := range regions {
		rects = append(rects, r.Rect)
	}
	return rects
}

// covered is the share of r inside the union of rects.
func covered(r image.Rectangle, rects []image.Rectangle) float64 {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			for _, q := range rects {
				if image.Pt(x, y).In(q) {
					n++
					break
				}
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

// TestShippedNetOnReducedFrames: redact hands the model 1080p frames
// decoded at half size in the DCT (codec.Coefficients.Reduced), not resized from
// a full decode as in training. On generated 1080p scenes it must find
// nearly every plate from the reduced decode, and not many fewer than from
// the full one. The scenes' plates are 12-17 px high on flat painted car
// bodies; since version 5 the model no longer takes a flat panel for a
// plate, and over 120 scenes (240 plates) it misses 6 from the reduced
// decode and 3 from the full one (version 4, which glowed over the panels:
// none and one). Real plates of those sizes are held to the recall targets
// by command/eval's TestEvalDevPhotos.
func TestShippedNetOnReducedFrames(t *testing.T) {
	n := shippedNet(t)
	defer n.Close()
	const scenes = 40
	missed := map[string]int{}
	plates := 0
	for seed := int64(100); seed < 100+scenes; seed++ {
		data, want := testenv.SceneJPEG(t, seed, 1920, 1080, 1+int(seed)%3, 90)
		plates += len(want)
		full, err := codec.Decode(data, codec.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		coef, err := codec.ReadCoefficients(data)
		if err != nil {
			t.Fatal(err)
		}
		reduced, scale, err := coef.Reduced(detect.MaxSide(n))
		coef.Close()
		if err != nil {
			t.Fatal(err)
		}
		if scale != 2 {
			t.Fatalf("1080p decoded at 1/%d for a %d-pixel model", scale, detect.MaxSide(n))
		}
		for name, im := range map[string]*codec.Image{"full": full, "reduced": reduced} {
			regions, err := n.Detect(im)
			if err != nil {
				t.Fatal(err)
			}
			if name == "reduced" {
				regions = detect.ScaleUp(regions, scale, full.Bounds())
			}
			rects := rectsOf(regions)
			for _, p := range want {
				if c := covered(p.Rect, rects); c < 0.95 {
					missed[name]++
					t.Logf("%s decode, scene %d: plate %v only %.0f%% covered", name, seed, p.Rect, 100*c)
				}
			}
		}
		full.Close()
		reduced.Close()
	}
	t.Logf("%d plates: %d missed from the reduced decode, %d from the full decode", plates, missed["reduced"], missed["full"])
	if recall := 1 - float64(missed["reduced"])/float64(plates); recall < 0.95 {
		t.Errorf("from the reduced decode recall %.3f, want at least 0.95", recall)
	}
	if missed["reduced"] > missed["full"]+2 {
		t.Errorf("the reduced decode missed %d plates, the full decode %d", missed["reduced"], missed["full"])
	}
}

// TestShippedNetBehindFence: a car-park camera often looks through the
// perimeter fence. On generated scenes seen through a chain-link fence of
// several sizes, the shipped model still covers every plate. (These plates
// are large and sharp; the fence probe of models/train/probes.py measures
// the harder case, real dashcam frames behind a fence.)
func TestShippedNetBehindFence(t *testing.T) {
	n := shippedNet(t)
	defer n.Close()
	for _, gap := range []int{8, 12, 20, 32} {
		for seed := int64(0); seed < 6; seed++ {
			t.Run(fmt.Sprintf("gap%d/scene%d", gap, seed), func(t *testing.T) {
				img, plates, err := synth.Scene(seed, 1280, 720, 1+int(seed)%3)
				if err != nil {
					t.Fatal(err)
				}
				synth.SensorNoise(img, rand.New(rand.NewSource(seed)), 4)
				synth.Fence(img, gap, 2, color.NRGBA{170, 170, 165, 255}, 0.9)
				data, err := synth.EncodeJPEG(img, 90)
				if err != nil {
					t.Fatal(err)
				}
				rects := detectJPEG(t, n, data)
				for _, p := range plates {
					if c := covered(p.Rect, rects); c < 0.95 {
						t.Errorf("plate %v only %.0f%% covered by %v", p.Rect, 100*c, rects)
					}
				}
			})
		}
	}
}
