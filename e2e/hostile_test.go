package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/ingest/receive"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/synth"
)

// memoryCap is what a process may reach while it refuses a gigabyte body
// and a 60000x60000 header: generous against the ~10 GiB that decoding
// the header's pixels would take, and the 1 GiB of reading the body. The
// baseline (OpenCV, the detectors' models, the embedded broker) is about
// 180 MB.
const memoryCap = 384 << 20

// refusalCap bounds what refusing costs over the baseline: a chunked
// body is read up to the 32 MB byte limit before it is refused, and the
// Go heap may grow to twice that before a collection.
const refusalCap = 4 * (32 << 20)

const gib = 1 << 30

// sparseGigabyte writes a 1 GiB file that starts like a JPEG and takes no
// disk space: it is refused on its size, never read.
func sparseGigabyte(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0}); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(gib); err != nil {
		t.Fatal(err)
	}
}

func plain(t *testing.T) []byte {
	t.Helper()
	good, _ := testenv.SceneJPEG(t, 3, 320, 240, 1, 85)
	return good
}

func hugeHeader(t *testing.T) []byte {
	t.Helper()
	for _, b := range synth.BadInputs(plain(t)) {
		if b.Name == "huge-dimensions" {
			return b.Data
		}
	}
	t.Fatal("no huge-dimensions input")
	return nil
}

// child is a platemask command run as its own process, so that its peak
// resident memory (C allocations included) can be read from the kernel.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	end    chan error
	waited bool
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &syncBuffer{}, end: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), append(keyEnv(), envWorker+"="+strings.Join(args, "\x1f"))...)
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.end <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if !c.waited {
			c.cmd.Process.Kill()
			<-c.end
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], c.stderr)
		}
	})
	return c
}

