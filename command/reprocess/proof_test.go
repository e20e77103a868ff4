package reprocess_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	auditcmd "github.com/platemask/platemask/command/audit"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	reprocesscmd "github.com/platemask/platemask/command/reprocess"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/internal/storetest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

// The test binary doubles as the platemask reprocess command, so one test
// can SIGKILL a real process mid-run.
func TestMain(m *testing.M) {
	if args := os.Getenv("PLATEMASK_REPROCESS_CHILD"); args != "" {
		var a []string
		json.Unmarshal([]byte(args), &a)
		io := &cmdutil.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
		cmd := reprocesscmd.New(io)
		cmd.SetArgs(a)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
		}
		os.Exit(cmdutil.ExitCode(err))
	}
	os.Exit(m.Run())
}

func proofN(t *testing.T) int {
	if s := os.Getenv("PLATEMASK_PROOF_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if testing.Short() {
		return 300
	}
	return 2000
}

// archive fills s with n camera images under timestamped names: small
// plain scenes, a quarter of them with every kind of camera metadata,
// about one in a hundred not a JPEG at all, and one text file. It returns
// the keys of the good images and of the bad ones.
func archive(t *testing.T, s store.Store, n int) (good, bad []string) {
	t.Helper()
	ctx := context.Background()
	var pool [][]byte
	for i := 0; i < 16; i++ {
		img, _, err := synth.Scene(int64(i), 160, 120, 0)
		if err != nil {
			t.Fatal(err)
		}
		jpg, err := synth.EncodeJPEG(img, 80)
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, jpg)
	}
	thumb := pool[0]
	r := rand.New(rand.NewSource(42))
	type obj struct {
		key  string
		data []byte
	}
	objs := make(chan obj)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var putErr error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range objs {
				if err := s.Put(ctx, o.key, o.data, "image/jpeg"); err != nil {
					mu.Lock()
					putErr = err
					mu.Unlock()
				}
			}
		}()
	}
	seen := map[string]bool{}
	for i := 0; len(seen) < n; i++ {
		key := filepath.ToSlash(synth.CameraName(r, i, synth.PlateText(r)))
		if seen[key] {
			continue
		}
		seen[key] = true
		data := pool[i%len(pool)]
		switch {
		case i%97 == 5:
			data = []byte("this is not a JPEG")
			bad = append(bad, key)
		case i%4 == 0:
			data = synth.WithMetadata(data, synth.All(1, thumb))
			good = append(good, key)
		default:
			good = append(good, key)
		}
		objs <- obj{key, data}
	}
	objs <- obj{"README.txt", []byte("camera export")}
	close(objs)
	wg.Wait()
	if putErr != nil {
		t.Fatalf("fill archive: %v", putErr)
	}
	return good, bad
}

