package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/synth"
)

// watchedSink counts puts, failed and not, on a real sink.
type watchedSink struct {
	inner  sink.Sink
	delay  time.Duration
	puts   atomic.Int64
	failed atomic.Int64
}

func (w *watchedSink) Put(ctx context.Context, rec redact.Record, img []byte) error {
	w.puts.Add(1)
	time.Sleep(w.delay)
	err := w.inner.Put(ctx, rec, img)
	if err != nil {
		w.failed.Add(1)
	}
	return err
}

type job struct {
	id, source string
	data       []byte
}

// exactlyOnce checks each job ended as exactly one output (with its
// record) or one dead letter, and the sink holds nothing else.
func exactlyOnce(t *testing.T, r *rig, out string, jobs []job) (stored, dead int) {
	t.Helper()
	_, held := r.settled(t)
	var want []string
	for _, j := range jobs {
		name := redact.OutputName(r.ring.Current().HMAC, "gate-1", j.source, j.data)
		_, isDead := held[j.id]
		_, err := os.Stat(filepath.Join(out, name))
		switch {
		case isDead && err == nil:
			t.Errorf("job %s has an output and a dead letter", j.id)
		case !isDead && err != nil:
			t.Errorf("job %s lost: no output, no dead letter", j.id)
		case isDead:
			dead++
		default:
			stored++
			want = append(want, name, strings.TrimSuffix(name, ".jpg")+".json")
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sink holds %v, want exactly %v", got, want)
	}
	if len(held) != dead {
		t.Errorf("%d dead letters, %d of them for these jobs", len(held), dead)
	}
	return stored, dead
}

func submitJobs(t *testing.T, r *rig, n int, w, h int) []job {
	t.Helper()
	var jobs []job
	for i := range n {
		data := jpeg(t, int64(100+i), w, h)
		if w > 1000 {
			// Big enough to travel through the raw object store.
			data = synth.WithMetadata(data, synth.All(1, nil))
		}
		src := fmt.Sprintf("cam-%d.jpg", i)
		jobs = append(jobs, job{id: r.submit(t, data, src), source: src, data: data})
	}
	return jobs
}

// TestSinkFolderBrokenThenRepairedLosesNothing: the output folder
// becomes unwritable (permission denied; as root, a file where the folder
// should be) while jobs run. Every job fails against it at least once and
// is retried; once the folder is back, each job ends as exactly one
// output or one dead letter, and no temporary file is left.
func TestSinkFolderBrokenThenRepairedLosesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d, err := sink.NewDir(out)
	if err != nil {
		t.Fatal(err)
	}
	restore := breakFolder(t, out)
	const n = 8
	r, ws, jobs := failingSinkRun(t, d, n)
	restore()
	stored, dead := exactlyOnce(t, r, out, jobs)
	t.Logf("%d puts, %d failed; %d stored, %d dead", ws.puts.Load(), ws.failed.Load(), stored, dead)
	if stored != n {
		t.Errorf("%d of %d stored after the folder came back", stored, n)
	}
}

// failingSinkRun starts workers with generous retries on a sink that is
// failing, submits n jobs and waits until each has failed about twice.
func failingSinkRun(t *testing.T, s sink.Sink, n int) (*rig, *watchedSink, []job) {
	t.Helper()
	ws := &watchedSink{inner: s}
	ring := brokertest.Ring(3)
	cfg := config(fakeDetector{}, ring)
	cfg.MaxAttempts = 20
	cfg.Backoff = []time.Duration{20 * time.Millisecond, 100 * time.Millisecond}
	r := start(t, ws, cfg, brokertest.Config())
	r.ring = ring
	jobs := submitJobs(t, r, n, 640, 360)
	brokertest.Eventually(t, time.Minute, func() error {
		if f := ws.failed.Load(); f < int64(2*n) {
			return fmt.Errorf("%d failed puts", f)
		}
		return nil
	})
	return r, ws, jobs
}

// breakFolder makes dir unwritable and returns what repairs it.
func breakFolder(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		return func() { os.Chmod(dir, 0o755) }
	}
	// Root ignores permissions: take the folder away instead.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		os.Remove(dir)
		os.Mkdir(dir, 0o755)
	}
}

// TestSlowSinkPastAckWaitStoresEachJobOnce: the sink takes longer than
// the ack wait for every write (a slow network share). A job in its
// settle step must not be handed to a second worker meanwhile: each job
// is put once, stored once, and none is dead-lettered.
func TestSlowSinkPastAckWaitStoresEachJobOnce(t *testing.T) {
	out := t.TempDir()
	d, err := sink.NewDir(out)
	if err != nil {
		t.Fatal(err)
	}
	ws := &watchedSink{inner: d, delay: 2500 * time.Millisecond}
	ring := brokertest.Ring(3)
	qc := brokertest.Config()
	qc.AckWait = time.Second
	r := start(t, ws, config(fakeDetector{}, ring), qc)
	r.ring = ring
	const n = 4
	jobs := submitJobs(t, r, n, 1600, 1200)
	stored, dead := exactlyOnce(t, r, out, jobs)
	if stored != n || dead != 0 {
		t.Errorf("%d stored, %d dead; want all %d stored", stored, dead, n)
	}
	if p := ws.puts.Load(); p != n {
		t.Errorf("%d puts for %d jobs: jobs were redelivered while their worker was writing", p, n)
	}
}

// TestSinkDiskFullThenFreedLosesNothing: the output folder is a real,
// full filesystem (a small tmpfs), so writes fail with ENOSPC part-way.
// Jobs are retried, not dead-lettered; once space is freed each ends as
// exactly one output with its record, and no partial file is left.
func TestSinkDiskFullThenFreedLosesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// Mounting needs root (CAP_SYS_ADMIN); CI runs as root.
	if err := syscall.Mount("tmpfs", out, "tmpfs", 0, "size=512k,mode=0755"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { syscall.Unmount(out, syscall.MNT_DETACH) })
	// Fill it, leaving a few KiB: enough for a record, not for an image.
	filler := filepath.Join(out, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	f.Close()
	os.Truncate(filler, mustSize(t, filler)-8192)

	d, err := sink.NewDir(out)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	r, ws, jobs := failingSinkRun(t, d, n)
	if dead, err := r.q.Held(context.Background(), true); err != nil || len(dead) != 0 {
		t.Errorf("%d jobs dead-lettered while the disk was full (%v)", len(dead), err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	stored, dead := exactlyOnce(t, r, out, jobs)
	t.Logf("%d puts, %d failed; %d stored, %d dead", ws.puts.Load(), ws.failed.Load(), stored, dead)
	if stored != n {
		t.Errorf("%d of %d stored after space was freed", stored, n)
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
