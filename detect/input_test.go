package detect

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

// TestInputMatchesBlobFromImage: the network must read exactly what
// OpenCV's own BlobFromImage makes of the resized, padded frame (what
// training and validation fed it), for every scaled size in turn.
func TestInputMatchesBlobFromImage(t *testing.T) {
	const scale = 1.0 / 255
	src := gocv.NewMatWithSize(540, 960, gocv.MatTypeCV8UC3)
	defer src.Close()
	gocv.RandU(&src, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(256, 256, 256, 0))
	for _, tc := range []struct{ scaled, size image.Point }{
		{image.Pt(896, 504), image.Pt(896, 512)},
		{image.Pt(640, 360), image.Pt(640, 384)},
		{image.Pt(333, 250), image.Pt(352, 256)},
	} {
		in, err := newInput(tc.scaled, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.fill(src, scale); err != nil {
			t.Fatal(err)
		}
		resized := gocv.NewMat()
		gocv.Resize(src, &resized, tc.scaled, 0, 0, gocv.InterpolationLinear)
		padded := gocv.NewMat()
		gocv.CopyMakeBorder(resized, &padded, 0, tc.size.Y-tc.scaled.Y, 0, tc.size.X-tc.scaled.X,
			gocv.BorderConstant, color.RGBA{})
		want := gocv.BlobFromImage(padded, scale, tc.size, gocv.NewScalar(0, 0, 0, 0), false, false)
		w, err1 := want.DataPtrFloat32()
		g, err2 := in.blob.DataPtrFloat32()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
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
