// Package testenv finds the measurement data that lives beside the
// repository (../shared), for tests and benchmarks that need real photos,
// and makes the generated JPEGs that most tests feed the pipeline.
package testenv

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
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

// GreyJPEG is the generated JPEG data re-encoded as a one-component grey
// JPEG (Go's encoder, quality 88), the layout infrared cameras write.
func GreyJPEG(tb testing.TB, data []byte) []byte {
	tb.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	grey := image.NewGray(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			grey.Set(x, y, color.GrayModel.Convert(img.At(x, y)))
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, grey, &jpeg.Options{Quality: 88}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
