package detect_test

import (
	"fmt"
	"image"
	"image/color"
	"math/rand"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/synth"
)

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
				im, err := codec.Decode(data, codec.DefaultLimits())
				if err != nil {
					t.Fatal(err)
				}
				regions, err := n.Detect(im)
				im.Close()
				if err != nil {
					t.Fatal(err)
				}
				var rects []image.Rectangle
				for _, r := range regions {
					rects = append(rects, r.Rect)
				}
				for _, p := range plates {
					if c := covered(p.Rect, rects); c < 0.95 {
						t.Errorf("plate %v only %.0f%% covered by %v", p.Rect, 100*c, rects)
					}
				}
			})
		}
	}
}
