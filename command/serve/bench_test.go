package serve_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	redactcmd "github.com/platemask/platemask/command/redact"
	"github.com/platemask/platemask/command/serve"
	"github.com/platemask/platemask/keys"
)

// BenchmarkServeVsRedact pushes the same 1080p camera images through
// `platemask serve` (HTTP upload, sealed queue, one worker, sink) and
// `platemask redact` (a folder, no queue) with one worker each and one
// OpenCV thread, so images/s is per core. The difference is the queue's
// cost. It also reports the process's peak resident memory (broker, HTTP
// endpoint and the worker together). Run with -benchtime 1x.
func BenchmarkServeVsRedact(b *testing.B) {
	const n, workers = 40, 1
	ins := sizedInputs(b, n, 1920, 1080)
	var total int
	for _, in := range ins {
		total += len(in.data)
	}
	b.Logf("%d images of 1920x1080, %d KiB on average, %d worker", n, total/n/1024, workers)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		keyFile := filepath.Join(dir, "keys.json")
		if _, err := keys.Load(keyFile, nil); err != nil {
			b.Fatal(err)
		}
		// redact: a folder in, a folder out.
		in := filepath.Join(dir, "in")
		os.MkdirAll(in, 0o755)
		for j, x := range ins {
			os.WriteFile(filepath.Join(in, filepath.Base(x.name)+string(rune('a'+j%26))+".jpg"), x.data, 0o644)
		}
		start := time.Now()
		err := redactcmd.Run(context.Background(), &redactcmd.Options{IO: &cmdutil.IOStreams{Out: io.Discard, ErrOut: io.Discard},
			Inputs: []string{in}, Out: filepath.Join(dir, "redact-out"), Workers: workers,
			RedactFlags: pipeline.RedactFlags{Method: "blur", Margin: -1, Detectors: "platenet", NoPlate: "keep",
				TimeBucket: "day", KeyFile: keyFile, Quality: 0, // the default, as serve runs below
				MaxBytes: 32 << 20, MaxPixels: 50_000_000}})
		if err != nil {
			b.Fatal(err)
		}
		redactRate := float64(n) / time.Since(start).Seconds()

		// serve: the same images uploaded over HTTP.
		r := startServe(b, workers, func(o *serve.Options) {
			o.Redact.KeyFile, o.Redact.NoPlate, o.NoInbox = keyFile, "keep", true
		})
		start = time.Now()
		for _, x := range ins {
			post(b, r.addrs.HTTP+"/v1/images", r.token, x)
		}
		// Poll often: a backing-off poll (brokertest.Eventually) would add
		// up to a quarter of a second to a run of about two.
		deadline := time.Now().Add(5 * time.Minute)
		for {
			got, _ := filepath.Glob(filepath.Join(r.out, "*.jpg"))
			if len(got) >= n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d outputs after 5 minutes", len(got), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		serveRate := float64(n) / time.Since(start).Seconds()
		b.ReportMetric(redactRate, "redact-images/s")
		b.ReportMetric(serveRate, "serve-images/s")
		b.ReportMetric(serveRate/redactRate, "serve/redact")
		if mb := peakRSSMiB(); mb > 0 {
			b.ReportMetric(mb, "peak-MiB")
		}
	}
}

// peakRSSMiB reads the process's peak resident set (VmHWM) on Linux.
func peakRSSMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
