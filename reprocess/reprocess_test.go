package reprocess

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

func testRing(t testing.TB) *keys.Ring {
	k, err := keys.New("t1")
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Ring{Active: "t1", Keys: []keys.Key{k}}
}

func TestWindow(t *testing.T) {
	w := newWindow()
	w.push("a", false)
	w.push("b", true)
	w.push("c", false)
	w.push("d", false)
	if w.watermark != "" {
		t.Fatalf("watermark %q before anything finished", w.watermark)
	}
	w.finish("c")
	if w.watermark != "" || !slices.Equal(w.doneKeys(), []string{"b", "c"}) {
		t.Fatalf("watermark %q done %v", w.watermark, w.doneKeys())
	}
	w.finish("a")
	if w.watermark != "c" || w.len() != 1 {
		t.Fatalf("watermark %q len %d", w.watermark, w.len())
	}
	// Many keys: the consumed front is reclaimed and positions stay right.
	for i := 0; i < 5000; i++ {
		w.push(fmt.Sprintf("k%05d", i), false)
		if i >= 2 {
			w.finish(fmt.Sprintf("k%05d", i-2))
		}
	}
	w.finish("d")
	w.finish("k04998")
	w.finish("k04999")
	if w.watermark != "k04999" || w.len() != 0 {
		t.Fatalf("watermark %q len %d", w.watermark, w.len())
	}
}

