package detect

import (
	"image"
	"slices"
	"testing"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/models"
)

func TestMirrorRects(t *testing.T) {
	grid := image.Rect(0, 0, 120, 100)
	tests := []struct {
		name  string
		boxes []image.Rectangle
		want  []image.Rectangle
	}{
		{"none", nil, []image.Rectangle{}},
		{"grown by 8 and aligned to 8", []image.Rectangle{image.Rect(60, 60, 62, 62)},
			[]image.Rectangle{image.Rect(48, 48, 72, 72)}},
		{"clipped to the grid", []image.Rectangle{image.Rect(1, 2, 3, 4), image.Rect(115, 95, 120, 100)},
			[]image.Rectangle{image.Rect(0, 0, 16, 16), image.Rect(104, 80, 120, 100)}},
		{"overlapping crops merged", []image.Rectangle{image.Rect(10, 10, 14, 12), image.Rect(20, 10, 24, 12)},
			[]image.Rectangle{image.Rect(0, 0, 32, 24)}},
		{"touching crops kept apart", []image.Rectangle{image.Rect(10, 10, 14, 12), image.Rect(40, 10, 44, 12)},
			[]image.Rectangle{image.Rect(0, 0, 24, 24), image.Rect(32, 0, 56, 24)}},
		// The first crop touches the other two but overlaps neither, only
		// their merged crop, so the merge must look again from the start.
		{"a merge that reaches an earlier crop", []image.Rectangle{
			image.Rect(34, 4, 35, 5), image.Rect(10, 10, 11, 11), image.Rect(30, 30, 31, 31)},
			[]image.Rectangle{image.Rect(0, 0, 48, 40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mirrorRects(tt.boxes, grid)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%v, want %v", got, tt.want)
			}
		})
	}
}

// mirrorSetup runs the default network with the mirrored pass set up by
// gate on a generated street scene, and returns the net, the first pass's
// heat map, that of the whole input mirrored (mirrored back), and the grid.
func mirrorSetup(t *testing.T, gate func(*models.Manifest)) (n *Net, heat, whole []float32, gw, gh int, valid image.Rectangle) {
	t.Helper()
	onnx, m, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	m.Mirror = true
	gate(&m)
	n, err = NewNet(onnx, m, NetPadding(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	data, _ := testenv.SceneJPEG(t, 3, 1600, 900, 3, 90)
	im, err := codec.Decode(data, codec.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if _, err := n.Detect(im); err != nil { // fills n.in
		t.Fatal(err)
	}
	forward := func(net *gocv.Net, blob gocv.Mat) []float32 {
		net.SetInput(blob, m.Input.Name)
		out := net.Forward(m.Output.Name)
		defer out.Close()
		h, err := out.DataPtrFloat32()
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(h)
	}
	heat = forward(&n.net, n.in.blob)
	sizes := n.in.blob.Size()
	ph, pw := sizes[2], sizes[3]
	gw, gh = pw/m.Output.Stride, ph/m.Output.Stride

	// The whole input mirrored, and its heat map mirrored back.
	src, err := n.in.blob.DataPtrFloat32()
	if err != nil {
		t.Fatal(err)
	}
	flipped := gocv.NewMatWithSizes([]int{1, 3, ph, pw}, gocv.MatTypeCV32F)
	defer flipped.Close()
	dst, err := flipped.DataPtrFloat32()
	if err != nil {
		t.Fatal(err)
	}
	for row := range 3 * ph {
		for x := range pw {
			dst[row*pw+pw-1-x] = src[row*pw+x]
		}
	}
	mirrored := forward(n.mirror, flipped)
	whole = make([]float32, len(mirrored))
	for y := range gh {
		for x := range gw {
			whole[y*gw+x] = mirrored[y*gw+gw-1-x]
		}
	}
	s := m.Output.Stride
	valid = image.Rect(0, 0, (n.in.scaled.X+s-1)/s, (n.in.scaled.Y+s-1)/s)
	return n, heat, whole, gw, gh, valid
}

// TestAgree checks the mirrored pass on a generated street scene against
// its definition: never above the first heat map, zero outside the crops,
// and inside them close to the lower of the first heat map and that of
// the whole image mirrored (the crops lack some context, so not equal).
func TestAgree(t *testing.T) {
	n, heat, whole, gw, gh, valid := mirrorSetup(t, func(m *models.Manifest) { m.MirrorBelow, m.MirrorMinHeight = 0, 0 })
	got, err := n.agree(heat, gw, gh, valid)
	if err != nil {
		t.Fatal(err)
	}
	crops := mirrorRects(n.mirrorBoxes(heat, gw, gh, valid), image.Rect(0, 0, gw, gh))
	if len(crops) == 0 {
		t.Fatal("no crops: the scene's plates were not found")
	}
	var strong, close int
	for y := range gh {
		for x := range gw {
			i := y*gw + x
			in := slices.ContainsFunc(crops, func(r image.Rectangle) bool { return image.Pt(x, y).In(r) })
			switch {
			case got[i] > heat[i]:
				t.Fatalf("cell %d,%d: %v above the first pass's %v", x, y, got[i], heat[i])
			case !in && got[i] != 0:
				t.Fatalf("cell %d,%d outside the crops: %v, want 0", x, y, got[i])
			case in && heat[i] >= float32(n.m.Threshold):
				strong++
				want := min(heat[i], whole[i])
				if d := got[i] - want; d < 0.1 && d > -0.1 {
					close++
				}
			}
		}
	}
	if strong == 0 || close < strong*9/10 {
		t.Errorf("%d of %d cells above the threshold within 0.1 of the whole mirrored image's", close, strong)
	}
}

// TestAgreeGated: with mirror_below, only the components that peak below
// it and are tall enough are looked at again; every cell outside their
// boxes keeps the first pass's heat exactly, and those inside come close
// to the lower of the two passes.
func TestAgreeGated(t *testing.T) {
	// A gate that lets some of the scene's components through and holds
	// others back, whatever the shipped one is.
	n, heat, whole, gw, gh, valid := mirrorSetup(t, func(m *models.Manifest) { m.MirrorBelow, m.MirrorMinHeight = 0.99, 2 })
	got, err := n.agree(heat, gw, gh, valid)
	if err != nil {
		t.Fatal(err)
	}
	boxes := n.mirrorBoxes(heat, gw, gh, valid)
	all := len(plateComponents(heat, gw, gh, float32(n.m.Threshold), valid, float32(n.m.SplitStep)))
	if len(boxes) == 0 || len(boxes) == all {
		t.Fatalf("the gate chose %d of %d components; the test needs some of each", len(boxes), all)
	}
	var inside, close int
	for y := range gh {
		for x := range gw {
			i := y*gw + x
			in := slices.ContainsFunc(boxes, func(r image.Rectangle) bool { return image.Pt(x, y).In(r) })
			switch {
			case !in && got[i] != heat[i]:
				t.Fatalf("cell %d,%d outside the chosen boxes: %v, want the first pass's %v", x, y, got[i], heat[i])
			case got[i] > heat[i]:
				t.Fatalf("cell %d,%d: %v above the first pass's %v", x, y, got[i], heat[i])
			case in && heat[i] >= float32(n.m.Threshold):
				inside++
				if d := got[i] - min(heat[i], whole[i]); d < 0.1 && d > -0.1 {
					close++
				}
			}
		}
	}
	if inside == 0 || close < inside*9/10 {
		t.Errorf("%d of %d cells in the chosen boxes within 0.1 of the whole mirrored image's", close, inside)
	}
}
