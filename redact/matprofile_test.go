//go:build matprofile

package redact_test

import (
	"bytes"
	"context"
	"image"
	"testing"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

// TestNoMatLeaks runs every gocv path (decode, orientation, every shipped
// detector, a camera's own network, redact, encode, and each refusal) and
// checks that every Mat created was closed.
func TestNoMatLeaks(t *testing.T) {
	before := gocv.MatProfile.Count()
	img, box := plateScene(t, "AB12 CDE")
	raw, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{raw}
	for o := 1; o <= 8; o++ {
		inputs = append(inputs, synth.WithMetadata(raw, synth.Metadata{Orientation: o}))
	}
	for _, bad := range synth.BadInputs(raw) {
		inputs = append(inputs, bad.Data)
	}
	c := detect.NewDefaultConfig()
	c.Names = []string{"platenet", "haar"}
	d, err := detect.New(c)
	if err != nil {
		t.Fatal(err)
	}
	p := processor(t, testRing(t, 1), redact.Blur)
	p.Detector = d
	// Two jobs in three come from a camera set to an opt-in network, which
	// the Processor builds on first use and frees on Close.
	p.NewNetwork = func(network string) (detect.Detector, error) {
		c.Network = network
		return detect.New(c)
	}
	for i, in := range inputs {
		job := &redact.Job{Data: in, Source: "x.jpg", Manual: []image.Rectangle{box}}
		switch i % 3 {
		case 1:
			job.Network = "fences"
		case 2:
			job.Network = "mirror" // the mirrored pass's crops
		}
		_ = p.Process(context.Background(), job) // bad inputs fail; only leaks matter here
		if i == 0 && job.Output == nil {
			t.Fatal("good input produced no output")
		}
	}
	p.Close()
	if n := gocv.MatProfile.Count() - before; n != 0 {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Errorf("%d Mats leaked:\n%s", n, b.String())
	}
}