func TestCheckpoint(t *testing.T) {
	ring := testRing(t)
	p := filepath.Join(t.TempDir(), "x.ckpt")
	c, err := OpenCheckpoint(p, ring)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "d", "f"} {
		if err := c.Finish(k, time.Time{}, k == "b"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Compact("b", []string{"d"}); err != nil {
		t.Fatal(err)
	}
	c.Finish("g", time.Time{}, false) // appended after compaction, as a killed run leaves it
	// f was finished but neither behind the watermark nor in beyond: a
	// compaction that lost it would only cost a redo, which is allowed.
	c.Close()

	c, err = OpenCheckpoint(p, ring)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Watermark() != "b" || !c.Failed("b") || c.Failures() != 1 {
		t.Errorf("watermark %q failed(b) %v", c.Watermark(), c.Failed("b"))
	}
	for k, want := range map[string]bool{"a": true, "b": true, "c": false, "d": true, "e": false, "g": true} {
		if got := c.Done(k, time.Time{}); got != want {
			t.Errorf("Done(%q) = %v", k, got)
		}
	}
	// Keys carried from the earlier run survive a compaction before the
	// listing reaches them.
	c2, _ := OpenCheckpoint(p, ring)
	c2.Compact("c", nil)
	c2.Close()
	c3, _ := OpenCheckpoint(p, ring)
	defer c3.Close()
	if !c3.Done("g", time.Time{}) || !c3.Done("d", time.Time{}) || c3.Done("e", time.Time{}) {
		t.Error("carried keys lost in compaction")
	}
	// Another key ring cannot read the watermark.
	if _, err := OpenCheckpoint(p, testRing(t)); err == nil {
		t.Error("checkpoint opened with other keys")
	}
}

// fixture writes n camera-named images (and a few bad ones) to a folder
// store and returns it with the keys of good images.
func fixture(t testing.TB, n int) (store.Store, []string) {
	t.Helper()
	ctx := context.Background()
	src, err := store.Open(ctx, filepath.Join(t.TempDir(), "src"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	jpg, _ := testenv.SceneJPEG(t, 1, 160, 120, 0, 85)
	r := rand.New(rand.NewSource(7))
	var good []string
	for i := 0; i < n; i++ {
		key := filepath.ToSlash(synth.CameraName(r, i, synth.PlateText(r)))
		data := jpg
		if i%10 == 3 {
			data = []byte("not an image")
		} else {
			good = append(good, key)
		}
		if err := src.Put(ctx, key, data, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
	}
	return src, good
}

func inProcess(t testing.TB, ring *keys.Ring, src, sink store.Store) *InProcess {
	parser, _ := ingest.NewParser("")
	return &InProcess{Workers: 2, Parser: parser, Keys: ring, Source: src, Sink: sink,
		NewProcessor: func() (*redact.Processor, error) {
			return &redact.Processor{Limits: codec.DefaultLimits(), Keys: ring, Quality: 85,
				Policy: redact.Policy{Method: redact.Blur, TimeBucket: redact.BucketDay, NoPlate: redact.Keep}}, nil
		}}
}

func TestResumeExactlyOnce(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	src, good := fixture(t, 300)
	sink, _ := store.Open(ctx, filepath.Join(t.TempDir(), "sink"), store.Config{})
	ckPath := Path(t.TempDir(), src.String(), sink.String())

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
		rp := New(Config{Source: src, Runner: inProcess(t, ring, src, sink), Checkpoint: ck, Window: 50, Count: true,
			CompactEvery: 1, // every result: exercises compaction under load
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
	first := run(120)
	second := run(0)
	if total := first.Redacted + first.Failed + second.Redacted + second.Failed; total != 300 || processed.Load() != 300 {
		t.Errorf("processed %d objects over two runs (%d results), want 300 exactly", total, processed.Load())
	}
	if second.Skipped < 120 {
		t.Errorf("second run skipped %d", second.Skipped)
	}
	third := run(0)
	if third.Redacted+third.Failed != 0 || third.Skipped != 300 {
		t.Errorf("a finished run did work again: %+v", third)
	}

	var want []string
	parser, _ := ingest.NewParser("")
	for _, k := range good {
		data, _ := src.Get(ctx, k, 1<<20)
		name := parser.Parse(k)
		want = append(want, redact.OutputName(ring.Current().HMAC, name.Camera, path.Base(k), data))
	}
	var got []string
	sink.List(ctx, "", func(o store.Object) error {
		if path.Ext(o.Key) == ".jpg" {
			got = append(got, o.Key)
		}
		return nil
	})
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sink holds %d images, want the %d expected names exactly", len(got), len(want))
	}
}

// TestIncrementalPass: after a complete pass, a run picks up exactly the
// objects added or rewritten since, wherever their keys sort, and leaves
// alone those modified long before or finished near the pass's start.
func TestIncrementalPass(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	src, good := fixture(t, 60)
	sink, _ := store.Open(ctx, filepath.Join(t.TempDir(), "sink"), store.Config{})
	ckPath := Path(t.TempDir(), src.String(), sink.String())
	srcDir := strings.TrimPrefix(src.String(), "file:")

	// Half the archive is old; the rest was written just now, within the
	// clock-skew margin of the first pass's start.
	old := time.Now().Add(-2 * time.Hour)
	for _, k := range good[:len(good)/2] {
		if err := os.Chtimes(filepath.Join(srcDir, filepath.FromSlash(k)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	run := func() Stats {
		t.Helper()
		ck, err := OpenCheckpoint(ckPath, ring)
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Close()
		rp := New(Config{Source: src, Runner: inProcess(t, ring, src, sink), Checkpoint: ck, Window: 16})
		if err := rp.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return rp.Stats()
	}
	first := run()
	if first.Redacted != int64(len(good)) {
		t.Fatalf("first pass redacted %d of %d", first.Redacted, len(good))
	}
	if again := run(); again.Redacted+again.Failed != 0 {
		t.Fatalf("a second pass with nothing new did work: %+v", again)
	}

	// New objects sorting before and after everything seen, and one
	// rewritten in place.
	jpg, _ := testenv.SceneJPEG(t, 2, 160, 120, 1, 85)
	added := []string{"0000-early/CAM1_20240101120000_AB12CDE.jpg", "zzzz-late/CAM1_20240101120001_XY34ZZZ.jpg", good[0]}
	for _, k := range added {
		if err := src.Put(ctx, k, jpg, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
	}
	third := run()
	if third.Redacted != int64(len(added)) || third.Failed != 0 {
		t.Errorf("incremental pass redacted %d and failed %d, want the %d new or rewritten objects: %+v",
			third.Redacted, third.Failed, len(added), third)
	}
	if fourth := run(); fourth.Redacted+fourth.Failed != 0 {
		t.Errorf("a pass after the incremental one did work again: %+v", fourth)
	}
}
