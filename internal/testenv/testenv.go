// Package testenv finds the measurement data that lives beside the
// repository (../shared), for tests and benchmarks that need real photos,
// and makes the generated JPEGs that most tests feed the pipeline.
package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/platemask/platemask/synth"
)

// Shared returns the shared data folder (PLATEMASK_SHARED, or ../shared
// beside the module root), skipping the test with a clear message where it
// is absent.
func Shared(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("PLATEMASK_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("skipped: no go.mod above the test; cannot locate ../shared")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "datasets", "plates-dev", "labels.csv")); err != nil {
		tb.Skipf("skipped: labelled photos not found at %s (set PLATEMASK_SHARED)", shared)
	}
	return shared
}

// DevImages returns the plates-dev images folder and labels file.
func DevImages(tb testing.TB) (images, labels string) {
	s := Shared(tb)
	return filepath.Join(s, "datasets", "plates-dev", "images"), filepath.Join(s, "datasets", "plates-dev", "labels.csv")
}

// YuNet returns the LPD-YuNet reference model, skipping where absent.
func YuNet(tb testing.TB) string {
	p := filepath.Join(Shared(tb), "models", "license_plate_detection_lpd_yunet_2022may.onnx")
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("skipped: LPD-YuNet model not found at %s", p)
	}
	return p
}

// SceneJPEG is a generated street scene with cars plates, JPEG-encoded
// at quality, and the plates drawn in it; the test fails if it cannot be
// made.
func SceneJPEG(tb testing.TB, seed int64, w, h, cars, quality int) ([]byte, []synth.Plate) {
	tb.Helper()
	img, plates, err := synth.Scene(seed, w, h, cars)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := synth.EncodeJPEG(img, quality)
	if err != nil {
		tb.Fatal(err)
	}
	return b, plates
}
