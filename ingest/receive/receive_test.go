package receive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/ingest/receive"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/synth"
)

func jpeg(t testing.TB, seed int64) []byte {
	t.Helper()
	b, _ := testenv.SceneJPEG(t, seed, 320, 240, 1, 85)
	return b
}

func registry(t *testing.T) (*cameras.Registry, string) {
	t.Helper()
	reg, err := cameras.Open(filepath.Join(t.TempDir(), cameras.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := reg.Add(cameras.Camera{ID: "gate-1", Masks: []image.Rectangle{image.Rect(0, 0, 100, 20)}, Network: "fences"})
	if err != nil {
		t.Fatal(err)
	}
	return reg, tok
}

// next takes the next job from the queue and opens it.
func next(t *testing.T, q *queue.Queue) queue.Meta {
	t.Helper()
	c, err := q.Consumer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg.Ack()
	m, err := queue.ParseMessage(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	_, meta, err := q.Open(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func form(t *testing.T, parts ...[3]string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+p[0]+`"; filename="`+p[0]+`"`)
		h.Set("Content-Type", p[1])
		pw, _ := w.CreatePart(h)
		pw.Write([]byte(p[2]))
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func TestUpload(t *testing.T) {
	srv := brokertest.Start(t)
	q := brokertest.Open(t, srv.URL(), brokertest.Ring(1), brokertest.Config())
	reg, tok := registry(t)
	cfg := receive.NewDefaultHTTPConfig()
	cfg.Limits.MaxBytes = 200 << 10
	cfg.Ready = q.Ready
	h := receive.NewHTTP(cfg, reg, q, nil, nil)
	ts := httptest.NewServer(h)
	defer ts.Close()

	good := jpeg(t, 1)
	name := "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg"
	ctForm, body := form(t, [3]string{"anpr.xml", "text/xml", "<EventNotificationAlert/>"},
		[3]string{"licensePlatePicture.jpg", "image/jpeg", string(good)},
		[3]string{"detectionPicture.jpg", "image/jpeg", string(jpeg(t, 2))})
	ctXML, xmlOnly := form(t, [3]string{"anpr.xml", "text/xml", "<x/>"})
	var png []byte
	for _, b := range synth.BadInputs(good) {
		if b.Name == "png-named-jpg" {
			png = b.Data
		}
	}
	ctBad, badForm := form(t, [3]string{"licensePlatePicture.jpg", "image/jpeg", string(good)},
		[3]string{"detectionPicture.jpg", "image/jpeg", string(png)})
	tests := []struct {
		name    string
		token   string
		ctype   string
		body    []byte
		status  int
		jobs    int
		picture int // which picture the refusal names, in a request of several
	}{
		{"no token", "", "image/jpeg", good, 401, 0, 0},
		{"wrong token", "pmc_nope", "image/jpeg", good, 401, 0, 0},
		{"jpeg", tok, "image/jpeg", good, 202, 1, 0},
		{"multipart event", tok, ctForm, body, 202, 2, 0},
		{"multipart with a bad picture", tok, ctBad, badForm, 415, 0, 2},
		{"png", tok, "image/jpeg", png, 415, 0, 0},
		{"text", tok, "application/octet-stream", []byte("hello"), 415, 0, 0},
		{"truncated", tok, "image/jpeg", good[:len(good)/2], 422, 0, 0},
		{"too large", tok, "image/jpeg", bytes.Repeat(good, 60), 413, 0, 0},
		{"form without picture", tok, ctXML, xmlOnly, 415, 0, 0},
		{"empty", tok, "image/jpeg", nil, 400, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/images?name="+name, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Jobs    []queue.Receipt
				Error   string
				Picture int
			}
			raw, _ := io.ReadAll(resp.Body)
			json.Unmarshal(raw, &out)
			if resp.StatusCode != tt.status || len(out.Jobs) != tt.jobs {
				t.Fatalf("status %d, body %s; want %d with %d jobs", resp.StatusCode, raw, tt.status, tt.jobs)
			}
			if out.Picture != tt.picture {
				t.Errorf("refusal names picture %d, want %d: %s", out.Picture, tt.picture, raw)
			}
			if strings.Contains(string(raw), "N74DYX") || strings.Contains(string(raw), "gate-1") {
				t.Errorf("response echoes the name or camera: %s", raw)
			}
		})
	}
	meta := next(t, q)
	if meta.Camera != "gate-1" || meta.Source != name || meta.Time.Format("2006-01-02") != "2024-12-30" || len(meta.Static) != 1 || meta.Network != "fences" {
		t.Errorf("job meta %+v", meta)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, resp.Status, err)
		}
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`platemask_ingest_images_total{result="accepted",source="http"} 3`, `result="unauthorized"`, `result="not a jpeg"`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"gate-1", "N74DYX", "20241230", tok} {
		if strings.Contains(string(m), leak) {
			t.Errorf("metrics hold %q", leak)
		}
	}
	// A camera removed from the registry is refused at once.
	reg.Remove("gate-1")
	req, _ := http.NewRequest("POST", ts.URL+"/v1/images", bytes.NewReader(good))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("removed camera: %v %v", resp.Status, err)
	}
}

