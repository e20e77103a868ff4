package jpeginfo_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/jpeginfo"
)

// TestScanRealPhotos: real cameras' files, EXIF included, must pass the
// structural checks that refuse hostile ones.
func TestScanRealPhotos(t *testing.T) {
	dir, _ := testenv.DevImages(t)
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	withExif := 0
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		info, err := jpeginfo.Scan(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(n), err)
			continue
		}
		for _, s := range info.Metadata() {
			if s.Ident == "Exif" {
				withExif++
				break
			}
		}
	}
	if len(names) == 0 || withExif == 0 {
		t.Errorf("%d photos, %d with EXIF: the check proved nothing", len(names), withExif)
	}
	t.Logf("%d photos scanned, %d with EXIF", len(names), withExif)
}
