package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/platemask/platemask/audit"
	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/serve"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/leakscan"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

type input struct {
	name string
	data []byte
}

// inputs makes n camera-like JPEGs with camera file names and full
// metadata (EXIF with GPS and serials, XMP, a thumbnail).
func inputs(t testing.TB, n int) []input { return sizedInputs(t, n, 480, 320) }

// sizedInputs is inputs at w x h.
func sizedInputs(t testing.TB, n, w, h int) []input {
	t.Helper()
	r := rand.New(rand.NewSource(42))
	var out []input
	for i := range n {
		// Every tenth image shows no car: it should end in quarantine.
		cars := 1
		if i%10 == 9 {
			cars = 0
		}
		img, plates, err := synth.Scene(int64(i), w, h, cars)
		if err != nil {
			t.Fatal(err)
		}
		plate := "AB12CDE"
		if len(plates) > 0 {
			plate = plates[0].Text
		}
		raw, err := synth.EncodeJPEG(img, 85)
		if err != nil {
			t.Fatal(err)
		}
		data := synth.WithMetadata(raw, synth.All(1, nil))
		out = append(out, input{name: synth.CameraName(r, i, plate), data: data})
	}
	return out
}

func post(t testing.TB, url, token string, ins ...input) {
	t.Helper()
	var body bytes.Buffer
	ct := "image/jpeg"
	if len(ins) == 1 {
		body.Write(ins[0].data)
		url += "?name=" + filepath.Base(ins[0].name)
	} else {
		w := multipart.NewWriter(&body)
		for _, in := range ins {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="picture"; filename=%q`, filepath.Base(in.name)))
			h.Set("Content-Type", "image/jpeg")
			pw, _ := w.CreatePart(h)
			pw.Write(in.data)
		}
		w.Close()
		ct = w.FormDataContentType()
	}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, raw)
		}
		// A camera retries what was not accepted; ids make it safe.
		if attempt > 50 {
			t.Fatalf("upload: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type rig struct {
	data, out, inbox, keyFile string
	addrs                     serve.Addrs
	token                     string
	cancel                    context.CancelFunc
	done                      chan error
	stderr                    *bytes.Buffer
}

func startServe(t testing.TB, workers int, mutate func(*serve.Options)) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{data: filepath.Join(dir, "data"), out: filepath.Join(dir, "out"), inbox: filepath.Join(dir, "inbox"),
		keyFile: filepath.Join(dir, "keys.json"), done: make(chan error, 1), stderr: &bytes.Buffer{}}
	reg, err := cameras.Open(filepath.Join(r.data, cameras.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	if r.token, err = reg.Add(cameras.Camera{ID: "gate-1"}); err != nil {
		t.Fatal(err)
	}
	// gate-2 looks through a fence: its images run that network.
	if _, err := reg.Add(cameras.Camera{ID: "gate-2", Network: "fences"}); err != nil {
		t.Fatal(err)
	}
	// The flag defaults, then what the test sets.
	o := options(t, nil, &cmdutil.IOStreams{Out: io.Discard, ErrOut: r.stderr})
	o.Data, o.Out, o.Inbox, o.Listen, o.BrokerPort, o.Workers = r.data, r.out, r.inbox, "127.0.0.1:0", -1, workers
	o.Redact.KeyFile = r.keyFile
	if mutate != nil {
		mutate(o)
	}
	started := make(chan serve.Addrs, 1)
	o.Started = func(a serve.Addrs) { started <- a }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- serve.Run(ctx, o) }()
	select {
	case r.addrs = <-started:
	case err := <-r.done:
		t.Fatalf("serve: %v\n%s", err, r.stderr)
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", r.stderr)
		}
	})
	return r
}

func (r *rig) queue(t testing.TB) *queue.Queue {
	t.Helper()
	ring, err := keys.Load(r.keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	return brokertest.Open(t, r.addrs.Broker, ring, queue.NewDefaultConfig())
}

// waitAll waits until every one of n jobs is stored or quarantined.
func waitAll(t *testing.T, q *queue.Queue, out string, n int, total time.Duration) (outputs []string, quarantined int) {
	t.Helper()
	ctx := context.Background()
	brokertest.Eventually(t, total, func() error {
		outputs, _ = filepath.Glob(filepath.Join(out, "*.jpg"))
		held, err := q.Held(ctx, false)
		if err != nil {
			return err
		}
		dead, err := q.Held(ctx, true)
		if err != nil {
			return err
		}
		if len(dead) > 0 {
			t.Fatalf("%d jobs dead-lettered: %v", len(dead), dead[0].Metadata)
		}
		quarantined = len(held)
		if len(outputs)+quarantined < n {
			return fmt.Errorf("%d outputs + %d quarantined of %d", len(outputs), quarantined, n)
		}
		pending, inFlight, err := q.Depth(ctx)
		if err != nil || pending+inFlight > 0 {
			return fmt.Errorf("%d pending, %d in flight (%v)", pending, inFlight, err)
		}
		return nil
	})
	if len(outputs)+quarantined != n {
		t.Fatalf("%d outputs + %d quarantined, want exactly %d: a job ran twice into two outputs, or was lost", len(outputs), quarantined, n)
	}
	return outputs, quarantined
}

// TestEndToEnd is the whole pipeline on one machine with the default
// detectors: 200 images in over HTTP (single and multipart) and the drop
// folder; every one comes out redacted or quarantined, with a complete
// record, and nothing at rest holds raw bytes or metadata.
func TestEndToEnd(t *testing.T) {
	const n = 200
	ins := inputs(t, n)
	r := startServe(t, 2, nil)
	q := r.queue(t)

	// Half over HTTP: singles and three-picture events.
	for i := 0; i < n/2; {
		k := 1 + 2*(i%2) // 1 or 3
		k = min(k, n/2-i)
		post(t, r.addrs.HTTP+"/v1/images", r.token, ins[i:i+k]...)
		i += k
	}
	// Half through the drop folder: written under a temporary name and
	// renamed into place, as FTP servers do; some in a camera's subfolder.
	for i := n / 2; i < n; i++ {
		dir := filepath.Join(r.inbox, []string{"gate-1", "gate-2"}[i%2])
		os.MkdirAll(dir, 0o755)
		final := filepath.Join(dir, filepath.Base(ins[i].name))
		if err := os.WriteFile(final+".part", ins[i].data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(final+".part", final); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	outputs, quarantined := waitAll(t, q, r.out, n, 5*time.Minute)
	t.Logf("%d redacted, %d quarantined in %s", len(outputs), quarantined, time.Since(start).Round(time.Millisecond))

	// The detector that ran, per camera label: gate-2's images (a quarter
	// of them, from the drop folder) ran its network, the rest the default.
	ran := map[string]map[string]int{}
	for _, o := range outputs {
		raw, err := os.ReadFile(strings.TrimSuffix(o, ".jpg") + ".json")
		if err != nil {
			t.Fatalf("output without record: %v", err)
		}
		var rec redact.Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Image != filepath.Base(o) || rec.Camera == "" || rec.TimeBucket == "" || rec.Regions == 0 ||
			rec.Detector == "" || len(rec.Models) == 0 || rec.KeyID == "" || rec.Width != 480 || rec.Height != 320 {
			t.Errorf("incomplete record %s", raw)
		}
		if ran[rec.Detector] == nil {
			ran[rec.Detector] = map[string]int{}
		}
		ran[rec.Detector][rec.Camera]++
		// audit's rule, not ingest's patterns alone: about one random
		// pseudonym in twenty thousand holds a run of 12 hex characters,
		// which reads as a MAC (this test makes 200 of them).
		if ids := audit.NameKinds(rec.Image); len(ids) != 0 {
			t.Errorf("output name %s looks like it holds %v", rec.Image, ids)
		}
		img, _ := os.ReadFile(o)
		if info, err := jpeginfo.Scan(img); err != nil || len(info.Metadata()) != 0 {
			t.Errorf("output %s: metadata %v (%v)", o, info, err)
		}
	}
	fenced := 0
	for _, k := range ran["platenet-fences"] {
		fenced += k
	}
	if len(ran) != 2 || len(ran["platenet-fences"]) != 1 || fenced == 0 || fenced > n/4 {
		t.Errorf("detectors per camera %v: want platenet-fences for gate-2's %d images at most, platenet for the rest", ran, n/4)
	}
	for label := range ran["platenet-fences"] {
		if ran["platenet"][label] != 0 {
			t.Errorf("camera %s ran both networks", label)
		}
	}
	// The drop folder is empty (only folders remain).
	filepath.WalkDir(r.inbox, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the inbox: %s", p)
		}
		return nil
	})
	var raw [][]byte
	for _, in := range ins {
		raw = append(raw, in.data)
	}
	scanAtRest(t, leakscan.New(raw), r.data)
	// Stored images keep the compressed blocks of everything but the
	// plates as they came (only the plates' blocks are encoded afresh), so
	// they share long runs with their inputs by design. A raw copy in the
	// sink would still show by the metadata every input carries.
	scanAtRest(t, leakscan.NewMetadata(raw), r.out)

	// Metrics count what happened and name nothing.
	resp, err := http.Get(r.addrs.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`platemask_ingest_images_total{result="accepted",source="http"} 100`,
		`platemask_ingest_images_total{result="accepted",source="folder"} 100`, `platemask_jobs_total{outcome="stored",reason=""}`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Every stored image's destroyed share is observed.
	stored := regexp.MustCompile(`platemask_jobs_total\{outcome="stored",reason=""\} (\d+)`).FindStringSubmatch(string(m))
	shares := regexp.MustCompile(`platemask_destroyed_share_count (\d+)`).FindStringSubmatch(string(m))
	if stored == nil || shares == nil || stored[1] != shares[1] {
		t.Errorf("stored jobs %v, destroyed shares observed %v: want equal counts", stored, shares)
	}
	for _, leak := range leakTokens(ins, "gate-1", "gate-2", ".jpg") {
		if strings.Contains(string(m), leak) || strings.Contains(r.stderr.String(), leak) {
			t.Errorf("metrics or logs hold %q", leak)
		}
	}
}

// leakTokens lists the identifying parts of the input names (timestamps,
// plates, addresses, camera ids) plus extra. Short parts such as "2024" or
// "01" are left out: they occur by chance in numbers like durations.
func leakTokens(ins []input, extra ...string) []string {
	out := extra
	for _, in := range ins {
		stem := strings.TrimSuffix(in.name, ".jpg")
		for _, tok := range strings.FieldsFunc(stem, func(r rune) bool { return r == '_' || r == '/' || r == '-' }) {
			if len(tok) >= 5 {
				out = append(out, tok)
			}
		}
	}
	return out
}

// scanAtRest checks files under dirs for indexed input bytes and EXIF.
func scanAtRest(t *testing.T, ix *leakscan.Index, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		found, err := ix.ScanDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("at rest: %s", f)
		}
	}
}
