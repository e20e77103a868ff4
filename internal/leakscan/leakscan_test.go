package leakscan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/synth"
)

func TestFinds(t *testing.T) {
	raw, _ := testenv.SceneJPEG(t, 1, 320, 240, 1, 90)
	in := synth.WithMetadata(raw, synth.Metadata{Orientation: 6})
	ix := New([][]byte{in})
	dir := t.TempDir()
	mid := len(in) - 500
	os.WriteFile(filepath.Join(dir, "leak"), append([]byte("prefix"), in[mid:mid+Run]...), 0o644)
	os.WriteFile(filepath.Join(dir, "short"), append([]byte("prefix"), in[mid:mid+Run-1]...), 0o644)
	os.WriteFile(filepath.Join(dir, "exif"), []byte("xxExif\x00\x00yy"), 0o644)
	found, err := ix.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Errorf("found %v; want the leak and the EXIF header, not the 31-byte run", found)
	}
}

func TestMetadataOnly(t *testing.T) {
	raw, _ := testenv.SceneJPEG(t, 1, 320, 240, 1, 90)
	in := synth.WithMetadata(raw, synth.All(1, nil))
	spans := metadata(in)
	if len(spans) == 0 {
		t.Fatal("input has no metadata; the test would prove nothing")
	}
	ix := NewMetadata([][]byte{in})
	pixels := in[len(in)-500 : len(in)-500+2*Run]
	s := spans[len(spans)-1]
	meta := in[s[1]-2*Run : s[1]]
	if what, ok := ix.Find(pixels); ok {
		t.Errorf("compressed pixels counted: %s", what)
	}
	if _, ok := ix.Find(meta); !ok {
		t.Error("a run of a metadata segment not found")
	}
	if _, ok := New([][]byte{in}).Find(pixels); !ok {
		t.Error("the full index misses compressed pixels")
	}
}
