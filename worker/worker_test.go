package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/synth"
	"github.com/platemask/platemask/worker"
)

// fakeDetector finds one plate in images at least 400 px wide and none in
// narrower ones, so a test chooses each job's fate by the image's size.
type fakeDetector struct {
	delay time.Duration
	calls *atomic.Int64
}

func (fakeDetector) Name() string { return "fake" }
func (fakeDetector) Close() error { return nil }
func (f fakeDetector) Detect(im *codec.Image) ([]detect.Region, error) {
	if f.calls != nil {
		f.calls.Add(1)
	}
	time.Sleep(f.delay)
	if im.Bounds().Dx() < 400 {
		return nil, nil
	}
	return []detect.Region{{Rect: image.Rect(10, 10, 60, 30), Kind: "fake", Score: 1}}, nil
}

func jpeg(t testing.TB, seed int64, w, h int) []byte {
	t.Helper()
	b, _ := testenv.SceneJPEG(t, seed, w, h, 1, 85)
	return b
}

type rig struct {
	q      *queue.Queue
	out    string
	ring   *keys.Ring
	cancel context.CancelFunc
	done   chan error
}

func config(d detect.Detector, ring *keys.Ring) worker.Config {
	c := worker.NewDefaultConfig()
	c.Workers = 2
	c.Backoff = []time.Duration{10 * time.Millisecond}
	c.FetchWait = 200 * time.Millisecond
	c.NewProcessor = func() (*redact.Processor, error) {
		return &redact.Processor{Limits: codec.DefaultLimits(), Detector: d, Keys: ring, Quality: 85,
			Policy: redact.Policy{Method: redact.Fill, TimeBucket: redact.BucketDay, NoPlate: redact.Quarantine}}, nil
	}
	return c
}

func start(t *testing.T, s sink.Sink, cfg worker.Config, qcfg queue.Config) *rig {
	t.Helper()
	srv := brokertest.Start(t)
	ring := brokertest.Ring(3)
	r := &rig{q: brokertest.Open(t, srv.URL(), ring, qcfg), ring: ring, done: make(chan error, 1)}
	if s == nil {
		r.out = t.TempDir()
		d, err := sink.NewDir(r.out)
		if err != nil {
			t.Fatal(err)
		}
		s = d
	}
	if cfg.NewProcessor == nil {
		cfg = config(fakeDetector{}, ring)
	}
	pool, err := worker.New(r.q, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- pool.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *rig) submit(t *testing.T, data []byte, source string) string {
	t.Helper()
	rc, err := r.q.Submit(context.Background(), queue.Image{Data: data, Source: source, Camera: "gate-1"})
	if err != nil {
		t.Fatal(err)
	}
	return rc.ID
}

// settled waits until the queue holds no job and returns what is held.
// The jobs stream keeps a job until it is acknowledged or terminated, so
// its message count says when all have settled; the consumer's counts
// alone can read zero for a job just published.
func (r *rig) settled(t *testing.T) (quarantined, dead map[string]map[string]string) {
	t.Helper()
	ctx := context.Background()
	brokertest.Eventually(t, 30*time.Second, func() error {
		pending, inFlight, err := r.q.Depth(ctx)
		if err != nil || pending+inFlight > 0 {
			return fmt.Errorf("%d pending, %d in flight, %v", pending, inFlight, err)
		}
		s, err := r.q.JetStream().Stream(ctx, queue.StreamJobs)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs > 0 {
			return fmt.Errorf("%d jobs in the stream", info.State.Msgs)
		}
		return nil
	})
	read := func(dead bool) map[string]map[string]string {
		infos, err := r.q.Held(ctx, dead)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]string{}
		for _, i := range infos {
			out[i.Name] = i.Metadata
		}
		return out
	}
	return read(false), read(true)
}

func outputs(t *testing.T, dir string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	return names
}

