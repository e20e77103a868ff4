package detect

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/internal/testenv"
)

// TestInputMatchesBlobFromImage: the network must read exactly what
// OpenCV's own BlobFromImage makes of the resized, padded frame (what
// training and validation fed it), for every scaled size in turn.
func TestInputMatchesBlobFromImage(t *testing.T) {
	const scale = 1.0 / 255
	src := gocv.NewMatWithSize(540, 960, gocv.MatTypeCV8UC3)
	gocv.RandU(&src, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(256, 256, 256, 0))
	im := codec.FromMat(src)
	defer im.Close()
	for _, tc := range []struct{ scaled, size image.Point }{
		{image.Pt(896, 504), image.Pt(896, 512)},
		{image.Pt(640, 360), image.Pt(640, 384)},
		{image.Pt(333, 250), image.Pt(352, 256)},
	} {
		in, err := newInput(tc.scaled, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.fill(im, scale); err != nil {
			t.Fatal(err)
		}
		resized := gocv.NewMat()
		gocv.Resize(src, &resized, tc.scaled, 0, 0, gocv.InterpolationLinear)
		padded := gocv.NewMat()
		gocv.CopyMakeBorder(resized, &padded, 0, tc.size.Y-tc.scaled.Y, 0, tc.size.X-tc.scaled.X,
			gocv.BorderConstant, color.RGBA{})
		want := gocv.BlobFromImage(padded, scale, tc.size, gocv.NewScalar(0, 0, 0, 0), false, false)
		w, g := blobValues(t, want), blobValues(t, in.blob)
		if len(w) != len(g) {
			t.Fatalf("%v: %d values, want %d", tc.size, len(g), len(w))
		}
		for i := range w {
			if w[i] != g[i] {
				t.Fatalf("%v: value %d is %v, BlobFromImage has %v", tc.size, i, g[i], w[i])
			}
		}
		for _, m := range []gocv.Mat{want, resized, padded} {
			m.Close()
		}
		in.close()
	}
}

// TestInputFromPlanes: a frame from the reduced decode goes from its
// planes into the network's input in one pass; what the network reads
// must be what the BGR route (convert to bytes, resize, lay out) gives,
// but for the rounding of those bytes, and the padding must stay zero.
func TestInputFromPlanes(t *testing.T) {
	const scale = 1.0 / 255
	colour, _ := testenv.SceneJPEG(t, 7, 1921, 1083, 3, 90) // 4:2:0, decoded at 1/2
	for name, data := range map[string][]byte{"colour": colour, "grey": testenv.GreyJPEG(t, colour)} {
		c, err := codec.ReadCoefficients(data)
		if err != nil {
			t.Fatal(err)
		}
		reduced, _, err := c.Reduced(896)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if reduced.Planes() == nil {
			t.Fatalf("%s: the reduced decode kept no planes", name)
		}
		bgr := reduced.Clone() // BGR bytes only
		b := reduced.Bounds()
		s := 896.0 / float64(max(b.Dx(), b.Dy()))
		scaled := image.Pt(int(float64(b.Dx())*s+0.5), int(float64(b.Dy())*s+0.5))
		size := image.Pt((scaled.X+31)/32*32, (scaled.Y+31)/32*32)
		var blobs [2][]float32
		for i, im := range []*codec.Image{reduced, bgr} {
			in, err := newInput(scaled, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.fill(im, scale); err != nil {
				t.Fatal(err)
			}
			blobs[i] = append([]float32(nil), blobValues(t, in.blob)...)
			in.close()
			im.Close()
		}
		sum, worst := 0.0, 0.0
		for i, v := range blobs[0] {
			if x, y := i%size.X, i/size.X%size.Y; x >= scaled.X || y >= scaled.Y {
				if v != 0 {
					t.Fatalf("%s: padding at %d,%d is %v", name, x, y, v)
				}
				continue
			}
			d := float64(v-blobs[1][i]) * 255
			d = max(d, -d)
			sum += d
			worst = max(worst, d)
		}
		// Two roundings to bytes on the BGR route: about a third of a
		// level on average.
		mean := sum / float64(3*scaled.X*scaled.Y)
		if mean > 0.5 || worst > 4 {
			t.Errorf("%s: the planes route differs by %.3f levels on average, %.2f at most", name, mean, worst)
		}
		t.Logf("%s: planes route differs by %.3f levels on average, %.2f at most", name, mean, worst)
	}
}

func blobValues(t *testing.T, m gocv.Mat) []float32 {
	t.Helper()
	v, err := m.DataPtrFloat32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
