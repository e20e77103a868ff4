package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/platemask/platemask/internal/brokertest"
)

// TestWorkerKilledAndBrokerRestarted: a worker process dies by SIGKILL
// with jobs in hand, and later the broker restarts, both mid-run. Every
// job still comes out, exactly once.
func TestWorkerKilledAndBrokerRestarted(t *testing.T) {
	const n = 200
	ins := inputs(t, n)
	dir := t.TempDir()
	port := brokertest.FreePort(t)
	srv := brokertest.StartIn(t, filepath.Join(dir, "broker"), port)
	cfg := brokertest.Config()
	q := brokertest.Open(t, srv.URL(), ring, cfg)
	out := filepath.Join(dir, "out")

	submit(t, q, ins)
	a := startWorker(t, "worker a", srv.URL(), out)
	startWorker(t, "worker b", srv.URL(), out)

	waitOutputs(t, out, n/5, 2*time.Minute)
	_, inFlight, _ := q.Depth(context.Background())
	a.kill(t)
	t.Logf("worker a killed after %d outputs, %d jobs in flight", len(outputs(out)), inFlight)
	startWorker(t, "worker c", srv.URL(), out)

	waitOutputs(t, out, n/2, 2*time.Minute)
	srv.Stop()
	done := len(outputs(out))
	srv = brokertest.StartIn(t, filepath.Join(dir, "broker"), port)
	t.Logf("broker restarted after %d outputs", done)
	if done >= n {
		t.Fatal("the run finished before the broker restarted; the test proves nothing")
	}

	checkDone(t, q, out, ins, 3*time.Minute)
	if got := len(outputs(out)); got != n {
		t.Errorf("%d outputs", got)
	}
}
