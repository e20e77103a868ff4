package queue_test

import (
	"bytes"
	"context"
	"encoding/base64"
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

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	queuecmd "github.com/platemask/platemask/command/queue"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/worker"
)

// fakeDetector finds one plate in images at least 400 px wide and none in
// narrower ones: a test picks each job's fate by the image's size.
type fakeDetector struct{}

func (fakeDetector) Name() string { return "fake" }
func (fakeDetector) Close() error { return nil }
func (fakeDetector) Detect(im *codec.Image) ([]detect.Region, error) {
	if im.Bounds().Dx() < 400 {
		return nil, nil
	}
	return []detect.Region{{Rect: image.Rect(10, 10, 60, 30), Kind: "fake", Score: 1}}, nil
}

// switchSink fails every put while failing is set.
type switchSink struct {
	failing atomic.Bool
	inner   sink.Sink
}

func (s *switchSink) Put(ctx context.Context, rec redact.Record, img []byte) error {
	if s.failing.Load() {
		return errors.New("sink unavailable")
	}
	return s.inner.Put(ctx, rec, img)
}

func jpeg(t testing.TB, seed int64, w, h int) []byte {
	t.Helper()
	b, _ := testenv.SceneJPEG(t, seed, w, h, 1, 85)
	return b
}

// Identifying strings of the inputs: none may appear in any output.
var leaks = []string{"N74DYX", "KX19ABC", "20241230", "152519", "2024-12-30", "VEHICLE", "gate-1", "north-entrance", ".jpg.", "DETECTION"}

