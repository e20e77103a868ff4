package redact_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"regexp"
	"strings"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

func testRing(t testing.TB, seed byte) *keys.Ring {
	t.Helper()
	k := keys.Key{ID: "test", HMAC: bytes.Repeat([]byte{seed}, 32), Seal: bytes.Repeat([]byte{seed + 1}, 32)}
	return &keys.Ring{Active: "test", Keys: []keys.Key{k}}
}

func processor(t testing.TB, ring *keys.Ring, m redact.Method) *redact.Processor {
	return &redact.Processor{Limits: codec.DefaultLimits(), Keys: ring,
		Policy: redact.Policy{Method: m, TimeBucket: redact.BucketDay, NoPlate: redact.Quarantine}}
}

// plateScene renders a scene with one plate whose box is aligned to the
// JPEG's 16-pixel MCUs, so that changing the plate changes no compressed
// block outside it.
func plateScene(t testing.TB, text string) (image.Image, image.Rectangle) {
	t.Helper()
	img, _, err := synth.Scene(11, 640, 480, 1)
	if err != nil {
		t.Fatal(err)
	}
	box := image.Rect(240, 320, 400, 368)
	plate, err := synth.RenderPlate(text, box.Dy(), color.RGBA{240, 240, 235, 255})
	if err != nil {
		t.Fatal(err)
	}
	draw.Draw(img, box, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, box, plate, image.Point{}, draw.Src)
	return img, box
}

// TestInvariantIrreversible: change only the plate's pixels in the input,
// redact the same regions, and the output must be byte-identical.
func TestInvariantIrreversible(t *testing.T) {
	imgA, box := plateScene(t, "AB12 CDE")
	imgB, _ := plateScene(t, "XY98 ZZQ")
	a, err := synth.EncodeJPEG(imgA, 92)
	if err != nil {
		t.Fatal(err)
	}
	b, err := synth.EncodeJPEG(imgB, 92)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("inputs are identical; the test would prove nothing")
	}
	// The region is the plate padded by a margin, as detections are.
	region := image.Rect(box.Min.X-8, box.Min.Y-8, box.Max.X+8, box.Max.Y+8)
	for _, tc := range []struct {
		m       redact.Method
		quality int // 0 rewrites the plate's blocks only, 90 re-encodes all
	}{{redact.Blur, 0}, {redact.Fill, 0}, {redact.Blur, 90}, {redact.Fill, 90}} {
		m := tc.m
		p := processor(t, testRing(t, 1), m)
		p.Quality = tc.quality
		ja := &redact.Job{Data: a, Source: "same.jpg", Manual: []image.Rectangle{region}}
		jb := &redact.Job{Data: b, Source: "same.jpg", Manual: []image.Rectangle{region}}
		if err := p.Process(context.Background(), ja); err != nil {
			t.Fatal(err)
		}
		if err := p.Process(context.Background(), jb); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ja.Output, jb.Output) {
			t.Errorf("%s, quality %d: outputs differ when only the plate's pixels differ", m, tc.quality)
		}
	}
}

