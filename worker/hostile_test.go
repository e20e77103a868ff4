package worker_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/synth"
	"github.com/platemask/platemask/worker"
)

// TestHostileJobsAreDeadLetteredAndWorkerLivesOn feeds every kind of
// hostile file straight into the queue (as a compromised ingest or an
// operator's requeue could): each must be dead-lettered on its first
// delivery with a public reason, nothing may reach the sink, and the same
// workers must then redact a good image.
func TestHostileJobsAreDeadLetteredAndWorkerLivesOn(t *testing.T) {
	r := start(t, nil, worker.Config{}, brokertest.Config())
	bad := synth.BadInputs(jpeg(t, 1, 640, 360))
	if len(bad) < 30 {
		t.Fatalf("only %d hostile kinds", len(bad))
	}
	ids := map[string]string{}
	for _, b := range bad {
		ids[r.submit(t, b.Data, b.Name+".jpg")] = b.Name
	}
	_, dead := r.settled(t)
	if got := outputs(t, r.out); len(got) != 0 {
		t.Fatalf("hostile input reached the sink: %v", got)
	}
	public := outcome.Reasons()
	for id, name := range ids {
		d, ok := dead[id]
		switch {
		case !ok:
			t.Errorf("%s: not dead-lettered", name)
		case !slices.Contains(public, d["reason"]) || d["reason"] == "transient" || d["reason"] == "deliveries exhausted":
			t.Errorf("%s: reason %q is not a clear refusal", name, d["reason"])
		case d["deliveries"] != "1":
			t.Errorf("%s: refused after %s deliveries, want the first", name, d["deliveries"])
		default:
			t.Logf("%-28s %s", name, d["reason"])
		}
	}
	// The same pool, still running, redacts a good image.
	select {
	case err := <-r.done:
		t.Fatalf("worker pool stopped: %v", err)
	default:
	}
	r.submit(t, jpeg(t, 2, 640, 360), "good.jpg")
	r.settled(t)
	if got := outputs(t, r.out); len(got) != 1 {
		t.Errorf("%d outputs after the hostile batch, want the good image's one", len(got))
	}
	entries, _ := os.ReadDir(r.out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("partial output left: %s", filepath.Join(r.out, e.Name()))
		}
	}
}
