package codec_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/synth"
)

func scene(t testing.TB, w, h int) []byte {
	t.Helper()
	b, _ := testenv.SceneJPEG(t, 7, w, h, 1, 90)
	return b
}

func TestEncodeStripsMetadata(t *testing.T) {
	good := scene(t, 640, 360)
	in := synth.WithMetadata(good, synth.All(1, scene(t, 160, 90)))
	img, err := codec.Decode(in, codec.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	out, err := codec.Encode(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	info, err := jpeginfo.Scan(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 640 || info.Height != 360 {
		t.Errorf("size %dx%d, want 640x360", info.Width, info.Height)
	}
	if info.Frame != 0xC0 {
		t.Errorf("frame 0x%X, want baseline 0xC0", info.Frame)
	}
	if md := info.Metadata(); len(md) != 0 {
		t.Errorf("output carries metadata segments %+v", md)
	}
	if info.Trailing != 0 {
		t.Errorf("%d bytes after EOI", info.Trailing)
	}
	for _, needle := range []string{"Exif", "ACME", "2024", "AB12CDE", "MPF", "xmp"} {
		if bytes.Contains(out, []byte(needle)) {
			t.Errorf("output contains %q", needle)
		}
	}
}

// TestOrientation checks that EXIF orientation is applied: a red mark in
// the stored top-left corner must end up where a viewer shows it.
func TestOrientation(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			c := color.RGBA{20, 20, 200, 255}
			if x < 16 && y < 16 {
				c = color.RGBA{250, 10, 10, 255}
			}
			base.Set(x, y, c)
		}
	}
	raw, err := synth.EncodeJPEG(base, 95)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		o      int
		w, h   int
		markAt image.Point // where the stored top-left lands
	}{
		{1, 64, 32, image.Pt(4, 4)},
		{2, 64, 32, image.Pt(59, 4)},
		{3, 64, 32, image.Pt(59, 27)},
		{4, 64, 32, image.Pt(4, 27)},
		{5, 32, 64, image.Pt(4, 4)},
		{6, 32, 64, image.Pt(27, 4)},
		{7, 32, 64, image.Pt(27, 59)},
		{8, 32, 64, image.Pt(4, 59)},
	}
	for _, tt := range tests {
		data := synth.WithMetadata(raw, synth.Metadata{Orientation: tt.o})
		img, err := codec.Decode(data, codec.DefaultLimits())
		if err != nil {
			t.Fatalf("orientation %d: %v", tt.o, err)
		}
		b := img.Bounds()
		pix, err := img.Pix()
		if err != nil {
			t.Fatal(err)
		}
		i := (tt.markAt.Y*b.Dx() + tt.markAt.X) * 3
		red := pix[i+2] > 180 && pix[i] < 80 // BGR
		if b.Dx() != tt.w || b.Dy() != tt.h || !red {
			t.Errorf("orientation %d: size %v, mark red at %v = %v", tt.o, b.Size(), tt.markAt, red)
		}
		img.Close()
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	good := scene(t, 320, 240)
	for _, bad := range synth.BadInputs(good) {
		t.Run(bad.Name, func(t *testing.T) {
			img, err := codec.Decode(bad.Data, codec.DefaultLimits())
			if err == nil {
				img.Close()
				t.Fatal("decoded a bad input")
			}
			kinds := []error{codec.ErrEmpty, codec.ErrNotJPEG, codec.ErrCorrupt, codec.ErrUnsupported, codec.ErrDimensions}
			typed := false
			for _, k := range kinds {
				typed = typed || errors.Is(err, k)
			}
			if !typed {
				t.Errorf("error %q is not one of the codec kinds", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	good := scene(t, 320, 240)
	tests := []struct {
		name string
		lim  codec.Limits
		want error
	}{
		{"bytes", codec.Limits{MaxBytes: 100, MaxPixels: 1e9, MaxSide: 1e5}, codec.ErrTooLarge},
		{"pixels", codec.Limits{MaxBytes: 1e9, MaxPixels: 320*240 - 1, MaxSide: 1e5}, codec.ErrDimensions},
		{"side", codec.Limits{MaxBytes: 1e9, MaxPixels: 1e9, MaxSide: 300}, codec.ErrDimensions},
		{"fits", codec.Limits{MaxBytes: int64(len(good)), MaxPixels: 320 * 240, MaxSide: 320}, nil},
	}
	for _, tt := range tests {
		_, err := codec.Check(good, tt.lim)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
