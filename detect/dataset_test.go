package detect_test

import (
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/eval"
	"github.com/platemask/platemask/internal/testenv"
)

// TestDetectorsOnRealPhotos runs each detector on a few labelled photos from
// every source and checks it finds most of their plates.
func TestDetectorsOnRealPhotos(t *testing.T) {
	images, labelsPath := testenv.DevImages(t)
	f, err := os.Open(labelsPath)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := eval.ReadLabels(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Four photos per source, chosen by sorted name: enough to catch a broken
	// detector; command/eval measures quality on all of them.
	perPrefix := map[string][]string{}
	names, _ := filepath.Glob(filepath.Join(images, "*.jpg"))
	for _, n := range names {
		p := eval.Prefix(filepath.Base(n))
		if len(perPrefix[p]) < 4 {
			perPrefix[p] = append(perPrefix[p], n)
		}
	}
	tests := []struct {
		cfg       detect.Config
		minRecall float64
	}{
		{detect.Config{Names: []string{"haar"}, Margin: -1}, 0.3},
		{detect.Config{Names: []string{"yunet"}, YuNetModel: testenv.YuNet(t), Margin: -1}, 0.7},
		{detect.NewDefaultConfig(), 0.9},
	}
	detect.SetThreads(1)
	for _, tt := range tests {
		d, err := detect.New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var sum eval.Summary
		for _, group := range perPrefix {
			for _, path := range group {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				img, err := codec.Decode(data, codec.DefaultLimits())
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				found, err := d.Detect(img)
				if err != nil {
					t.Fatal(err)
				}
				rects := make([]image.Rectangle, 0, len(found))
				for _, r := range found {
					rects = append(rects, r.Rect)
				}
				sum.Add(eval.Score(img.Bounds(), rects, labels[filepath.Base(path)], eval.DefaultCoverage))
				img.Close()
			}
		}
		t.Logf("%s: recall %.3f on %d plates, %.2f%% area away", d.Name(), sum.Recall, sum.Plates, sum.AwayPercent)
		if sum.Recall < tt.minRecall {
			t.Errorf("%s: recall %.3f, want at least %.2f", d.Name(), sum.Recall, tt.minRecall)
		}
		d.Close()
	}
}
