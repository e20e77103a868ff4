package serve_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/platemask/platemask/command/serve"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/synth"
)

// TestDropFolderHostileFilesAreDeadLetteredAndServeLivesOn drops every
// hostile kind into serve's drop folder under camera-like names: the drop
// folder takes each (it checks only sizes), the worker dead-letters each
// with a public reason, nothing reaches the output folder, the logs name
// none of the files, and the same serve then redacts good images.
func TestDropFolderHostileFilesAreDeadLetteredAndServeLivesOn(t *testing.T) {
	r := startServe(t, 1, func(o *serve.Options) { o.Redact.NoPlate = "keep" })
	q := r.queue(t)
	plain, _ := testenv.SceneJPEG(t, 5, 320, 240, 1, 85)
	bad := synth.BadInputs(plain)
	dir := filepath.Join(r.inbox, "gate-1")
	os.MkdirAll(dir, 0o755)
	var names []string
	for i, b := range bad {
		name := fmt.Sprintf("20241230%06d000_HX%02dQQQ_VEHICLE_DETECTION.jpg", 100000+i, i)
		names = append(names, name)
		if err := os.WriteFile(filepath.Join(dir, name+".part"), b.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Rename(filepath.Join(dir, name+".part"), filepath.Join(dir, name))
	}
	ctx := context.Background()
	brokertest.Eventually(t, 2*time.Minute, func() error {
		dead, err := q.Held(ctx, true)
		if err != nil || len(dead) < len(bad) {
			return fmt.Errorf("%d of %d dead-lettered (%v)", len(dead), len(bad), err)
		}
		return nil
	})
	dead, _ := q.Held(ctx, true)
	reasons := map[string]int{}
	for _, d := range dead {
		reason := d.Metadata["reason"]
		reasons[reason]++
		if !slices.Contains(outcome.Reasons(), reason) || reason == "transient" || reason == "deliveries exhausted" || d.Metadata["deliveries"] != "1" {
			t.Errorf("dead letter reason %q after %s deliveries", reason, d.Metadata["deliveries"])
		}
	}
	t.Logf("%d hostile files dead-lettered: %v", len(dead), reasons)
	if jpgs, _ := filepath.Glob(filepath.Join(r.out, "*")); len(jpgs) != 0 {
		t.Errorf("hostile input reached the output folder: %v", jpgs)
	}

	ins := inputs(t, 3)
	for _, in := range ins {
		post(t, r.addrs.HTTP+"/v1/images", r.token, in)
	}
	outputs := waitOutputs(t, r, len(ins))
	if len(outputs) != len(ins) {
		t.Errorf("%d outputs after the hostile files, want %d", len(outputs), len(ins))
	}
	logs := r.stderr.String()
	for _, n := range names {
		for _, needle := range []string{n, n[:14], n[18:25]} {
			if strings.Contains(logs, needle) {
				t.Errorf("log holds %q", needle)
			}
		}
	}
}

// waitOutputs waits for n outputs (waitAll fails on any dead letter).
func waitOutputs(t *testing.T, r *rig, n int) []string {
	t.Helper()
	var outputs []string
	brokertest.Eventually(t, 2*time.Minute, func() error {
		outputs, _ = filepath.Glob(filepath.Join(r.out, "*.jpg"))
		if len(outputs) < n {
			return fmt.Errorf("%d of %d outputs", len(outputs), n)
		}
		return nil
	})
	return outputs
}
