package reprocess

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/worker"
)

// TestQueuedResumeExactlyOnce reprocesses an archive through a real broker
// and a worker pool that only knows the queue: stopped part-way and run
// again, every good object ends up in the sink exactly once, bad ones are
// failed from the dead letters, and neither the workers' own sink nor the
// results bucket keeps anything.
func TestQueuedResumeExactlyOnce(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	src, good := fixture(t, 60)
	dst, _ := store.Open(ctx, filepath.Join(t.TempDir(), "sink"), store.Config{})
	ckPath := Path(t.TempDir(), src.String(), dst.String())

	q, ownOut := queueWithWorkers(t, ring)
	parser, _ := ingest.NewParser("")
	bucket := queue.ResultsBucket("test")
	var processed atomic.Int64
	run := func(stopAt int64) Stats {
		ck, err := OpenCheckpoint(ckPath, ring)
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Close()
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var n atomic.Int64
		runner := &Queued{Queue: q, Results: bucket, InFlight: 8, Wait: time.Minute, Parser: parser,
			MaxBytes: 1 << 20, Source: src, Sink: dst}
		rp := New(Config{Source: src, Runner: runner, Checkpoint: ck, Window: 20,
			OnResult: func(Result) {
				processed.Add(1)
				if n.Add(1) == stopAt {
					cancel()
				}
			}})
		err = rp.Run(rctx)
		if stopAt > 0 && err == nil {
			t.Fatal("run was not interrupted")
		}
		if stopAt == 0 && err != nil {
			t.Fatal(err)
		}
		return rp.Stats()
	}
	first := run(25)
	second := run(0)
	if total := first.Redacted + first.Failed + second.Redacted + second.Failed; total != 60 || processed.Load() != 60 {
		t.Errorf("processed %d objects over two runs (%d results), want 60 exactly", total, processed.Load())
	}
	if failed := first.Failed + second.Failed; failed != int64(60-len(good)) {
		t.Errorf("%d failed, want the %d bad objects", failed, 60-len(good))
	}

	var want, got []string
	for _, k := range good {
		data, _ := src.Get(ctx, k, 1<<20)
		name := parser.Parse(k)
		want = append(want, redact.OutputName(ring.Current().HMAC, name.Camera, path.Base(k), data))
	}
	dst.List(ctx, "", func(o store.Object) error {
		if path.Ext(o.Key) == ".jpg" {
			got = append(got, o.Key)
		}
		return nil
	})
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sink holds %d images, want the %d expected names exactly", len(got), len(want))
	}
	if o, err := dst.Stat(ctx, sink.RecordName(want[0])); err != nil || o.Size == 0 {
		t.Errorf("record of an output: %v", err)
	}
	// Nothing was left where it does not belong.
	if ents, _ := filepath.Glob(filepath.Join(ownOut, "*")); len(ents) != 0 {
		t.Errorf("the workers' own sink got %d files", len(ents))
	}
	// The complete run dropped its results bucket, empty.
	if st, err := q.ResultsStore(ctx, bucket, false); !errors.Is(err, jetstream.ErrBucketNotFound) {
		var names []string
		if err == nil {
			left, _ := st.List(ctx)
			for _, o := range left {
				names = append(names, o.Name)
			}
		}
		t.Errorf("results bucket after a complete run: %v, holding %v", err, names)
	}
	dead, err := q.HeldJobs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 60-len(good) {
		t.Errorf("%d dead letters, want %d", len(dead), 60-len(good))
	}
}

// queueWithWorkers starts a broker and a worker pool on it that stores
// into a folder of its own, which it returns.
func queueWithWorkers(t *testing.T, ring *keys.Ring) (*queue.Queue, string) {
	t.Helper()
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
		return &redact.Processor{Limits: codec.DefaultLimits(), Keys: ring,
			Policy: redact.Policy{Method: redact.Blur, TimeBucket: redact.BucketDay, NoPlate: redact.Keep}}, nil
	}
	pool, err := worker.New(q, own, wc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return q, ownOut
}

// TestQueuedCheckpointLost: a run that stopped after collecting outputs
// but before recording them publishes those jobs again, and the broker
// drops them as duplicates, so no outcome comes back. Here the whole
// checkpoint is lost after a complete run: the rerun must still settle
// every object at once, from the sink and the dead letters.
func TestQueuedCheckpointLost(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	src, good := fixture(t, 20)
	dst, _ := store.Open(ctx, filepath.Join(t.TempDir(), "sink"), store.Config{})
	ckPath := Path(t.TempDir(), src.String(), dst.String())
	q, _ := queueWithWorkers(t, ring)
	parser, _ := ingest.NewParser("")
	run := func() Stats {
		ck, err := OpenCheckpoint(ckPath, ring)
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Close()
		runner := &Queued{Queue: q, Results: queue.ResultsBucket("lost"), InFlight: 4, Wait: 20 * time.Second,
			Parser: parser, MaxBytes: 1 << 20, Source: src, Sink: dst}
		rp := New(Config{Source: src, Runner: runner, Checkpoint: ck})
		if err := rp.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return rp.Stats()
	}
	first := run()
	if err := os.Remove(ckPath); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second := run()
	if second.Redacted != int64(len(good)) || second.Failed != first.Failed || second.Failed != int64(20-len(good)) {
		t.Errorf("rerun without a checkpoint: %+v (first %+v)", second, first)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("rerun took %s: it waited on jobs the broker dropped as duplicates", d)
	}
}

// TestQueuedStopsWithoutWorkers: with nobody consuming, a run stops with
// an error that says so rather than hanging.
func TestQueuedStopsWithoutWorkers(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	src, _ := fixture(t, 3)
	dst, _ := store.Open(ctx, filepath.Join(t.TempDir(), "sink"), store.Config{})
	srv := brokertest.Start(t)
	q := brokertest.Open(t, srv.URL(), ring, brokertest.Config())
	parser, _ := ingest.NewParser("")
	runner := &Queued{Queue: q, Results: queue.ResultsBucket("idle"), Wait: time.Second, Parser: parser,
		MaxBytes: 1 << 20, Source: src, Sink: dst}
	err := New(Config{Source: src, Runner: runner}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "workers running") {
		t.Fatalf("run without workers: %v", err)
	}
}