type env struct {
	t      *testing.T
	data   string
	keys   string
	ring   *keys.Ring
	q      *queue.Queue
	out    string
	sink   *switchSink
	srv    *queue.Server
	mu     sync.Mutex
	output bytes.Buffer // every byte any command wrote
	stop   func()
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, data: t.TempDir(), ring: brokertest.Ring(3), out: t.TempDir()}
	srv, err := queue.StartServer(queue.ServerConfig{DataDir: filepath.Join(e.data, "broker"), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(srv.Stop)
	raw, _ := json.Marshal(e.ring)
	e.keys = filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(e.keys, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := brokertest.Config()
	cfg.AckWait = 30 * time.Second
	e.q = brokertest.Open(t, srv.URL(), e.ring, cfg)
	d, err := sink.NewDir(e.out)
	if err != nil {
		t.Fatal(err)
	}
	e.sink = &switchSink{inner: d}
	return e
}

// startWorker runs a pool until the returned stop is called.
func (e *env) startWorker() {
	t := e.t
	wc := worker.NewDefaultConfig()
	wc.Workers, wc.MaxAttempts = 2, 2
	wc.Backoff = []time.Duration{10 * time.Millisecond}
	wc.FetchWait = 200 * time.Millisecond
	wc.NewProcessor = func() (*redact.Processor, error) {
		return &redact.Processor{Limits: codec.DefaultLimits(), Detector: fakeDetector{}, Keys: e.ring, Quality: 85,
			Policy: redact.Policy{Method: redact.Fill, TimeBucket: redact.BucketDay, NoPlate: redact.Quarantine}}, nil
	}
	pool, err := worker.New(e.q, e.sink, wc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(e.stop)
}

func (e *env) submit(data []byte, source string) string {
	e.t.Helper()
	r, err := e.q.Submit(context.Background(), queue.Image{Data: data, Source: source, Camera: "gate-1",
		Time: time.Date(2024, 12, 30, 15, 25, 19, 0, time.UTC)})
	if err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs `platemask queue ARGS` against the env's data dir and keys.
func (e *env) run(stdin string, inTTY bool, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	io := &cmdutil.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errb, InTTY: inTTY}
	cmd := queuecmd.New(io)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(&errb)
	cmd.SetErr(&errb)
	if !hasFlag(args, "--nats") && !hasFlag(args, "--data") {
		args = append(args, "--data", e.data)
	}
	if !hasFlag(args, "--keys") {
		args = append(args, "--keys", e.keys)
	}
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(&errb, err)
	}
	e.mu.Lock()
	e.output.Write(out.Bytes())
	e.output.Write(errb.Bytes())
	e.mu.Unlock()
	return result{out.String(), errb.String(), cmdutil.ExitCode(err)}
}

func hasFlag(args []string, f string) bool {
	for _, a := range args {
		if a == f || strings.HasPrefix(a, f+"=") {
			return true
		}
	}
	return false
}

// must runs a command that has to succeed and decodes its JSON into v.
func (e *env) must(v any, args ...string) result {
	e.t.Helper()
	r := e.run("", false, args...)
	if r.code != 0 {
		e.t.Fatalf("queue %v: exit %d: %s", args, r.code, r.stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			e.t.Fatalf("queue %v: %v in %q", args, err, r.stdout)
		}
	}
	return r
}

func (e *env) stats() queuecmd.Stats {
	var s queuecmd.Stats
	e.must(&s, "stats", "--json")
	return s
}

func (e *env) ls(what string, extra ...string) []queuecmd.Job {
	var rows []queuecmd.Job
	e.must(&rows, append([]string{"ls", what, "--json"}, extra...)...)
	return rows
}

func (e *env) idle() {
	e.t.Helper()
	brokertest.Eventually(e.t, 30*time.Second, func() error {
		p, f, err := e.q.Depth(context.Background())
		if err != nil || p+f > 0 {
			return fmt.Errorf("%d pending, %d in flight, %v", p, f, err)
		}
		return nil
	})
}

func records(t *testing.T, dir string) map[string]redact.Record {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	out := map[string]redact.Record{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var r redact.Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out[r.Image] = r
	}
	return out
}

func TestQueueCommands(t *testing.T) {
	e := newEnv(t)
	label := redact.CameraLabel(e.ring.Current().HMAC, "gate-1")

	// Paused before the worker starts: it must take nothing.
	var pr queuecmd.PauseResult
	e.must(&pr, "pause", "--json")
	if !pr.Paused {
		t.Fatal("pause did not report paused")
	}
	e.startWorker()
	e.sink.failing.Store(true) // the first stored job fails for good
	plateImg, noPlateImg, otherNoPlate := jpeg(t, 1, 640, 360), jpeg(t, 3, 320, 240), jpeg(t, 5, 320, 240)
	good := e.submit(plateImg, "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg")
	noPlate := e.submit(noPlateImg, "20241230152520000_KX19ABC_VEHICLE_DETECTION.jpg")
	bad := e.submit([]byte("not a jpeg at all"), "20241230152521000_north-entrance.jpg")
	review := e.submit(otherNoPlate, "20241230152522000_N74DYX_gate-1.jpg")

	brokertest.Eventually(t, 10*time.Second, func() error {
		if s := e.stats(); s.Workers != 1 || s.Slots != 2 || !s.Paused || s.Pending != 4 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	time.Sleep(time.Second) // five fetch waits: a paused worker still took nothing
	if s := e.stats(); s.Pending != 4 || s.InFlight != 0 || s.OldestAge < 0 {
		t.Fatalf("paused worker took jobs: %+v", s)
	}

	// In flight: a job taken and held without an ack.
	c, err := e.q.Consumer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held, err := c.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	msg := <-held.Messages()
	if s := e.stats(); s.InFlight != 1 || s.Pending != 3 {
		t.Errorf("with one job held: %+v", s)
	}
	rows := e.ls("pending")
	if len(rows) != 4 || rows[0].ID != good || rows[0].State != queue.StateDelivered || rows[1].State != queue.StatePending {
		t.Fatalf("ls pending %+v", rows)
	}
	for _, r := range rows {
		if r.Camera != label {
			t.Errorf("camera %q, want %q", r.Camera, label)
		}
	}
	if got := e.ls("pending", "--limit", "2"); len(got) != 2 {
		t.Errorf("--limit 2: %d rows", len(got))
	}
	if got := e.ls("pending", "--camera", "cam-nope"); len(got) != 0 {
		t.Errorf("--camera filter: %+v", got)
	}
	if got := e.ls("pending", "--older-than", "1h"); len(got) != 0 {
		t.Errorf("--older-than 1h: %+v", got)
	}
	if got := e.ls("pending", "--newer-than", "1h", "--camera", label); len(got) != 4 {
		t.Errorf("--newer-than 1h: %+v", got)
	}
	var shown queuecmd.JobDetail
	e.must(&shown, "show", good, "--json")
	if shown.State != queue.StateDelivered || shown.Payload != "inline" || shown.Camera != label || !shown.Keys {
		t.Errorf("show in flight: %+v", shown)
	}
	// Sent back: it waits for redelivery, still counted in flight (the
	// broker's ack-pending) and listed as delivered.
	if err := msg.Nak(); err != nil {
		t.Fatal(err)
	}
	if r := e.run("", false, "ls", "pending"); r.code != 0 || !strings.Contains(r.stdout, "JOB") || !strings.Contains(r.stdout, label) {
		t.Errorf("human ls: %+v", r)
	}

	// Resumed, the worker settles everything: good goes dead (the sink
	// fails twice), the no-plate images to quarantine, bad to dead.
	e.must(&pr, "resume", "--json")
	e.idle()
	s := e.stats()
	if s.Paused || s.Dead != 2 || s.Quarantined != 2 || s.Pending != 0 || s.Last1m.Quarantined != 2 ||
		s.Last1m.Dead != 2 || s.Last5m.Failed != 2 || s.Last1m.Processed != 2 || s.Last1m.Stored != 0 {
		t.Errorf("settled stats %+v", s)
	}
	dead := e.ls("dead")
	reasons := map[string]queuecmd.Job{}
	for _, r := range dead {
		reasons[r.ID] = r
	}
	if reasons[bad].Reason != "not a jpeg" || reasons[bad].Deliveries != 1 || reasons[good].Reason != "deliveries exhausted" ||
		reasons[good].Deliveries != 2 || reasons[bad].Camera != label {
		t.Errorf("ls dead %+v", dead)
	}
	if q := e.ls("quarantine"); len(q) != 2 || q[0].Reason != "no plate found" || q[0].State != queue.StateQuarantined {
		t.Errorf("ls quarantine %+v", q)
	}
	if r := e.run("", false, "show", "nosuchjob"); r.code != 1 {
		t.Errorf("show missing job: exit %d", r.code)
	}
	e.must(&shown, "show", bad, "--json")
	if shown.State != queue.StateDead || shown.Payload != "held" || shown.Reason != "not a jpeg" {
		t.Errorf("show dead %+v", shown)
	}
	if r := e.run("", false, "show", noPlate); r.code != 0 || !strings.Contains(r.stdout, "no plate found") {
		t.Errorf("human show %+v", r)
	}

	// Retry: the sink is back, the dead letter completes.
	e.sink.failing.Store(false)
	var rr queuecmd.RetryResult
	if r := e.run("", false, "retry", good, "nosuchjob", "--json"); r.code != 1 {
		t.Errorf("retry with a missing job: exit %d", r.code)
	} else if json.Unmarshal([]byte(r.stdout), &rr); len(rr.Retried) != 1 || len(rr.Failed) != 1 {
		t.Errorf("retry %+v", rr)
	}
	e.idle()
	var stored redact.Record
	for _, rec := range records(t, e.out) {
		if rec.Kinds["fake"] == 1 {
			stored = rec
		}
	}
	if stored.Image == "" {
		t.Fatal("retried job left no output")
	}
	if s := e.stats(); s.Dead != 1 {
		t.Errorf("after retry: %d dead letters", s.Dead)
	}

	// View and release after review, both audited.
	if r := e.run("", false, "view", review); r.code != 2 {
		t.Errorf("view without --out: exit %d", r.code)
	}
	viewed := filepath.Join(t.TempDir(), "review.jpg")
	e.must(nil, "view", review, "--out", viewed, "--operator", "alice")
	if b, err := os.ReadFile(viewed); err != nil || !bytes.Equal(b, otherNoPlate) {
		t.Errorf("viewed image differs from the input (%v)", err)
	}
	if r := e.run("", false, "view", review, "--out", viewed, "--keys", filepath.Join(t.TempDir(), "none.json")); r.code != 3 {
		t.Errorf("view without keys: exit %d", r.code)
	}
	csvFile := filepath.Join(t.TempDir(), "boxes.csv")
	os.WriteFile(csvFile, []byte("x,y,w,h\n40,50,80,20\n"+noPlate+",150,120,60,20\n"), 0o600)
	var rel queuecmd.ReleaseResult
	e.must(&rel, "release", noPlate, "--regions", csvFile, "--operator", "alice", "--json")
	if rel.Regions != 2 || rel.Review != queue.ReviewRegions {
		t.Errorf("release %+v", rel)
	}
	if r := e.run("", false, "release", review); r.code != 2 {
		t.Errorf("release without a choice: exit %d", r.code)
	}
	if r := e.run("9000,9000,10,10\n", false, "release", review, "--regions", "-"); r.code != 2 {
		t.Errorf("release with a region off the image: exit %d", r.code)
	}
	e.must(nil, "release", review, "--no-plate", "--operator", "bob")
	e.idle()
	var withRegions, confirmed int
	for _, rec := range records(t, e.out) {
		switch rec.Review {
		case queue.ReviewRegions:
			withRegions++
			if rec.Regions != 2 || rec.Kinds["manual"] != 2 {
				t.Errorf("released record %+v", rec)
			}
		case queue.ReviewNoPlate:
			confirmed++
			if rec.Regions != 0 {
				t.Errorf("no-plate record %+v", rec)
			}
		}
	}
	if withRegions != 1 || confirmed != 1 {
		t.Errorf("%d released with regions, %d confirmed without plate", withRegions, confirmed)
	}
	if s := e.stats(); s.Quarantined != 0 {
		t.Errorf("after release: %d quarantined", s.Quarantined)
	}
	auditPath := filepath.Join(e.data, queuecmd.AuditFile)
	st, err := os.Stat(auditPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("audit log: %v %v", st, err)
	}
	var entries []queuecmd.AuditEntry
	b, _ := os.ReadFile(auditPath)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a queuecmd.AuditEntry
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, a)
	}
	want := []queuecmd.AuditEntry{{Operator: "alice", Action: "view", Job: review},
		{Operator: "alice", Action: "release-regions", Job: noPlate, Regions: 2}, {Operator: "bob", Action: "release-no-plate", Job: review}}
	if len(entries) != len(want) {
		t.Fatalf("audit entries %+v", entries)
	}
	for i, w := range want {
		g := entries[i]
		if g.Operator != w.Operator || g.Action != w.Action || g.Job != w.Job || g.Regions != w.Regions || time.Since(g.At) > time.Minute {
			t.Errorf("audit entry %d: %+v, want %+v", i, g, w)
		}
	}

	// Purge: refused without --yes off a terminal, asked on one.
	if r := e.run("", false, "purge", "dead"); r.code != 2 {
		t.Errorf("purge without --yes off a terminal: exit %d", r.code)
	}
	if r := e.run("no\n", true, "purge", "dead"); r.code != 1 || e.stats().Dead != 1 {
		t.Errorf("purge answered no: exit %d", r.code)
	}
	if r := e.run("yes\n", true, "purge", "dead"); r.code != 0 || e.stats().Dead != 0 {
		t.Errorf("purge answered yes: %+v", r)
	}
	e.must(nil, "pause")
	// A pause takes effect within one fetch wait (200ms here).
	time.Sleep(time.Second)
	e.submit(jpeg(t, 7, 640, 360), "20241230152530000_N74DYX.jpg")
	e.submit(jpeg(t, 8, 1600, 1200), "20241230152531000_N74DYX.jpg") // through the object store
	var pur queuecmd.PurgeResult
	e.must(&pur, "purge", "pending", "--yes", "--json")
	if s := e.stats(); pur.Purged != 2 || s.Pending != 0 {
		t.Errorf("purge pending %+v, then %+v", pur, s)
	}
	if r := e.run("", false, "purge", "everything", "--yes"); r.code != 2 {
		t.Errorf("purge everything: exit %d", r.code)
	}

	// Watch: plain lines off a terminal, JSON documents with --json.
	r := e.must(nil, "watch", "--interval", "100ms", "--count", "2")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "paused=true") {
		t.Errorf("watch lines %q", r.stdout)
	}
	r = e.must(nil, "watch", "--interval", "100ms", "--count", "2", "--json")
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for i := 0; i < 2; i++ {
		var s queuecmd.Stats
		if err := dec.Decode(&s); err != nil || !s.Paused {
			t.Errorf("watch --json document %d: %+v %v", i, s, err)
		}
	}
	if r := e.run("", false, "stats"); r.code != 0 || !strings.Contains(r.stdout, "PAUSED") {
		t.Errorf("human stats %+v", r)
	}

	// Serve gone: the command opens the store itself.
	e.stop()
	e.srv.Stop()
	if s := e.stats(); !s.Paused || s.Workers != 0 && s.Workers != 1 {
		t.Errorf("stats from the store: %+v", s)
	}

	// Nothing any command wrote holds the inputs' names, plates, times
	// or keys.
	all := e.output.String()
	k := e.ring.Current()
	for _, s := range append(leaks, base64.StdEncoding.EncodeToString(k.HMAC), base64.StdEncoding.EncodeToString(k.Seal)) {
		if strings.Contains(all, s) {
			t.Errorf("command output holds %q", s)
		}
	}
}

func TestUnreachable(t *testing.T) {
	e := &env{t: t, data: t.TempDir(), keys: filepath.Join(t.TempDir(), "none.json")}
	start := time.Now()
	r := e.run("", false, "stats", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", brokertest.FreePort(t)))
	if r.code != 3 || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("unreachable broker: %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up", d)
	}
	if r := e.run("", false, "ls", "dead"); r.code != 3 || !strings.Contains(r.stderr, "no broker store") {
		t.Errorf("empty data dir: %+v", r)
	}
	if r := e.run("", false, "ls", "sideways"); r.code != 2 {
		t.Errorf("bad ls kind: %+v", r)
	}
	if r := e.run("", false, "retry"); r.code != 2 {
		t.Errorf("retry nothing: %+v", r)
	}
}

func TestMain(m *testing.M) {
	detect.SetThreads(1)
	os.Exit(m.Run())
}