// wait returns the exit code and peak RSS (VmHWM) of the finished child.
func (c *child) wait(t *testing.T, total time.Duration) (code int, peak int64) {
	t.Helper()
	select {
	case <-c.end:
		c.waited = true
	case <-time.After(total):
		t.Fatalf("child still running after %s", total)
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage")
	}
	return c.cmd.ProcessState.ExitCode(), ru.Maxrss << 10 // kB on Linux
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

// TestRedactRefusesGigabyteFileAndHugeHeaderInBoundedMemory runs
// `platemask redact` as a process over a 1 GiB file, a 60000x60000
// header and every other hostile kind beside good images: each bad one is
// 'failed' in the manifest with a reason on stderr, the good ones are
// redacted, and the peak RSS stays far below what reading or decoding
// them would take. A run over the good images alone is the baseline.
func TestRedactRefusesGigabyteFileAndHugeHeaderInBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	in, good := filepath.Join(dir, "in"), filepath.Join(dir, "good")
	ins := inputs(t, 3)
	for _, d := range []string{in, good} {
		for _, x := range ins {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, x.name), x.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sparseGigabyte(t, filepath.Join(in, gigName))
	os.WriteFile(filepath.Join(in, hugeName), hugeHeader(t), 0o644)
	// Derived from a plain JPEG: the inputs' trailers (MPF, junk after
	// EOI) would make "truncated-before-eoi" cut only the trailer.
	bad := synth.BadInputs(plain(t))
	for _, b := range bad {
		os.WriteFile(filepath.Join(in, "bad-"+b.Name+".jpg"), b.Data, 0o644)
	}

	run := func(src string) (code int, peak int64, stderr string) {
		out, manifest := filepath.Join(dir, "out-"+filepath.Base(src)), filepath.Join(dir, filepath.Base(src)+".csv")
		c := startChild(t, "redact", "--out", out, "--manifest", manifest, "--workers", "1", "--no-plate", "keep", src)
		code, peak = c.wait(t, 3*time.Minute)
		f, err := os.Open(manifest)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, row := range rows[1:] {
			isBad := !isGood(ins, row[0])
			switch {
			case isBad && row[2] != "failed":
				t.Errorf("%s: %s, want failed", filepath.Base(row[0]), row[2])
			case !isBad && row[2] != "redacted":
				t.Errorf("%s: %s, want redacted", filepath.Base(row[0]), row[2])
			case isBad:
				failed++
			}
		}
		if n := len(outputs(out)); n != len(ins) {
			t.Errorf("%d outputs, want %d", n, len(ins))
		}
		if strings.Count(c.stderr.String(), "failed: ") != failed {
			t.Errorf("%d failures but %d reasons on stderr", failed, strings.Count(c.stderr.String(), "failed: "))
		}
		return code, peak, c.stderr.String()
	}
	baseCode, base, _ := run(good)
	code, peak, stderr := run(in)
	t.Logf("platemask redact peak RSS: %s over %d good images; %s with a 1 GiB file, a 60000x60000 header and %d other hostile files beside them (cap %s)",
		mb(base), len(ins), mb(peak), len(bad), mb(memoryCap))
	if baseCode != 0 || code != 1 {
		t.Errorf("exit codes %d (good only), %d (with bad input); want 0 and 1", baseCode, code)
	}
	for _, reason := range []string{"input over the byte limit", "image dimensions over the limit: 60000x60000"} {
		if !strings.Contains(stderr, reason) {
			t.Errorf("stderr lacks %q", reason)
		}
	}
	if peak > memoryCap || peak-base > refusalCap {
		t.Errorf("peak RSS %s (%s over the baseline): caps %s and %s", mb(peak), mb(peak-base), mb(memoryCap), mb(refusalCap))
	}
	leaks(t, "redact stderr", stderr, needles(ins))
}

func isGood(ins []input, path string) bool {
	for _, in := range ins {
		if filepath.Base(in.name) == filepath.Base(path) {
			return true
		}
	}
	return false
}

// needles are what must never show in logs, metrics or errors: each
// input's name and its timestamp, plate, address and camera tokens, and
// the keys.
func needles(ins []input) []string {
	k := ring.Current()
	out := []string{base64.StdEncoding.EncodeToString(k.HMAC), base64.StdEncoding.EncodeToString(k.Seal),
		hex.EncodeToString(k.HMAC), hex.EncodeToString(k.Seal), string(k.HMAC[:8]), string(k.Seal[:8]),
		"GB12ABC", "HU12GEE", "20241230"}
	digits := regexp.MustCompile(`\d{8}`)
	for _, in := range ins {
		base := filepath.Base(in.name)
		out = append(out, base, strings.TrimSuffix(base, filepath.Ext(base)))
		for _, tok := range strings.FieldsFunc(strings.TrimSuffix(base, ".jpg"), func(r rune) bool { return r == '_' || r == '-' }) {
			if len(tok) >= 5 && tok != "DETECTION" && tok != "VEHICLE" && tok != "MOTION" {
				out = append(out, tok) // timestamps, plates, IPs, camera names
			}
		}
		out = append(out, digits.FindAllString(base, -1)...)
	}
	return out
}

func leaks(t *testing.T, what, text string, needles []string) {
	t.Helper()
	for _, n := range needles {
		if n != "" && strings.Contains(text, n) {
			t.Errorf("%s holds %q", what, n)
		}
	}
}

// TestServeRefusesGigabyteBodyAndHugeHeaderInBoundedMemory runs
// `platemask serve` as a process and sends it, over HTTP and through the
// drop folder, a 1 GiB body (declared and chunked, streamed, never held
// by the test), a 1 GiB sparse file and 60000x60000 headers, then good
// images. Each hostile one is refused (413, moved aside, dead letter),
// the good ones come out, the peak RSS of the whole process stays under
// the cap, and its logs, metrics and answers name no file, time, plate,
// camera, token or key. A run with the good images alone is the baseline.
func TestServeRefusesGigabyteBodyAndHugeHeaderInBoundedMemory(t *testing.T) {
	base := serveChild(t, false)
	peak := serveChild(t, true)
	t.Logf("platemask serve peak RSS: %s redacting 4 images; %s when it also refuses two 1 GiB bodies, a 1 GiB file and two 60000x60000 headers (cap %s)",
		mb(base), mb(peak), mb(memoryCap))
	if peak > memoryCap || peak-base > refusalCap {
		t.Errorf("peak RSS %s (%s over the baseline): caps %s and %s", mb(peak), mb(peak-base), mb(memoryCap), mb(refusalCap))
	}
}

// serveChild runs serve as a process, feeds it good images (after the
// hostile ones when hostile is set), checks what came out, stops it and
// returns its peak RSS.
func serveChild(t *testing.T, hostile bool) int64 {
	t.Helper()
	dir := t.TempDir()
	data, out := filepath.Join(dir, "data"), filepath.Join(dir, "out")
	reg, err := cameras.Open(filepath.Join(data, cameras.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	token, err := reg.Add(cameras.Camera{ID: "gate-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "serve", "--data", data, "--out", out, "--listen", "127.0.0.1:0", "--broker-port", "-1",
		"--workers", "1", "--no-plate", "keep", "--ack-wait", "2s")
	started := regexp.MustCompile(`ingest=(\S+) .*broker=(\S+)`)
	var base, broker string
	brokertest.Eventually(t, 2*time.Minute, func() error {
		if m := started.FindStringSubmatch(c.stderr.String()); m != nil {
			base, broker = m[1], m[2]
			return nil
		}
		select {
		case err := <-c.end:
			c.end <- err
			t.Fatalf("serve exited: %v", err)
		default:
		}
		return fmt.Errorf("serve not started")
	})
	post := func(body io.Reader, size int64, name string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/images?name="+name, body)
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "image/jpeg")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(raw))
	}
	var responses strings.Builder
	inbox := filepath.Join(data, "inbox", "gate-1")
	deadWant := 0
	if hostile {
		deadWant = 1
		feedHostile(t, post, inbox, &responses)
	}
	ins := inputs(t, 4)
	if err := os.MkdirAll(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		if i%2 == 1 {
			if err := os.WriteFile(filepath.Join(inbox, filepath.Base(in.name)), in.data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		code, body := post(bytes.NewReader(in.data), int64(len(in.data)), filepath.Base(in.name))
		if code != http.StatusAccepted {
			t.Fatalf("good image: %d %s", code, body)
		}
		fmt.Fprintln(&responses, body)
	}
	q := brokertest.Open(t, broker, ring, brokertest.Config())
	brokertest.Eventually(t, 2*time.Minute, func() error {
		if n := len(outputs(out)); n != len(ins) {
			return fmt.Errorf("%d of %d outputs", n, len(ins))
		}
		dead, err := q.Held(context.Background(), true)
		if err != nil || len(dead) != deadWant {
			return fmt.Errorf("%d dead letters (%v), want %d", len(dead), err, deadWant)
		}
		if !hostile {
			return nil
		}
		if dead[0].Metadata["reason"] != "dimensions over limit" {
			t.Fatalf("dead letter reason %q", dead[0].Metadata["reason"])
		}
		if _, err := os.Stat(filepath.Join(data, "inbox", receive.RejectedDir, gigName)); err != nil {
			return fmt.Errorf("1 GiB file not moved aside: %w", err)
		}
		return nil
	})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The huge header passes the drop folder (it only checks sizes) and
	// is refused by the worker.
	want := []string{`result="accepted",source="http"} 2`, `result="accepted",source="folder"} 2`}
	if hostile {
		want = []string{`result="accepted",source="http"} 2`, `result="accepted",source="folder"} 3`,
			`result="too large",source="http"} 2`, `result="dimensions over limit",source="http"} 1`,
			`result="too large",source="folder"} 1`, `outcome="dead",reason="dimensions over limit"} 1`}
	}
	for _, w := range want {
		if !strings.Contains(string(metrics), w) {
			t.Errorf("metrics lack %s", w)
		}
	}

	c.cmd.Process.Signal(syscall.SIGTERM)
	code, peak := c.wait(t, time.Minute)
	if code != 0 {
		t.Errorf("serve exit code %d", code)
	}
	n := append(needles(ins), token, "gate-1")
	leaks(t, "serve log", c.stderr.String(), n)
	leaks(t, "metrics", string(metrics), n)
	leaks(t, "HTTP responses", responses.String(), n)
	return peak
}

const (
	gigName  = "20241230152519495_GB12ABC_VEHICLE_DETECTION.jpg"
	hugeName = "20241230152519496_HU12GEE_VEHICLE_DETECTION.jpg"
)

// feedHostile sends gigabyte bodies and huge headers over HTTP and
// through the drop folder.
func feedHostile(t *testing.T, post func(io.Reader, int64, string) (int, string), inbox string, responses *strings.Builder) {
	t.Helper()
	for _, size := range []int64{gib, -1} {
		code, body := post(&zeros{n: gib}, size, gigName)
		fmt.Fprintln(responses, body)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("1 GiB body (length %d): %d %s, want 413", size, code, body)
		}
	}
	huge := hugeHeader(t)
	code, body := post(bytes.NewReader(huge), int64(len(huge)), hugeName)
	fmt.Fprintln(responses, body)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("60000x60000 header: %d %s, want 413", code, body)
	}
	sparseGigabyte(t, filepath.Join(inbox, gigName))
	if err := os.WriteFile(filepath.Join(inbox, hugeName), huge, 0o644); err != nil {
		t.Fatal(err)
	}
}

// zeros is a body that starts like a JPEG and runs on for n bytes, made
// as it is read.
type zeros struct{ n, sent int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.sent >= z.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n-z.sent)]
	clear(p)
	if z.sent == 0 && len(p) >= 2 {
		p[0], p[1] = 0xFF, 0xD8
	}
	z.sent += int64(len(p))
	return len(p), nil
}
