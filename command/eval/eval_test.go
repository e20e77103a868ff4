package eval_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/eval"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/synth"
)

func runJSON(t *testing.T, args ...string) []eval.Report {
	t.Helper()
	var out, errOut bytes.Buffer
	code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, append(args, "--json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var reports []eval.Report
	if err := json.Unmarshal(out.Bytes(), &reports); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	return reports
}

// TestEvalGenerated scores detectors on generated scenes whose plate boxes
// are known exactly.
func TestEvalGenerated(t *testing.T) {
	dir := t.TempDir()
	var labels strings.Builder
	labels.WriteString("image,x,y,w,h\n")
	for i := 0; i < 4; i++ {
		img, plates, err := synth.Scene(int64(100+i), 640, 360, 2)
		if err != nil {
			t.Fatal(err)
		}
		data, err := synth.EncodeJPEG(img, 90)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("gen-%d.jpg", i)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range plates {
			r := p.Rect
			fmt.Fprintf(&labels, "%s,%d,%d,%d,%d\n", name, r.Min.X, r.Min.Y, r.Dx(), r.Dy())
		}
	}
	labelsPath := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labelsPath, []byte(labels.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := runJSON(t, "eval", "--labels", labelsPath, "--images", dir, "--detector", "none,platenet")
	if len(reports) != 2 {
		t.Fatalf("%d reports", len(reports))
	}
	none, net := reports[0].Overall, reports[1].Overall
	if none.Plates != 8 || none.Found != 0 || none.Quarantined != 4 || none.AwayPercent != 0 {
		t.Errorf("none: %+v", none)
	}
	if reports[1].ByPrefix["gen"] == nil || net.Plates != 8 {
		t.Errorf("platenet report %+v", reports[1])
	}
	t.Logf("platenet on generated scenes: recall %.2f, area away %.2f%%", net.Recall, net.AwayPercent)
	if net.Recall < 0.9 {
		t.Errorf("platenet found %d of %d generated plates", net.Found, net.Plates)
	}
	// Every plate "none" missed is listed, in JSON and with --misses.
	if m := reports[0].Missed; len(m) != 8 || !strings.HasPrefix(m[0].Image, "gen-") || m[0].W <= 0 || m[0].Covered != 0 {
		t.Errorf("none's misses: %+v", m)
	}
	if n := len(reports[1].Missed); n != net.Plates-net.Found {
		t.Errorf("platenet lists %d misses for %d plates not found", n, net.Plates-net.Found)
	}
	var out, errOut bytes.Buffer
	args := []string{"eval", "--labels", labelsPath, "--images", dir, "--detector", "none", "--misses"}
	if code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, args); code != 0 {
		t.Fatalf("--misses: exit %d: %s", code, errOut.String())
	}
	if n := strings.Count(out.String(), "\nnone "); n != 8+2 { // two table rows, eight misses
		t.Errorf("--misses printed %d lines for none, want 10:\n%s", n, out.String())
	}
}

// TestEvalDevPhotos measures the default detector on every labelled photo
// and holds it to the quality targets.
func TestEvalDevPhotos(t *testing.T) {
	images, labels := testenv.DevImages(t)
	if testing.Short() {
		t.Skip("skipped in -short mode: evaluates every labelled photo")
	}
	for _, tc := range []struct {
		name string
		args []string // the model, where not the shipped one
		// The area redacted away from plates is held where it stands so
		// that it cannot silently grow (the target is 2%, nearly met on
		// ro- but not on the close-up oa- photos): as detected, and as
		// destroyed, grown to whole MCUs.
		maxAway, maxDestroyedAway float64
	}{
		// Measured 3.94% and 5.22% (version 6 without parts: 4.23% and 5.52%).
		{"shipped", nil, 4.7, 6.0},
		// The default until version 4 (models/wide): measured 7.29% and 9.21%.
		{"wide", []string{"--network", "wide"}, 8.3, 10.2},
		// The opt-in faster network (models/fast): measured 13.4% and 15.5%.
		{"fast", []string{"--network", "fast"}, 14.5, 16.5},
		// The default's weights with the mirrored pass (models/mirror):
		// measured 2.98% and 4.34%.
		{"mirror", []string{"--network", "mirror"}, 3.5, 5.0},
		// The opt-in network for cameras behind a fence (models/fences):
		// measured 13.0% and 15.3%.
		{"fences", []string{"--network", "fences"}, 14, 16.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"eval", "--labels", labels, "--images", images}, tc.args...)
			r := runJSON(t, args...)[0]
			for _, p := range append([]string{"all"}, "oa-eu", "oa-us", "oa-br", "ro") {
				s := &r.Overall
				if p != "all" {
					s = r.ByPrefix[p]
				}
				if s == nil {
					t.Errorf("no %s images", p)
					continue
				}
				t.Logf("%-6s recall %.4f (%d/%d) area away %.2f%% %.1f ms/image quarantined %d",
					p, s.Recall, s.Found, s.Plates, s.AwayPercent, s.MsPerImage, s.Quarantined)
				if s.Recall < minRecall[p] {
					t.Errorf("%s: recall %.4f below %.3f", p, s.Recall, minRecall[p])
				}
			}
			if r.Overall.AwayPercent > tc.maxDestroyedAway {
				t.Errorf("area destroyed away from plates %.2f%%, want at most %.1f%%", r.Overall.AwayPercent, tc.maxDestroyedAway)
			}
			if r.Overall.Quarantined != 0 {
				t.Errorf("%d images with a plate got no region at all", r.Overall.Quarantined)
			}
			// The detector's own regions, before they grow to whole MCUs.
			raw := runJSON(t, append(args, "--raw")...)[0].Overall
			t.Logf("as detected: recall %.4f area away %.2f%%", raw.Recall, raw.AwayPercent)
			if raw.AwayPercent > tc.maxAway || raw.AwayPercent >= r.Overall.AwayPercent {
				t.Errorf("area away from plates as detected %.2f%% (destroyed %.2f%%), want at most %.1f%%",
					raw.AwayPercent, r.Overall.AwayPercent, tc.maxAway)
			}
			if raw.Recall > r.Overall.Recall {
				t.Errorf("growing regions to whole MCUs lost recall: %.4f, %.4f as detected", r.Overall.Recall, raw.Recall)
			}
		})
	}
}

// Recall at the targets (99.5% overall, 99% per source), for every model.
var minRecall = map[string]float64{"all": 0.995, "oa-eu": 0.99, "oa-us": 0.99, "oa-br": 0.99, "ro": 0.99}
