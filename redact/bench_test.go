package redact_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

// devImages loads up to n dev photos (all of them when n <= 0).
func devImages(b *testing.B, n int) [][]byte {
	dir, _ := testenv.DevImages(b)
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	sort.Strings(names)
	// Spread the sample over every source, not just the first prefix.
	if n > 0 && n < len(names) {
		step := len(names) / n
		var pick []string
		for i := 0; i < n; i++ {
			pick = append(pick, names[i*step])
		}
		names = pick
	}
	var out [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// BenchmarkCodecFloor is the yardstick: OpenCV decode and re-encode of the
// same images, which every redactor that re-encodes must pay.
func BenchmarkCodecFloor(b *testing.B) {
	images := devImages(b, 60)
	detect.SetThreads(1)
	b.ResetTimer()
	codecFloor(b, images)
}

// codecFloor decodes and re-encodes images in turn, b.N times.
func codecFloor(b *testing.B, images [][]byte) {
	for i := 0; i < b.N; i++ {
		img, err := codec.Decode(images[i%len(images)], codec.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := codec.Encode(img, codec.DefaultQuality); err != nil {
			b.Fatal(err)
		}
		img.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}

// BenchmarkRedact is the whole redaction of one image on one thread with the
// default detectors: decode, detect, destroy, encode, name.
func BenchmarkRedact(b *testing.B) {
	for _, names := range [][]string{{"platenet"}, {"platenet", "haar"}, {"none"}} {
		b.Run(joinNames(names), func(b *testing.B) {
			images := devImages(b, 60)
			detect.SetThreads(1)
			c := detect.NewDefaultConfig()
			c.Names = names
			d, err := detect.New(c)
			if err != nil {
				b.Fatal(err)
			}
			p := processor(b, testRing(b, 1), redact.Blur)
			if d != nil {
				p.Detector = d
				defer d.Close()
			}
			p.Policy.NoPlate = redact.Keep
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				job := &redact.Job{Data: images[i%len(images)], Source: "bench.jpg"}
				if err := p.Process(context.Background(), job); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
		})
	}
}

func joinNames(n []string) string {
	s := n[0]
	for _, x := range n[1:] {
		s += "+" + x
	}
	return s
}

// BenchmarkFullHD compares the codec floor with whole redaction on 1080p
// images: generated street scenes (which run without the shared photos;
// models before version 5 glowed over much of these, so nearly the whole
// frame was painted) and the dev photos filled to 1920x1080 (real cars and streets;
// skipped where ../shared is absent), the latter also with the opt-in
// faster network of models/fast. Floor, redaction (the default, which
// re-encodes only the blocks under regions), redaction re-encoding the
// whole image at quality 90, and detection alone run in turn on each
// image, so that a busy machine slows all alike. Reports ms/image per core
// for each, the share of the frame painted, and rate-vs-floor: the
// default pipeline's rate as a share of the floor's (the target is at
// least 0.5; reencode-rate-vs-floor for the other).
func BenchmarkFullHD(b *testing.B) {
	b.Run("scenes", func(b *testing.B) {
		var images [][]byte
		for i := 0; i < 8; i++ {
			img, _, err := synth.Scene(int64(i), 1920, 1080, 1+i%3)
			if err != nil {
				b.Fatal(err)
			}
			images = append(images, encode(b, img))
		}
		fullHD(b, images, detect.NewDefaultConfig())
	})
	b.Run("photos", func(b *testing.B) { fullHD(b, photosFullHD(b), detect.NewDefaultConfig()) })
	// The opt-in faster network (models/fast) on the same photos.
	b.Run("photos-fast", func(b *testing.B) {
		c := detect.NewDefaultConfig()
		c.Network = "fast"
		fullHD(b, photosFullHD(b), c)
	})
	// The opt-in mirrored pass (models/mirror) on the same photos.
	b.Run("photos-mirror", func(b *testing.B) {
		c := detect.NewDefaultConfig()
		c.Network = "mirror"
		fullHD(b, photosFullHD(b), c)
	})
}

// photosFullHD is 24 dev photos filled to 1920x1080 and re-encoded.
func photosFullHD(b *testing.B) [][]byte {
	var images [][]byte
	for _, data := range devImages(b, 24) {
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		images = append(images, encode(b, imaging.Fill(img, 1920, 1080, imaging.Center, imaging.Linear)))
	}
	return images
}

func encode(b *testing.B, img image.Image) []byte {
	data, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func fullHD(b *testing.B, images [][]byte, c detect.Config) {
	detect.SetThreads(1)
	d, err := detect.New(c)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	p := processor(b, testRing(b, 1), redact.Blur)
	p.Detector = d
	p.Policy.NoPlate = redact.Keep
	reencode := *p
	reencode.Quality = codec.DefaultQuality
	var floor, whole, full, detection time.Duration
	painted := 0.0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := images[i%len(images)]
		t0 := time.Now()
		img, err := codec.Decode(data, codec.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := codec.Encode(img, codec.DefaultQuality); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := p.Process(context.Background(), &redact.Job{Data: data, Source: "bench.jpg"}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := reencode.Process(context.Background(), &redact.Job{Data: data, Source: "bench.jpg"}); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		// Detection alone, on the pixels the default pipeline gives it.
		coef, err := codec.ReadCoefficients(data)
		if err != nil {
			b.Fatal(err)
		}
		small, scale, err := coef.Reduced(detect.MaxSide(d))
		coef.Close()
		if err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		regions, err := d.Detect(small)
		if err != nil {
			b.Fatal(err)
		}
		detection += time.Since(t4)
		painted += paintedShare(detect.ScaleUp(regions, scale, img.Bounds()), img.Bounds())
		small.Close()
		img.Close()
		floor, whole, full = floor+t1.Sub(t0), whole+t2.Sub(t1), full+t3.Sub(t2)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(floor), "floor-ms/image")
	b.ReportMetric(ms(whole), "redact-ms/image")
	b.ReportMetric(ms(full), "reencode-ms/image")
	b.ReportMetric(ms(detection), "detect-ms/image")
	b.ReportMetric(painted/float64(b.N), "painted-share")
	b.ReportMetric(float64(floor)/float64(whole), "rate-vs-floor")
	b.ReportMetric(float64(floor)/float64(full), "reencode-rate-vs-floor")
}

// BenchmarkSteps shows where the time of one 1080p photo goes, step by
// step, for the default (rewriting the blocks under regions) and for
// re-encoding the whole image at quality 90.
func BenchmarkSteps(b *testing.B) {
	images := photosFullHD(b)
	detect.SetThreads(1)
	d, err := detect.New(detect.NewDefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	names := []string{"decode", "detect", "destroy", "encode", "name"}
	if len(names) != len(redact.Steps) {
		b.Fatalf("%d step names for %d steps", len(names), len(redact.Steps))
	}
	for _, quality := range []int{0, codec.DefaultQuality} {
		b.Run(fmt.Sprintf("quality-%d", quality), func(b *testing.B) {
			p := processor(b, testRing(b, 1), redact.Blur)
			p.Detector, p.Quality, p.Policy.NoPlate = d, quality, redact.Keep
			spent := make([]time.Duration, len(redact.Steps))
			for i := 0; i < b.N; i++ {
				j := &redact.Job{Data: images[i%len(images)], Source: "bench.jpg"}
				for s, step := range redact.Steps {
					t0 := time.Now()
					if err := step(context.Background(), p, j); err != nil {
						b.Fatal(err)
					}
					spent[s] += time.Since(t0)
				}
				j.Close()
			}
			for s, t := range spent {
				b.ReportMetric(float64(t.Microseconds())/1000/float64(b.N), names[s]+"-ms")
			}
		})
	}
}

// paintedShare is the share of the frame inside any region.
func paintedShare(regions []detect.Region, bounds image.Rectangle) float64 {
	n := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			for _, r := range regions {
				if image.Pt(x, y).In(r.Rect) {
					n++
					break
				}
			}
		}
	}
	return float64(n) / float64(bounds.Dx()*bounds.Dy())
}