// blockingSubmitter holds every submit until released.
type blockingSubmitter struct {
	entered chan struct{}
	release chan struct{}
	fail    error
	mu      sync.Mutex
	got     []queue.Image
}

func (b *blockingSubmitter) Submit(ctx context.Context, img queue.Image) (queue.Receipt, error) {
	if b.entered != nil {
		b.entered <- struct{}{}
		<-b.release
	}
	if b.fail != nil {
		return queue.Receipt{}, b.fail
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, img)
	return queue.Receipt{ID: "x"}, nil
}

func TestUploadBusy(t *testing.T) {
	reg, tok := registry(t)
	sub := &blockingSubmitter{entered: make(chan struct{}), release: make(chan struct{})}
	cfg := receive.NewDefaultHTTPConfig()
	cfg.MaxInFlight = 1
	ts := httptest.NewServer(receive.NewHTTP(cfg, reg, sub, nil, nil))
	defer ts.Close()
	post := func() int { return upload(t, ts.URL, tok, bytes.NewReader(jpeg(t, 1))) }
	first := make(chan int)
	go func() { first <- post() }()
	<-sub.entered
	if code := post(); code != http.StatusTooManyRequests {
		t.Errorf("second upload while busy: %d, want 429", code)
	}
	close(sub.release)
	if code := <-first; code != 202 {
		t.Errorf("first upload: %d", code)
	}
}

// TestUploadByteBudget: uploads in flight share one byte budget. While a
// stalled upload holds most of it, another is refused with 429 instead of
// buffered; once the stalled one ends, the budget is whole again.
func TestUploadByteBudget(t *testing.T) {
	reg, tok := registry(t)
	img := jpeg(t, 1)
	sub := &blockingSubmitter{}
	cfg := receive.NewDefaultHTTPConfig()
	cfg.MaxBuffered = int64(len(img) * 3 / 2)
	ts := httptest.NewServer(receive.NewHTTP(cfg, reg, sub, nil, nil))
	defer ts.Close()
	post := func(body io.Reader) int { return upload(t, ts.URL, tok, body) }

	// A slow camera sends as many bytes as the picture, then stalls.
	pr, pw := io.Pipe()
	stalled := make(chan int)
	go func() { stalled <- post(pr) }()
	if _, err := pw.Write(bytes.Repeat([]byte{0xff}, len(img))); err != nil {
		t.Fatal(err)
	}
	brokertest.Eventually(t, 10*time.Second, func() error {
		if code := post(bytes.NewReader(img)); code != http.StatusTooManyRequests {
			return fmt.Errorf("upload beside a stalled one: %d, want 429", code)
		}
		return nil
	})
	pw.Close()
	if code := <-stalled; code != http.StatusUnsupportedMediaType {
		t.Errorf("stalled upload of no picture: %d, want 415", code)
	}
	// Every byte came back: uploads one after another all fit.
	for i := range 5 {
		if code := post(bytes.NewReader(img)); code != http.StatusAccepted {
			t.Fatalf("upload %d after the stall: %d, want 202", i, code)
		}
	}
}

