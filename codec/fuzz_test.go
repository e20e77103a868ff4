package codec

import (
	"image"
	"testing"

	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/synth"
)

// FuzzCoefficients runs what redact does with a JPEG on the default path
// (libjpeg, in C, on untrusted bytes) over mutated images: check, coefficient
// read, reduced decode, a region rewritten, write. Nothing may crash,
// and whatever is written must read back as a JPEG of the same size.
func FuzzCoefficients(f *testing.F) {
	good, _ := testenv.SceneJPEG(f, 2, 96, 64, 1, 85)
	f.Add(good)
	for _, bad := range synth.BadInputs(good) {
		f.Add(bad.Data)
	}
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 2048}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Check(data, lim)
		if err != nil {
			return
		}
		c, err := ReadCoefficients(data)
		if err != nil {
			return
		}
		defer c.Close()
		if im, _, err := c.Reduced(32); err == nil {
			im.Close()
		}
		b := c.Bounds()
		if b.Dx() != info.Width || b.Dy() != info.Height {
			t.Fatalf("coefficients %v, header %dx%d", b, info.Width, info.Height)
		}
		area := c.Align(image.Rect(b.Dx()/4, b.Dy()/4, b.Dx()/2, b.Dy()/2))
		if !area.Empty() {
			window := c.Align(area.Inset(-8))
			pix := make([]byte, window.Dx()*window.Dy()*3)
			if err := c.DecodeArea(pix, window, window); err != nil {
				t.Fatal(err)
			}
			if err := c.EncodeArea(pix, window, area); err != nil {
				t.Fatal(err)
			}
		}
		out, err := c.Write()
		if err != nil {
			return
		}
		again, err := ReadCoefficients(out)
		if err != nil {
			t.Fatalf("written JPEG does not read back: %v", err)
		}
		defer again.Close()
		if again.Bounds() != b {
			t.Fatalf("written %v, read %v", again.Bounds(), b)
		}
	})
}
