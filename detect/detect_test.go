package detect

import (
	"image"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/platemask/platemask/models"
)

func TestPaddingApply(t *testing.T) {
	bounds := image.Rect(0, 0, 200, 100)
	tests := []struct {
		p    Padding
		in   image.Rectangle
		want image.Rectangle
	}{
		{Padding{}, image.Rect(10, 10, 50, 20), image.Rect(10, 10, 50, 20)},
		{Padding{Frac: 0.5}, image.Rect(10, 10, 50, 20), image.Rect(5, 5, 55, 25)},
		{Padding{Px: 3}, image.Rect(10, 10, 50, 20), image.Rect(7, 7, 53, 23)},
		{Padding{WidthFrac: 0.1}, image.Rect(10, 10, 50, 20), image.Rect(6, 10, 54, 20)},
		{Padding{Frac: 1}, image.Rect(0, 0, 50, 20), image.Rect(0, 0, 70, 40)}, // clipped
	}
	for _, tt := range tests {
		if got := tt.p.Apply(tt.in, bounds); got != tt.want {
			t.Errorf("%+v.Apply(%v) = %v, want %v", tt.p, tt.in, got, tt.want)
		}
	}
}

func TestScaleRectCoversOriginal(t *testing.T) {
	// A box found at half size maps back outwards, never inwards.
	got := scaleRect(image.Rect(5, 5, 11, 9), 0.5)
	if !image.Rect(10, 10, 22, 18).In(got) {
		t.Errorf("scaleRect = %v", got)
	}
	if fitScale(image.Rect(0, 0, 2560, 1440), 1280) != 0.5 || fitScale(image.Rect(0, 0, 640, 480), 1280) != 1 {
		t.Error("fitScale")
	}
}

func TestComponents(t *testing.T) {
	// 6x4 heat map with two blobs, one diagonal-connected.
	heat := []float32{
		0.9, 0, 0, 0, 0, 0,
		0, 0.8, 0, 0, 0.7, 0.7,
		0, 0, 0, 0, 0.6, 0,
		0, 0, 0, 0, 0, 0.2,
	}
	got := components(heat, 6, 4, 0.5)
	want := []component{
		{rect: image.Rect(0, 0, 2, 2), peak: 0.9, threshold: 0.5},
		{rect: image.Rect(4, 1, 6, 3), peak: 0.7, threshold: 0.5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("components = %+v, want %+v", got, want)
	}
	if got := components(heat, 6, 4, 0.95); len(got) != 0 {
		t.Errorf("above every value: %+v", got)
	}
}

func TestSuppress(t *testing.T) {
	rs := []Region{
		{Rect: image.Rect(0, 0, 100, 30), Score: 0.9},
		{Rect: image.Rect(2, 1, 98, 29), Score: 0.8},    // inside the first
		{Rect: image.Rect(200, 0, 300, 30), Score: 0.5}, // elsewhere
		{Rect: image.Rect(10, 0, 120, 30), Score: 0.4},  // overlaps, but sticks out
	}
	got := suppress(rs)
	if len(got) != 3 || got[0].Rect != image.Rect(0, 0, 100, 30) || got[1].Rect != image.Rect(200, 0, 300, 30) {
		t.Errorf("suppress = %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		c  Config
		ok bool
	}{
		{NewDefaultConfig(), true},
		{Config{Names: []string{"haar"}}, true},
		{Config{Names: []string{"yunet"}}, false},
		{Config{Names: []string{"yunet"}, YuNetModel: "x.onnx"}, true},
		{Config{Names: []string{"magic"}}, false},
		{Config{}, false},
		{Config{Names: []string{"platenet"}, Network: "fences"}, true},
		{Config{Names: []string{"platenet"}, Network: "fastest"}, false},
		{Config{Names: []string{"platenet"}, Network: "fast", NetModel: "x.onnx", NetManifest: "x.json"}, false},
		// A network for a detector list without platenet would be ignored.
		{Config{Names: []string{"haar"}, Network: "fences"}, false},
		{Config{Names: []string{"none"}, NetModel: "x.onnx", NetManifest: "x.json"}, false},
		{Config{Names: []string{"platenet", "haar"}, Network: "fences"}, true},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: err = %v", tt.c, err)
		}
	}
}

// --network's help, written out by hand, names every shipped network.
func TestNetworkUsageNamesEveryNetwork(t *testing.T) {
	for _, n := range models.Networks {
		if !strings.Contains(NetworkUsage, n+" (") {
			t.Errorf("--network help does not explain %q: %s", n, NetworkUsage)
		}
	}
}

// fillCells sets the cells of r in a heat map w cells wide to v.
func fillCells(heat []float32, w int, r image.Rectangle, v float32) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			heat[y*w+x] = v
		}
	}
}