// upload posts body to the endpoint at url with the camera token tok and
// returns the status (0, with the test failed, when the request fails).
func upload(t *testing.T, url, tok string, body io.Reader) int {
	req, _ := http.NewRequest("POST", url+"/v1/images", body)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	reg, _ := registry(t)
	sub := &blockingSubmitter{}
	cfg := receive.NewDefaultFolderConfig(dir)
	cfg.Settle = 300 * time.Millisecond
	cfg.MaxBytes = 100 << 10
	f, err := receive.NewFolder(cfg, reg, sub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := jpeg(t, 1)
	growing := filepath.Join(dir, "gate-1", "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg")
	os.MkdirAll(filepath.Dir(growing), 0o755)
	os.WriteFile(growing, data[:100], 0o644)
	os.WriteFile(filepath.Join(dir, "upload.jpg.part"), data, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.jpg"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "huge.jpg"), bytes.Repeat(data, 20), 0o644)
	deadline := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// Still growing: never taken.
		os.WriteFile(growing, data[:min(len(data), 100*(i+2))], 0o644)
		if n, err := f.Scan(ctx); n != 0 || err != nil {
			t.Fatalf("scan took %d files while one was growing (%v)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.WriteFile(growing, data, 0o644)
	// The broker is down: the file stays.
	sub.fail = errors.New("broker down")
	brokertest.Eventually(t, 5*time.Second, func() error {
		f.Scan(ctx)
		if len(sub.got) > 0 {
			return errors.New("submitted while failing")
		}
		if _, err := os.Stat(filepath.Join(dir, receive.RejectedDir, "huge.jpg")); err != nil {
			return err
		}
		return nil
	})
	if _, err := os.Stat(growing); err != nil {
		t.Fatal("file removed although the broker never took it")
	}
	sub.fail = nil
	brokertest.Eventually(t, 5*time.Second, func() error {
		f.Scan(ctx)
		if len(sub.got) != 1 {
			return errors.New("not submitted yet")
		}
		return nil
	})
	got := sub.got[0]
	if !bytes.Equal(got.Data, data) || got.Camera != "gate-1" || len(got.Static) != 1 || got.Time.IsZero() {
		t.Errorf("submitted %d bytes camera %q masks %d time %v", len(got.Data), got.Camera, len(got.Static), got.Time)
	}
	if _, err := os.Stat(growing); !errors.Is(err, os.ErrNotExist) {
		t.Error("sent file not removed")
	}
	for _, left := range []string{"upload.jpg.part", ".hidden.jpg", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, left)); err != nil {
			t.Errorf("%s: %v", left, err)
		}
	}
}

// crashAfterSubmit stands for a process that dies after the broker stored
// the job but before the file was deleted: the submit succeeds, the caller
// never learns it.
type crashAfterSubmit struct{ q *queue.Queue }

func (c crashAfterSubmit) Submit(ctx context.Context, img queue.Image) (queue.Receipt, error) {
	if _, err := c.q.Submit(ctx, img); err != nil {
		return queue.Receipt{}, err
	}
	return queue.Receipt{}, errors.New("killed before the file was removed")
}

// TestFolderResendAfterCrash: the file left behind by a dead process is
// sent again by the next one, the broker recognises it, and the queue holds
// one job, not two.
func TestFolderResendAfterCrash(t *testing.T) {
	srv := brokertest.Start(t)
	q := brokertest.Open(t, srv.URL(), brokertest.Ring(1), brokertest.Config())
	reg, _ := registry(t)
	dir := t.TempDir()
	cfg := receive.NewDefaultFolderConfig(dir)
	cfg.Settle = 0
	path := filepath.Join(dir, "gate-1", "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, jpeg(t, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := receive.NewFolder(cfg, reg, crashAfterSubmit{q}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := first.Scan(ctx); n != 0 {
		t.Fatalf("the dying process reports %d files sent", n)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("file gone although its sender died before removing it")
	}
	second, err := receive.NewFolder(cfg, reg, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := second.Scan(ctx); n != 1 || err != nil {
		t.Fatalf("restart sent %d files (%v), want 1", n, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("file not removed after the resend")
	}
	jobs := 0
	if err := q.Pending(ctx, func(queue.JobInfo) bool { jobs++; return true }); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Fatalf("queue holds %d jobs for one file, want 1", jobs)
	}
}

// An unreadable camera registry (broken JSON after a hand edit) must not
// read as "no such camera": uploads would be refused as unauthorised
// (cameras drop those) and dropped files would lose their camera's masks.
// Both wait instead, and go through once the registry is fixed.
func TestUnreadableRegistryFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), cameras.DefaultFile)
	reg, err := cameras.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mask := image.Rect(0, 0, 100, 20)
	tok, err := reg.Add(cameras.Camera{ID: "gate-1", Masks: []image.Rectangle{mask}})
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"cameras": [`), 0o600); err != nil {
		t.Fatal(err)
	}

	sub := &blockingSubmitter{}
	ts := httptest.NewServer(receive.NewHTTP(receive.NewDefaultHTTPConfig(), reg, sub, nil, nil))
	defer ts.Close()
	if code := upload(t, ts.URL, tok, bytes.NewReader(jpeg(t, 1))); code != http.StatusServiceUnavailable {
		t.Errorf("upload with the registry unreadable: %d, want 503 (retry)", code)
	}

	dir := t.TempDir()
	cfg := receive.NewDefaultFolderConfig(dir)
	cfg.Settle = 0
	f, err := receive.NewFolder(cfg, reg, sub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dropped := filepath.Join(dir, "gate-1", "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg")
	os.MkdirAll(filepath.Dir(dropped), 0o755)
	if err := os.WriteFile(dropped, jpeg(t, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		f.Scan(ctx)
	}
	if _, err := os.Stat(dropped); err != nil {
		t.Errorf("dropped file taken while the registry was unreadable: %v", err)
	}
	if len(sub.got) != 0 {
		t.Fatalf("%d images submitted while the registry was unreadable", len(sub.got))
	}

	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := upload(t, ts.URL, tok, bytes.NewReader(jpeg(t, 1))); code != http.StatusAccepted {
		t.Errorf("upload once the registry is fixed: %d, want 202", code)
	}
	brokertest.Eventually(t, 5*time.Second, func() error {
		if _, err := f.Scan(ctx); err != nil {
			return err
		}
		if _, err := os.Stat(dropped); err == nil {
			return errors.New("dropped file still waiting")
		}
		return nil
	})
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.got) != 2 {
		t.Fatalf("%d images submitted, want 2", len(sub.got))
	}
	for _, img := range sub.got {
		if img.Camera != "gate-1" || len(img.Static) != 1 || img.Static[0] != mask {
			t.Errorf("image of camera %q with masks %v, want gate-1's mask", img.Camera, img.Static)
		}
	}
}