func TestOutputContract(t *testing.T) {
	img, box := plateScene(t, "N74 DYX")
	raw, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := synth.EncodeJPEG(img, 30)
	if err != nil {
		t.Fatal(err)
	}
	data := synth.WithMetadata(raw, synth.All(1, thumb))
	source := "192.168.0.64_01_20241230152519495_N74DYX_VEHICLE_DETECTION.jpg"
	parser, _ := ingest.NewParser("")
	name := parser.Parse(source)
	job := &redact.Job{Data: data, Source: source, Camera: name.Camera, Name: name, Manual: []image.Rectangle{box}}
	p := processor(t, testRing(t, 1), redact.Blur)
	if err := p.Process(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	info, err := jpeginfo.Scan(job.Output)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 640 || info.Height != 480 || len(info.Metadata()) != 0 || info.Trailing != 0 {
		t.Errorf("output %dx%d metadata %v trailing %d", info.Width, info.Height, info.Metadata(), info.Trailing)
	}
	rec := job.Record
	if !regexp.MustCompile(`^[a-z2-7]{26}\.jpg$`).MatchString(rec.Image) {
		t.Errorf("name %q is not 26 base32 characters", rec.Image)
	}
	if ids := ingest.Identifiers(rec.Image); len(ids) != 0 {
		t.Errorf("name %q looks like it holds %v", rec.Image, ids)
	}
	if rec.TimeBucket != "2024-12-30" || rec.Regions != 1 || rec.Kinds["manual"] != 1 || rec.KeyID != "test" {
		t.Errorf("record %+v", rec)
	}
	if rec.Camera == "" || bytes.Contains([]byte(rec.Camera), []byte("192")) {
		t.Errorf("camera label %q", rec.Camera)
	}

	// Same input and key: same name. Another key: another name.
	again := &redact.Job{Data: data, Source: source, Camera: name.Camera, Manual: []image.Rectangle{box}}
	if err := p.Process(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	other := &redact.Job{Data: data, Source: source, Camera: name.Camera, Manual: []image.Rectangle{box}}
	if err := processor(t, testRing(t, 9), redact.Blur).Process(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if again.Record.Image != rec.Image || other.Record.Image == rec.Image {
		t.Errorf("names: first %s, again %s, other key %s", rec.Image, again.Record.Image, other.Record.Image)
	}
}

func TestNoPlatePolicy(t *testing.T) {
	img, _ := plateScene(t, "AB12 CDE")
	data, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	p := processor(t, testRing(t, 1), redact.Blur)
	job := &redact.Job{Data: data, Source: "x.jpg"}
	if err := p.Process(context.Background(), job); !errors.Is(err, redact.ErrNoPlate) {
		t.Fatalf("quarantine policy: err = %v, want ErrNoPlate", err)
	}
	if job.Output != nil {
		t.Error("quarantined job has output")
	}
	p.Policy.NoPlate = redact.Keep
	job = &redact.Job{Data: data, Source: "x.jpg"}
	if err := p.Process(context.Background(), job); err != nil || job.Output == nil || job.Record.Regions != 0 {
		t.Fatalf("keep policy: err %v, output %d bytes, regions %d", err, len(job.Output), job.Record.Regions)
	}
}

func TestBadInputFails(t *testing.T) {
	img, _ := plateScene(t, "AB12 CDE")
	good, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	p := processor(t, testRing(t, 1), redact.Blur)
	for _, bad := range synth.BadInputs(good) {
		job := &redact.Job{Data: bad.Data, Source: "x.jpg", Manual: []image.Rectangle{image.Rect(0, 0, 10, 10)}}
		err := p.Process(context.Background(), job)
		if err == nil || job.Output != nil {
			t.Errorf("%s: err %v, output %d bytes", bad.Name, err, len(job.Output))
		}
	}
}

// TestKeepsBlocksOutsideRegions: by default only the MCUs under regions are
// encoded afresh; every other pixel decodes exactly as the input's did.
func TestKeepsBlocksOutsideRegions(t *testing.T) {
	img, box := plateScene(t, "AB12 CDE")
	data, err := synth.EncodeJPEG(img, 92)
	if err != nil {
		t.Fatal(err)
	}
	region := image.Rect(box.Min.X-5, box.Min.Y-3, box.Max.X+5, box.Max.Y+3) // not whole MCUs
	p := processor(t, testRing(t, 1), redact.Blur)
	job := &redact.Job{Data: data, Source: "x.jpg", Manual: []image.Rectangle{region}}
	if err := p.Process(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	in, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(bytes.NewReader(job.Output))
	if err != nil {
		t.Fatal(err)
	}
	// The region grows to 16-pixel MCUs; decoders smooth chroma across
	// MCU edges, so compare from one MCU further out.
	grown := image.Rect(region.Min.X/16*16, region.Min.Y/16*16, (region.Max.X+15)/16*16, (region.Max.Y+15)/16*16)
	near := grown.Inset(-16)
	changed := 0
	b := in.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			same := in.At(x, y) == out.At(x, y)
			switch pt := image.Pt(x, y); {
			case !pt.In(near) && !same:
				t.Fatalf("pixel %v outside the region changed", pt)
			case pt.In(box) && !same:
				changed++
			}
		}
	}
	if changed < box.Dx()*box.Dy()*9/10 {
		t.Errorf("only %d of the plate's %d pixels changed", changed, box.Dx()*box.Dy())
	}
	want := float64(grown.Dx()*grown.Dy()) / float64(b.Dx()*b.Dy())
	if d := job.Record.Destroyed - want; d > 1e-4 || d < -1e-4 {
		t.Errorf("record says %.4f of the image destroyed, the grown region is %.4f", job.Record.Destroyed, want)
	}
}

// TestProcessorNetworkPerJob: a job from a camera set to an opt-in network
// runs that network, built once and kept; other jobs run the Processor's
// own detector; records name the one that ran.
func TestProcessorNetworkPerJob(t *testing.T) {
	img, _ := plateScene(t, "AB12 CDE")
	data, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	d, err := detect.New(detect.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := processor(t, testRing(t, 1), redact.Blur)
	p.Detector, p.Models, p.Policy.NoPlate = d, detect.Versions(d), redact.Keep
	built := map[string]int{}
	p.NewNetwork = func(network string) (detect.Detector, error) {
		built[network]++
		c := detect.NewDefaultConfig()
		c.Network = network
		return detect.New(c)
	}
	defer p.Close()
	for _, tc := range []struct{ network, detector string }{
		{"fences", "platenet-fences"}, {"", "platenet"}, {"fences", "platenet-fences"}, {"fast", "platenet-fast"},
	} {
		j := &redact.Job{Data: data, Source: "a.jpg", Network: tc.network}
		if err := p.Process(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if j.Record.Detector != tc.detector || len(j.Record.Models) != 1 || !strings.HasPrefix(j.Record.Models[0], tc.detector+"-") {
			t.Errorf("network %q: detector %q models %v, want %s", tc.network, j.Record.Detector, j.Record.Models, tc.detector)
		}
	}
	if built["fences"] != 1 || built["fast"] != 1 || len(built) != 2 {
		t.Errorf("networks built %v, want each once", built)
	}
	if err := p.Process(context.Background(), &redact.Job{Data: data, Source: "a.jpg", Network: "fastest"}); err == nil {
		t.Error("a job naming an unknown network was processed")
	}
}