func TestOutcomes(t *testing.T) {
	r := start(t, nil, worker.Config{}, brokertest.Config())
	r.submit(t, jpeg(t, 1, 640, 360), "a.jpg")
	r.submit(t, jpeg(t, 2, 480, 320), "b.jpg")
	noPlate := r.submit(t, jpeg(t, 3, 320, 240), "c.jpg")
	bad := r.submit(t, []byte("not a jpeg at all"), "d.jpg")
	// Over the inline limit: travels through the object store.
	r.submit(t, synth.WithMetadata(jpeg(t, 4, 1600, 1200), synth.All(1, nil)), "e.jpg")
	quarantined, dead := r.settled(t)

	if got := outputs(t, r.out); len(got) != 3 {
		t.Errorf("%d outputs, want 3", len(got))
	}
	if q := quarantined[noPlate]; len(quarantined) != 1 || q["reason"] != "no plate found" {
		t.Errorf("quarantine %v", quarantined)
	}
	if d := dead[bad]; len(dead) != 1 || d["reason"] != "not a jpeg" || d["deliveries"] != "1" {
		t.Errorf("dead letters %v", dead)
	}
	// Every raw object was deleted once its job settled.
	st, _ := r.q.JetStream().ObjectStore(context.Background(), queue.BucketRaw)
	if infos, err := st.List(context.Background()); !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Errorf("raw bucket still holds %d objects (%v)", len(infos), err)
	}
}

// flakySink fails its first n puts.
type flakySink struct {
	mu    sync.Mutex
	fails int
	puts  int
	inner sink.Sink
}

func (f *flakySink) Put(ctx context.Context, rec redact.Record, img []byte) error {
	f.mu.Lock()
	f.puts++
	fail := f.puts <= f.fails
	f.mu.Unlock()
	if fail {
		return errors.New("sink unavailable")
	}
	return f.inner.Put(ctx, rec, img)
}

func TestRetryThenStore(t *testing.T) {
	out := t.TempDir()
	d, _ := sink.NewDir(out)
	fs := &flakySink{fails: 2, inner: d}
	r := start(t, fs, worker.Config{}, brokertest.Config())
	r.submit(t, jpeg(t, 1, 640, 360), "a.jpg")
	_, dead := r.settled(t)
	if len(outputs(t, out)) != 1 || len(dead) != 0 || fs.puts != 3 {
		t.Errorf("outputs %d, dead %d, puts %d", len(outputs(t, out)), len(dead), fs.puts)
	}
}

func TestExhaustedGoesDead(t *testing.T) {
	fs := &flakySink{fails: 1 << 30}
	ring := brokertest.Ring(3)
	cfg := config(fakeDetector{}, ring)
	cfg.MaxAttempts = 3
	r := start(t, fs, cfg, brokertest.Config())
	id := r.submit(t, jpeg(t, 1, 640, 360), "a.jpg")
	_, dead := r.settled(t)
	if d := dead[id]; d["reason"] != "deliveries exhausted" || d["deliveries"] != "3" {
		t.Errorf("dead letters %v", dead)
	}
}

// TestHeartbeat: a job slower than the ack wait is not redelivered while
// its worker is alive.
func TestHeartbeat(t *testing.T) {
	var calls atomic.Int64
	ring := brokertest.Ring(3)
	cfg := config(fakeDetector{delay: 2500 * time.Millisecond, calls: &calls}, ring)
	qc := brokertest.Config()
	qc.AckWait = time.Second
	r := start(t, nil, cfg, qc)
	r.submit(t, jpeg(t, 1, 640, 360), "a.jpg")
	r.settled(t)
	if n := calls.Load(); n != 1 {
		t.Errorf("detector ran %d times, want 1", n)
	}
	if len(outputs(t, r.out)) != 1 {
		t.Error("no output")
	}
}

// TestDrain: cancelling Run lets the job in hand finish and be acked.
func TestDrain(t *testing.T) {
	var calls atomic.Int64
	ring := brokertest.Ring(3)
	cfg := config(fakeDetector{delay: time.Second, calls: &calls}, ring)
	r := start(t, nil, cfg, brokertest.Config())
	r.submit(t, jpeg(t, 1, 640, 360), "a.jpg")
	brokertest.Eventually(t, 10*time.Second, func() error {
		if calls.Load() == 0 {
			return errors.New("job not started")
		}
		return nil
	})
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil // for Cleanup
	if len(outputs(t, r.out)) != 1 {
		t.Error("drained job left no output")
	}
	pending, inFlight, err := r.q.Depth(context.Background())
	if err != nil || pending+inFlight != 0 {
		t.Errorf("after drain: %d pending, %d in flight, %v", pending, inFlight, err)
	}
}

func TestMain(m *testing.M) {
	detect.SetThreads(1)
	os.Exit(m.Run())
}

