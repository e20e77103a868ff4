package audit

import (
	"context"
	"crypto/rand"
	"fmt"
	"image"
	mrand "math/rand"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

func TestNameKinds(t *testing.T) {
	tests := []struct {
		key  string
		want []string
	}{
		{"20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", []string{"plate", "time"}},
		{"192.168.0.64_01_20190319093422939_MOTION_DETECTION.jpg", []string{"ip", "time"}},
		{"CAM01/2023/09/18/20230918-111800_CAM01_AB12CDE.jpg", []string{"camera", "plate", "time"}},
		{"kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", nil},
		{"kfqm3bdyu7wvyjxw2mpbnz4gxe.json", nil},
		{"quarantine/kfqm3bdyu7wvyjxw2mpbnz4gxe.sealed", nil},
		{"2024-12-30/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", []string{"time"}},
		{"00-11-22-33-44-55/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", []string{"mac"}},
	}
	for _, tt := range tests {
		if got := NameKinds(tt.key); !slices.Equal(got, tt.want) {
			t.Errorf("NameKinds(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestPseudonymsPassClean: every name platemask makes passes, whatever
// characters its hash holds.
func TestPseudonymsPassClean(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for i := 0; i < 20000; i++ {
		name := redact.OutputName(key, "CAM01", fmt.Sprint(i), []byte{byte(i)})
		if k := NameKinds(name); len(k) > 0 {
			t.Fatalf("pseudonymous name flagged as %v", k)
		}
	}
}

func TestMetadata(t *testing.T) {
	img, _, err := synth.Scene(3, 160, 120, 1)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := synth.EncodeJPEG(img, 85)
	if err != nil {
		t.Fatal(err)
	}
	thumb, _ := synth.EncodeJPEG(img.SubImage(img.Bounds()), 50)
	kinds, trailing, err := Metadata(synth.WithMetadata(clean, synth.All(6, thumb)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{MetaEXIF, MetaThumbnail, MetaXMP, MetaMPF, MetaComment} {
		if !slices.Contains(kinds, k) {
			t.Errorf("%s not found in %v", k, kinds)
		}
	}
	if trailing == 0 {
		t.Error("trailing bytes not found")
	}
	if kinds, trailing, err := Metadata(clean); len(kinds) != 0 || trailing != 0 || err != nil {
		t.Errorf("clean JPEG: %v %d %v", kinds, trailing, err)
	}
}

// TestDetectAfterRedaction: the detector finds the plates of raw images,
// and none in platemask's own outputs of them. Images are redacted with
// the default ensemble and audited with the Haar cascade, which is stable;
// what the default ensemble says of the outputs is logged (its model is
// still being trained and fires on edges of synthetic scenes).
func TestDetectAfterRedaction(t *testing.T) {
	ctx := context.Background()
	ring := &keys.Ring{Active: "t"}
	k, _ := keys.New("t")
	ring.Keys = append(ring.Keys, k)
	detect.SetThreads(1)
	newDet := func() (detect.Detector, error) { return detect.New(detect.NewDefaultConfig()) }
	det, err := newDet()
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	p := &redact.Processor{Limits: codec.DefaultLimits(), Detector: det, Keys: ring, Quality: 90,
		Policy: redact.Policy{Method: redact.Blur, NoPlate: redact.Quarantine, TimeBucket: redact.BucketDay}}

	raw, _ := store.Open(ctx, filepath.Join(t.TempDir(), "raw"), store.Config{})
	out, _ := store.Open(ctx, filepath.Join(t.TempDir(), "out"), store.Config{})
	r := mrand.New(mrand.NewSource(1))
	for i := 0; i < 6; i++ {
		img, _, err := synth.Scene(int64(100+i), 640, 360, 2)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := synth.EncodeJPEG(img, 90)
		name := filepath.ToSlash(synth.CameraName(r, i, synth.PlateText(r)))
		raw.Put(ctx, name, data, "image/jpeg")
		j := &redact.Job{Data: data, Source: name}
		if err := p.Process(ctx, j); err != nil {
			t.Logf("image %d: %v", i, err)
			continue
		}
		out.Put(ctx, j.Record.Image, j.Output, "image/jpeg")
	}
	start := time.Now()
	rawRep, err := Run(ctx, Config{Store: raw, NewDetector: newDet, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raw: %v in %v", rawRep.Counts, time.Since(start))
	if rawRep.Counts["plate"] == 0 || rawRep.Counts["name:time"] != 6 {
		t.Errorf("raw audit missed leaks: %v", rawRep.Counts)
	}
	// Each plate found says where, so that a reviewer can look.
	for _, f := range rawRep.Findings {
		if len(f.PlateBoxes) != f.Plates {
			t.Errorf("%d plates but %d boxes", f.Plates, len(f.PlateBoxes))
		}
		for _, b := range f.PlateBoxes {
			if b.Empty() || !b.In(image.Rect(0, 0, 640, 360)) {
				t.Errorf("plate box %v outside the 640x360 image", b)
			}
		}
	}
	haar := func() (detect.Detector, error) { return detect.New(detect.Config{Names: []string{"haar"}, Margin: -1}) }
	outRep, err := Run(ctx, Config{Store: out, NewDetector: haar, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if def, err := Run(ctx, Config{Store: out, NewDetector: newDet, Workers: 2}); err == nil {
		t.Logf("default ensemble on redacted outputs: %d of %d images flagged", def.WithLeaks, def.Images)
	}
	if outRep.Images == 0 || !outRep.Clean() {
		t.Errorf("audit of redacted outputs: %d images, findings %v", outRep.Images, outRep.Counts)
	}
}

func TestSample(t *testing.T) {
	ctx := context.Background()
	s, _ := store.Open(ctx, t.TempDir(), store.Config{})
	for i := 0; i < 200; i++ {
		s.Put(ctx, fmt.Sprintf("20240101%06d.txt", i), []byte("x"), "")
	}
	rep, err := Run(ctx, Config{Store: s, Sample: 20, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Listed != 200 || rep.Scanned != 20 || rep.WithLeaks != 20 {
		t.Errorf("listed %d scanned %d leaks %d", rep.Listed, rep.Scanned, rep.WithLeaks)
	}
}
