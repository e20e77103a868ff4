package e2e

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/reprocess"
	"github.com/platemask/platemask/store"
)

// TestReprocessThroughWorkersKilled: `platemask reprocess --nats`, as its
// own process, hands an archive to two `platemask worker` processes. Both
// reprocess and a worker die by SIGKILL part-way; reprocess run again
// finishes, and every image is in the sink exactly once, with nothing left
// in the workers' own folders or on the broker.
func TestReprocessThroughWorkersKilled(t *testing.T) {
	const n = 120
	ins := inputs(t, n)
	dir := t.TempDir()
	srv := brokertest.StartIn(t, filepath.Join(dir, "broker"), -1)
	q := brokertest.Open(t, srv.URL(), ring, brokertest.Config())
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	parser, _ := ingest.NewParser("")
	var want []string
	for _, in := range ins {
		key := "gate-1/" + in.name
		if err := os.MkdirAll(filepath.Join(src, "gate-1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, key), in.data, 0o644); err != nil {
			t.Fatal(err)
		}
		name := parser.Parse(key)
		want = append(want, redact.OutputName(ring.Current().HMAC, name.Camera, path.Base(key), in.data))
	}
	sort.Strings(want)

	own := []string{filepath.Join(dir, "own-a"), filepath.Join(dir, "own-b"), filepath.Join(dir, "own-c")}
	a := startWorker(t, "worker a", srv.URL(), own[0])
	startWorker(t, "worker b", srv.URL(), own[1])
	args := []string{"reprocess", "--from", src, "--to", dst, "--nats", srv.URL(), "--data", filepath.Join(dir, "data"),
		"--in-flight", "8", "--progress-interval", "1s"}
	first := startCLI(t, "reprocess 1", args...)
	waitOutputs(t, dst, n/4, 2*time.Minute)
	first.kill(t)
	a.kill(t)
	t.Logf("reprocess and worker a killed after %d outputs", len(outputs(dst)))
	if len(outputs(dst)) >= n {
		t.Fatal("the run finished before the kill; the test proves nothing")
	}
	startWorker(t, "worker c", srv.URL(), own[2])

	second := startCLI(t, "reprocess 2", args...)
	select {
	case err := <-second.end:
		second.end <- err // for Cleanup
		if err != nil {
			t.Fatalf("second reprocess: %v\n%s", err, second.out)
		}
	case <-time.After(4 * time.Minute):
		t.Fatalf("second reprocess did not finish:\n%s", second.out)
	}
	got := outputs(dst)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%d outputs, want exactly the %d expected names", len(got), len(want))
	}
	for _, g := range got {
		if _, err := os.Stat(filepath.Join(dst, strings.TrimSuffix(g, ".jpg")+".json")); err != nil {
			t.Errorf("output without record: %v", err)
		}
	}
	for _, d := range own {
		if len(outputs(d)) != 0 {
			t.Errorf("a worker's own folder %s got outputs", d)
		}
	}
	ctx := context.Background()
	from, _ := store.Open(ctx, src, store.Config{})
	to, _ := store.Open(ctx, dst, store.Config{})
	bucket := queue.ResultsBucket(reprocess.Label(from.String(), to.String()))
	if st, err := q.ResultsStore(ctx, bucket, false); !errors.Is(err, jetstream.ErrBucketNotFound) {
		var names []string
		if err == nil {
			left, _ := st.List(ctx)
			for _, o := range left {
				names = append(names, o.Name)
			}
		}
		t.Errorf("results bucket after the complete run: %v, holding %v", err, names)
	}
}