func TestPlateComponentsSplitsGlow(t *testing.T) {
	const w, h = 40, 20
	valid := image.Rect(0, 0, w, h)
	// A weak glow over half the image with a strong plate-sized core.
	heat := make([]float32, w*h)
	fillCells(heat, w, image.Rect(0, 0, 30, 15), 0.2)
	fillCells(heat, w, image.Rect(10, 5, 18, 8), 0.9)
	got := plateComponents(heat, w, h, 0.1, valid, 0.1)
	if len(got) != 1 || got[0].rect != image.Rect(10, 5, 18, 8) {
		t.Errorf("glow with a core: %+v, want the core alone", got)
	}
	// Splitting off: the component whole, however large.
	if got = plateComponents(heat, w, h, 0.1, valid, 0); len(got) != 1 || got[0].rect != image.Rect(0, 0, 30, 15) {
		t.Errorf("glow with a core, no splitting: %+v, want it whole", got)
	}
	// A weak plate in the same glow beside a strong false detection: both
	// separate from the glow at some level; the weak one is not lost.
	heat = make([]float32, w*h)
	fillCells(heat, w, image.Rect(0, 0, 30, 15), 0.15)
	fillCells(heat, w, image.Rect(4, 5, 10, 8), 0.4)
	fillCells(heat, w, image.Rect(20, 5, 26, 8), 0.9)
	got = plateComponents(heat, w, h, 0.1, valid, 0.1)
	if len(got) != 2 || got[0].rect != image.Rect(4, 5, 10, 8) || got[1].rect != image.Rect(20, 5, 26, 8) {
		t.Errorf("weak plate beside a strong one in a glow: %+v, want both", got)
	}
	// A uniformly strong blob too big for a plate: kept whole, never dropped.
	heat = make([]float32, w*h)
	fillCells(heat, w, image.Rect(0, 0, 30, 15), 0.99)
	got = plateComponents(heat, w, h, 0.1, valid, 0.1)
	if len(got) != 1 || got[0].rect != image.Rect(0, 0, 30, 15) {
		t.Errorf("strong blob: %+v, want it whole", got)
	}
	// A weak glow with nothing stronger inside: kept whole (fail closed).
	heat = make([]float32, w*h)
	fillCells(heat, w, image.Rect(0, 0, 30, 15), 0.2)
	if got = plateComponents(heat, w, h, 0.1, valid, 0.1); len(got) != 1 {
		t.Errorf("weak glow: %+v, want it whole", got)
	}
}

func TestCoreParts(t *testing.T) {
	const w, h = 24, 10
	heat := make([]float32, w*h)
	// A plate (0.9) and a lamp (0.5) joined by a faint glow (0.12), and a
	// speck (0.2) in the glow.
	fillCells(heat, w, image.Rect(1, 1, 22, 9), 0.12)
	fillCells(heat, w, image.Rect(3, 3, 9, 6), 0.9)
	fillCells(heat, w, image.Rect(15, 2, 19, 5), 0.5)
	fillCells(heat, w, image.Rect(12, 7, 13, 8), 0.2)
	c := components(heat, w, h, 0.1)
	if len(c) != 1 {
		t.Fatalf("%d components, want 1", len(c))
	}
	plate, lamp, speck := image.Rect(3, 3, 9, 6), image.Rect(15, 2, 19, 5), image.Rect(12, 7, 13, 8)
	tests := []struct {
		name          string
		core, minPeak float32
		want          []image.Rectangle
	}{
		{"no core: the component", 0, 0, []image.Rectangle{image.Rect(1, 1, 22, 9)}},
		{"bar 0.09 under the threshold: the component", 0.1, 0, []image.Rectangle{image.Rect(1, 1, 22, 9)}},
		{"bar 0.18: three parts", 0.2, 0, []image.Rectangle{plate, speck, lamp}},
		{"bar 0.18, min peak 0.3: the speck goes", 0.2, 0.3, []image.Rectangle{plate, lamp}},
		{"bar 0.54: the plate alone", 0.6, 0, []image.Rectangle{plate}},
		{"min peak at the plate's: the plate alone", 0.2, 0.9, []image.Rectangle{plate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := coreParts(heat, w, c[0], tt.core, tt.minPeak)
			slices.SortFunc(got, func(a, b image.Rectangle) int { return a.Min.X - b.Min.X })
			if !slices.Equal(got, tt.want) {
				t.Errorf("%v, want %v", got, tt.want)
			}
		})
	}
	// coreRect over the same cells spans plate and lamp in one box.
	if got := coreRect(heat, w, c[0], 0.2, 0); got != image.Rect(3, 2, 19, 8) {
		t.Errorf("coreRect: %v, want the box over all three", got)
	}
}

func TestCoreRect(t *testing.T) {
	const w, h = 20, 10
	heat := make([]float32, w*h)
	// A plate (0.9) inside a glow (0.3) that reaches further right.
	fillCells(heat, w, image.Rect(2, 2, 16, 8), 0.3)
	fillCells(heat, w, image.Rect(4, 3, 9, 6), 0.9)
	c := components(heat, w, h, 0.1)
	if len(c) != 1 {
		t.Fatalf("%d components, want 1", len(c))
	}
	tests := []struct {
		core float32
		grow float64
		want image.Rectangle
	}{
		{0, 0, image.Rect(2, 2, 16, 8)},     // off: the whole component
		{0.3, 0, image.Rect(2, 2, 16, 8)},   // bar 0.27: the glow stays
		{0.5, 0, image.Rect(4, 3, 9, 6)},    // bar 0.45: the plate alone
		{0.99, 0, image.Rect(4, 3, 9, 6)},   // never smaller than the peak cells
		{0.5, 0.3, image.Rect(3, 2, 10, 7)}, // core 3 high: k = 1 around it
		{0.5, 1, image.Rect(2, 2, 12, 8)},   // k = 3: the glow as far as x 11
		{0.5, 4, image.Rect(2, 2, 16, 8)},   // k = 12: all of it
		{0, 1, image.Rect(2, 2, 16, 8)},     // grow needs a core
	}
	for _, tt := range tests {
		if got := coreRect(heat, w, c[0], tt.core, tt.grow); got != tt.want {
			t.Errorf("core %v grow %v: %v, want %v", tt.core, tt.grow, got, tt.want)
		}
	}
}
