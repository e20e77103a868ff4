package jpeginfo_test

import (
	"errors"
	"image"
	"testing"

	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/synth"
)

func fixture(t testing.TB) []byte {
	t.Helper()
	b, _ := testenv.SceneJPEG(t, 3, 320, 240, 1, 85)
	return b
}

func TestScanBaseline(t *testing.T) {
	info, err := jpeginfo.Scan(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 320 || info.Height != 240 || info.Components != 3 || info.Precision != 8 || info.Frame != 0xC0 {
		t.Errorf("info = %+v", info)
	}
	if !info.EOI || info.Trailing != 0 || len(info.Metadata()) != 0 || info.Orientation != 1 {
		t.Errorf("clean file: EOI=%v trailing=%d metadata=%v orientation=%d", info.EOI, info.Trailing, info.Metadata(), info.Orientation)
	}
}

func TestScanMetadata(t *testing.T) {
	good := fixture(t)
	thumb := fixture(t)
	data := synth.WithMetadata(good, synth.All(6, thumb))
	info, err := jpeginfo.Scan(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 6 {
		t.Errorf("orientation = %d, want 6", info.Orientation)
	}
	idents := map[string]bool{}
	for _, s := range info.Metadata() {
		idents[s.Ident] = true
	}
	for _, want := range []string{"Exif", "http://ns.adobe.com/xap/1.0/", "MPF", ""} {
		if !idents[want] {
			t.Errorf("metadata segment %q not reported (have %v)", want, idents)
		}
	}
	if info.Trailing == 0 {
		t.Error("bytes after EOI not reported")
	}
}

func TestScanRefusesBadInput(t *testing.T) {
	for _, bad := range synth.BadInputs(fixture(t)) {
		t.Run(bad.Name, func(t *testing.T) {
			info, err := jpeginfo.Scan(bad.Data)
			if err != nil {
				if !errors.Is(err, jpeginfo.ErrNotJPEG) && !errors.Is(err, jpeginfo.ErrTruncated) && !errors.Is(err, jpeginfo.ErrMalformed) && !errors.Is(err, jpeginfo.ErrExif) {
					t.Errorf("untyped error %v", err)
				}
				return
			}
			// Header-level oddities scan fine; codec refuses them by the info.
			odd := info.Progressive() || info.Arithmetic() || info.Lossless() || info.Precision != 8 ||
				info.Components != 3 || info.Width == 0 || info.Height == 0 || image.Rect(0, 0, info.Width, info.Height).Dx() > 16384
			if !odd {
				t.Errorf("scan accepted %s as a plain baseline JPEG: %+v", bad.Name, info)
			}
		})
	}
}

func FuzzScan(f *testing.F) {
	good := fixture(f)
	f.Add(good)
	f.Add(synth.WithMetadata(good, synth.All(3, good[:200])))
	for _, bad := range synth.BadInputs(good) {
		f.Add(bad.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := jpeginfo.Scan(data)
		if err != nil {
			return
		}
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Errorf("orientation %d out of range", info.Orientation)
		}
		// Every segment lies inside the data: callers slice with them
		// (leakscan, metadata stripping checks).
		for _, s := range info.Segments {
			if s.Offset < 0 || s.Length < 2 || s.Offset+s.Length > len(data) {
				t.Errorf("segment 0x%X at %d+%d outside %d bytes", s.Marker, s.Offset, s.Length, len(data))
			}
		}
		if info.Trailing < 0 || info.Trailing > len(data) {
			t.Errorf("trailing %d of %d bytes", info.Trailing, len(data))
		}
	})
}