// TestResultsBucket: a job naming a results bucket has its output and its
// outcome put there, not into the sink; when that bucket is gone (its
// caller collected everything and dropped it), a second run of the job is
// acknowledged without storing, not dead-lettered.
func TestResultsBucket(t *testing.T) {
	r := start(t, nil, worker.Config{}, brokertest.Config())
	ctx := context.Background()
	bucket := queue.ResultsBucket("w")
	st, err := r.q.ResultsStore(ctx, bucket, true)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.q.Submit(ctx, queue.Image{Data: jpeg(t, 1, 640, 360), Source: "a.jpg", Camera: "gate-1", Results: bucket})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := r.q.Submit(ctx, queue.Image{Data: jpeg(t, 2, 640, 360), Source: "b.jpg", Camera: "gate-1",
		Results: queue.ResultsBucket("gone")})
	if err != nil {
		t.Fatal(err)
	}
	_, dead := r.settled(t)
	if len(dead) != 0 || len(outputs(t, r.out)) != 0 {
		t.Errorf("dead %v, %d outputs in the sink", dead, len(outputs(t, r.out)))
	}
	var o queue.Outcome
	brokertest.Eventually(t, 10*time.Second, func() error {
		b, err := st.GetBytes(ctx, queue.OutcomeName(rc.ID))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &o)
	})
	if o.ID != rc.ID || o.Result != queue.EventStored || o.Image == "" {
		t.Fatalf("outcome %+v", o)
	}
	for _, name := range []string{o.Image, strings.TrimSuffix(o.Image, ".jpg") + ".json"} {
		if _, err := st.GetInfo(ctx, name); err != nil {
			t.Errorf("%s not in the results bucket: %v", name, err)
		}
	}
	if _, err := st.GetInfo(ctx, queue.OutcomeName(gone.ID)); err == nil {
		t.Error("an outcome for the job whose bucket was gone")
	}
}

// gatedSink holds every put until open is closed.
type gatedSink struct {
	open  chan struct{}
	inner sink.Sink
}

func (g *gatedSink) Put(ctx context.Context, rec redact.Record, img []byte) error {
	<-g.open
	return g.inner.Put(ctx, rec, img)
}

// TestSinkDoesNotHoldTheProcessor: while one job's output waits on the
// sink, the worker redacts the next; with every slot taken by jobs
// waiting on the sink it fetches no more, and once the sink moves all
// are stored.
func TestSinkDoesNotHoldTheProcessor(t *testing.T) {
	var calls atomic.Int64
	ring := brokertest.Ring(3)
	cfg := config(fakeDetector{calls: &calls}, ring)
	cfg.Workers = 1
	out := t.TempDir()
	d, err := sink.NewDir(out)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSink{open: make(chan struct{}), inner: d}
	var once sync.Once
	openGate := func() { once.Do(func() { close(g.open) }) }
	r := start(t, g, cfg, brokertest.Config())
	t.Cleanup(openGate) // runs before start's: a failed test must not leave Run waiting on the sink
	for i := range 4 {
		r.submit(t, jpeg(t, int64(i), 640, 360), fmt.Sprintf("%d.jpg", i))
	}
	// One worker has two slots: both jobs get redacted, their puts wait.
	brokertest.Eventually(t, 10*time.Second, func() error {
		if n := calls.Load(); n < 2 {
			return fmt.Errorf("%d jobs redacted while the sink is held, want 2", n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d jobs redacted with both slots waiting on the sink, want 2", n)
	}
	openGate()
	r.settled(t)
	if n := len(outputs(t, out)); n != 4 {
		t.Errorf("%d outputs, want 4", n)
	}
}

// TestCameraMasks: a camera's masks travel with its job and are destroyed
// beside what the detector finds; a job without masks gets none, although
// the same workers ran the masked one.
func TestCameraMasks(t *testing.T) {
	r := start(t, nil, worker.Config{}, brokertest.Config())
	mask := image.Rect(500, 300, 600, 340)
	if _, err := r.q.Submit(context.Background(), queue.Image{Data: jpeg(t, 1, 640, 360), Source: "masked.jpg",
		Camera: "gate-1", Static: []image.Rectangle{mask}}); err != nil {
		t.Fatal(err)
	}
	r.settled(t)
	r.submit(t, jpeg(t, 2, 640, 360), "plain.jpg")
	r.settled(t)

	recs, _ := filepath.Glob(filepath.Join(r.out, "*.json"))
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	var masked, plain int
	for _, p := range recs {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rec redact.Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.Kinds["static"] == 1 && rec.Kinds["fake"] == 1 && rec.Regions == 2:
			masked++
		case rec.Kinds["static"] == 0 && rec.Regions == 1:
			plain++
		default:
			t.Errorf("record %+v", rec)
		}
	}
	if masked != 1 || plain != 1 {
		t.Errorf("%d masked and %d plain records, want one each", masked, plain)
	}
}