// expected returns the output names the good source objects must map to.
func expected(t *testing.T, s store.Store, ring *keys.Ring, good []string) []string {
	t.Helper()
	parser, _ := ingest.NewParser("")
	var out []string
	for _, k := range good {
		data, err := s.Get(context.Background(), k, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		name := parser.Parse(k)
		out = append(out, redact.OutputName(ring.Current().HMAC, name.Camera, path.Base(k), data))
	}
	slices.Sort(out)
	return out
}

func list(t *testing.T, s store.Store) (images, records, other []string) {
	t.Helper()
	err := s.List(context.Background(), "", func(o store.Object) error {
		switch path.Ext(o.Key) {
		case ".jpg":
			images = append(images, o.Key)
		case ".json":
			records = append(records, o.Key)
		default:
			other = append(other, o.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

type env struct {
	cfg     store.Config
	environ []string
	keyFile string
	dataDir string
	ring    *keys.Ring
}

func newEnv(t *testing.T, s3 *storetest.S3Server, az *storetest.AzureServer) *env {
	e := &env{keyFile: filepath.Join(t.TempDir(), "keys.json"), dataDir: t.TempDir()}
	ring, err := keys.Load(e.keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.ring = ring
	e.cfg = s3.Config()
	e.cfg.Azure = az.Config().Azure
	e.environ = append(append(os.Environ(), s3.Env()...), az.Env()...)
	return e
}

func (e *env) opts(io *cmdutil.IOStreams, from, to string) *reprocesscmd.Options {
	return &reprocesscmd.Options{IO: io, From: from, To: to, DataDir: e.dataDir, Workers: 2, Window: 4096,
		RedactFlags: pipeline.RedactFlags{Detectors: "none", Method: "blur", Margin: -1, NoPlate: "keep",
			TimeBucket: "day", KeyFile: e.keyFile, Quality: 85, MaxBytes: 1 << 20, MaxPixels: 1 << 24},
		JSON: true, Interval: time.Second, Store: &e.cfg}
}

func (e *env) args(from, to string) []string {
	return []string{"--from", from, "--to", to, "--data", e.dataDir, "--workers", "2", "--detector", "none",
		"--no-plate", "keep", "--keys", e.keyFile, "--json", "--progress-interval", "1s"}
}

// waitFor polls until the sink holds at least n images, then calls stop.
func waitFor(t *testing.T, sink store.Store, n int, stop func(), done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		count := 0
		sink.List(context.Background(), "", func(o store.Object) error {
			if path.Ext(o.Key) == ".jpg" {
				count++
			}
			return nil
		})
		if count >= n {
			stop()
			return
		}
	}
}

func TestProofReprocessAndAudit(t *testing.T) {
	n := proofN(t)
	s3 := storetest.S3(t)
	az := storetest.Azurite(t)
	s3.Bucket(t, "raw")
	s3.Bucket(t, "clean")
	az.Container(t, "raw")
	az.Container(t, "clean")
	e := newEnv(t, s3, az)
	acct := storetest.AzuriteAccount
	folderRaw := filepath.Join(t.TempDir(), "raw")
	folderClean := filepath.Join(t.TempDir(), "clean")

	tests := []struct {
		name     string
		from, to string
		kill     bool // SIGKILL a subprocess instead of cancelling
	}{
		{"folder-to-s3", folderRaw, "s3://clean/site-1", false},
		{"s3-to-azure", "s3://raw/cams", "az://" + acct + "/clean/site-2", false},
		{"azure-to-folder", "az://" + acct + "/raw", folderClean, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src, err := store.Open(ctx, tt.from, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			sink, err := store.Open(ctx, tt.to, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			good, bad := archive(t, src, n)
			t.Logf("%s: filled the source with %d objects in %v", tt.name, n+1, time.Since(start).Round(time.Millisecond))
			start = time.Now()
			listed := 0
			src.List(ctx, "", func(store.Object) error { listed++; return nil })
			listTime := time.Since(start)

			// First run, stopped halfway.
			start = time.Now()
			var first reprocesscmd.Summary
			if tt.kill {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				a, _ := json.Marshal(e.args(tt.from, tt.to))
				cmd.Env = append(e.environ, "PLATEMASK_REPROCESS_CHILD="+string(a))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				go func() { cmd.Wait(); close(exited) }()
				waitFor(t, sink, len(good)/2, func() { cmd.Process.Signal(syscall.SIGKILL) }, exited)
				<-exited
				if cmd.ProcessState.Success() {
					t.Fatalf("child finished before it was killed:\n%s", out.String())
				}
			} else {
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				var outBuf, errBuf bytes.Buffer
				go func() {
					defer close(done)
					err = reprocesscmd.Run(rctx, e.opts(&cmdutil.IOStreams{Out: &outBuf, ErrOut: &errBuf}, tt.from, tt.to))
				}()
				waitFor(t, sink, len(good)/2, cancel, done)
				<-done
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("first run: %v\n%s", err, errBuf.String())
				}
				json.Unmarshal(outBuf.Bytes(), &first)
			}
			firstTime := time.Since(start)
			if imgs, _, _ := list(t, sink); len(imgs) >= len(good) {
				t.Fatalf("first run was not stopped halfway: %d of %d", len(imgs), len(good))
			}

			// Resume.
			start = time.Now()
			var outBuf, errBuf bytes.Buffer
			err = reprocesscmd.Run(ctx, e.opts(&cmdutil.IOStreams{Out: &outBuf, ErrOut: &errBuf}, tt.from, tt.to))
			if !errors.Is(err, cmdutil.Failed) { // the bad objects fail
				t.Fatalf("resume: %v\n%s", err, errBuf.String())
			}
			secondTime := time.Since(start)
			var second reprocesscmd.Summary
			if err := json.Unmarshal(outBuf.Bytes(), &second); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: first run %+v; resumed run %+v", tt.name, first, second)
			if second.Skipped == 0 || second.Redacted >= int64(len(good)) {
				t.Errorf("the second run did not resume: %+v", second)
			}
			if !tt.kill {
				if got := first.Redacted + second.Redacted; got != int64(len(good)) {
					t.Errorf("redacted %d+%d objects, want %d exactly", first.Redacted, second.Redacted, len(good))
				}
				if got := first.Failed + second.Failed; got != int64(len(bad)) {
					t.Errorf("failed %d, want %d", got, len(bad))
				}
			}

			// Every good object ended up exactly once, under its name.
			imgs, recs, other := list(t, sink)
			want := expected(t, src, e.ring, good)
			if !slices.Equal(imgs, want) {
				t.Errorf("sink holds %d images; want exactly the %d expected names", len(imgs), len(want))
			}
			if len(recs) != len(want) || len(other) != 0 {
				t.Errorf("sink holds %d records and %d other objects", len(recs), len(other))
			}

			// Audit: the source leaks, the sink is clean.
			var aout, aerr bytes.Buffer
			err = auditcmd.Run(ctx, &auditcmd.Options{IO: &cmdutil.IOStreams{Out: &aout, ErrOut: &aerr}, URL: tt.from,
				JSON: true, Workers: 2, MaxBytes: 1 << 20, Store: &e.cfg})
			if !errors.Is(err, cmdutil.Failed) {
				t.Fatalf("audit of the source: %v", err)
			}
			var rep struct {
				Counts    map[string]int64 `json:"counts"`
				WithLeaks int64            `json:"objects_with_findings"`
			}
			json.Unmarshal(aout.Bytes(), &rep)
			if rep.Counts["name:time"] != int64(n) || rep.Counts["meta:exif"] == 0 || rep.Counts["trailing"] == 0 || rep.Counts["meta:thumbnail"] == 0 {
				t.Errorf("audit of the source missed leaks: %v", rep.Counts)
			}
			aout.Reset()
			aerr.Reset()
			err = auditcmd.Run(ctx, &auditcmd.Options{IO: &cmdutil.IOStreams{Out: &aout, ErrOut: &aerr}, URL: tt.to,
				Workers: 2, MaxBytes: 1 << 20, Store: &e.cfg})
			if err != nil {
				t.Errorf("audit of the sink: %v\n%s%s", err, aout.String(), aerr.String())
			}
			aout.Reset()
			aerr.Reset()
			err = auditcmd.Run(ctx, &auditcmd.Options{IO: &cmdutil.IOStreams{Out: &aout, ErrOut: &aerr}, URL: tt.to,
				Detect: true, Detectors: "haar", Sample: 100, Workers: 2, MaxBytes: 1 << 20, Store: &e.cfg})
			if err != nil {
				t.Errorf("audit of a sample of the sink with the detector: %v\n%s%s", err, aout.String(), aerr.String())
			}

			// Incremental pass: objects added since, sorting before and
			// after all the others, are the only ones processed.
			added := []string{"0000/CAM9_20240101120000_AB12CDE.jpg", "zzzz/CAM9_20240101120001_XY34ZZZ.jpg"}
			for i, k := range added {
				data, _ := testenv.SceneJPEG(t, int64(900+i), 160, 120, 0, 85)
				if err := src.Put(ctx, k, data, "image/jpeg"); err != nil {
					t.Fatal(err)
				}
			}
			outBuf.Reset()
			errBuf.Reset()
			// The bad objects are not tried again, but they still fail the run:
			// a script re-running until exit 0 must not take it as done.
			if err := reprocesscmd.Run(ctx, e.opts(&cmdutil.IOStreams{Out: &outBuf, ErrOut: &errBuf}, tt.from, tt.to)); !errors.Is(err, cmdutil.Failed) {
				t.Fatalf("incremental pass: %v, want the earlier failures reported\n%s", err, errBuf.String())
			}
			var third reprocesscmd.Summary
			if err := json.Unmarshal(outBuf.Bytes(), &third); err != nil {
				t.Fatal(err)
			}
			if third.FailedEarlier != int64(len(bad)) || !strings.Contains(errBuf.String(), "--retry-failed") {
				t.Errorf("incremental pass: %d earlier failures reported, want %d\n%s", third.FailedEarlier, len(bad), errBuf.String())
			}
			if third.Redacted != int64(len(added)) || third.Failed != 0 {
				t.Errorf("incremental pass redacted %d and failed %d, want the %d added objects: %+v",
					third.Redacted, third.Failed, len(added), third)
			}
			if imgs, _, _ := list(t, sink); !slices.Equal(imgs, expected(t, src, e.ring, append(good, added...))) {
				t.Errorf("after the incremental pass the sink holds %d images, want %d", len(imgs), len(good)+len(added))
			}

			t.Logf("FIGURES %s: list %d objects in %v (%.0f objects/s); reprocess %d objects in %v (%.0f objects/s)",
				tt.name, listed, listTime.Round(time.Millisecond), float64(listed)/listTime.Seconds(),
				n, (firstTime + secondTime).Round(time.Millisecond), float64(n)/(firstTime+secondTime).Seconds())
		})
	}
}
