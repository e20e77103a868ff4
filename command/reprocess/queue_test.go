package reprocess_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	reprocesscmd "github.com/platemask/platemask/command/reprocess"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
	"github.com/platemask/platemask/worker"
)

// TestThroughQueue: with --nats the work goes to the queue's workers (a
// pool with the default detector on an embedded broker, as platemask
// worker runs it) and every output comes back into --to; quarantined and
// failed images stay in the queue's quarantine and dead letters.
func TestThroughQueue(t *testing.T) {
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	ring, err := keys.Load(keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := brokertest.Start(t)
	q := brokertest.Open(t, srv.URL(), ring, brokertest.Config())
	ownOut := t.TempDir()
	own, err := sink.NewDir(ownOut)
	if err != nil {
		t.Fatal(err)
	}
	wc := worker.NewDefaultConfig()
	wc.Workers, wc.MaxAttempts = 2, 2
	wc.Backoff, wc.FetchWait = []time.Duration{10 * time.Millisecond}, 200*time.Millisecond
	wc.NewProcessor = func() (*redact.Processor, error) {
		d, err := detect.New(detect.NewDefaultConfig())
		if err != nil {
			return nil, err
		}
		return &redact.Processor{Limits: codec.DefaultLimits(), Detector: d, Keys: ring,
			Policy: redact.Policy{Method: redact.Blur, TimeBucket: redact.BucketDay, NoPlate: redact.Quarantine}}, nil
	}
	pool, err := worker.New(q, own, wc)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	workersDone := make(chan error, 1)
	go func() { workersDone <- pool.Run(wctx) }()
	defer func() { stopWorkers(); <-workersDone }()

	from, to := t.TempDir(), t.TempDir()
	for i := 0; i < 6; i++ {
		img, _, err := synth.Scene(int64(300+i), 640, 360, []int{2, 1, 2, 1, 0, 0}[i])
		if err != nil {
			t.Fatal(err)
		}
		data, _ := synth.EncodeJPEG(img, 90)
		if i == 5 {
			data = []byte("not an image")
		}
		name := filepath.Join(from, "gate-1", time.Date(2024, 12, 30, 15, 25, i, 0, time.UTC).Format("20060102150405000")+"_AB12CDE.jpg")
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	o := &reprocesscmd.Options{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, From: from, To: to,
		DataDir: t.TempDir(), Workers: 1, Window: 4096,
		RedactFlags: pipeline.RedactFlags{Detectors: "none", Method: "blur", Margin: -1, NoPlate: "quarantine",
			TimeBucket: "day", KeyFile: keyFile, MaxBytes: 1 << 20, MaxPixels: 1 << 24},
		JSON: true, Interval: time.Second, Store: &store.Config{}, InFlight: 4, Wait: time.Minute}
	o.Broker.URLs = srv.URL()
	if err := reprocesscmd.Run(ctx, o); !errors.Is(err, cmdutil.Failed) {
		t.Fatalf("reprocess: %v (want the one bad object failed)\n%s", err, errOut.String())
	}
	var sum reprocesscmd.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Redacted+sum.Quarantined != 5 || sum.Failed != 1 || sum.Redacted < 4 || !sum.Complete {
		t.Fatalf("summary %+v", sum)
	}
	images, _ := filepath.Glob(filepath.Join(to, "*.jpg"))
	records, _ := filepath.Glob(filepath.Join(to, "*.json"))
	if len(images) != int(sum.Redacted) || len(records) != len(images) {
		t.Errorf("sink holds %d images and %d records for %d redacted", len(images), len(records), sum.Redacted)
	}
	for _, p := range images {
		data, _ := os.ReadFile(p)
		if info, err := jpeginfo.Scan(data); err != nil || len(info.Metadata()) != 0 {
			t.Errorf("output %s: %v", filepath.Base(p), err)
		}
	}
	if ents, _ := os.ReadDir(ownOut); len(ents) != 0 {
		t.Errorf("the workers' own sink got %d files", len(ents))
	}
	held, err := q.HeldJobs(ctx, false)
	if err != nil || len(held) != int(sum.Quarantined) {
		t.Errorf("%d jobs in the queue's quarantine for %d quarantined (%v)", len(held), sum.Quarantined, err)
	}
	dead, err := q.HeldJobs(ctx, true)
	if err != nil || len(dead) != 1 {
		t.Errorf("%d dead letters, want 1 (%v)", len(dead), err)
	}
}
