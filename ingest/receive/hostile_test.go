package receive_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/ingest/receive"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/synth"
)

// refusal posts body and checks the answer is a 4xx carrying only one of
// the public reasons.
func refusal(t *testing.T, url, token, ctype string, body io.Reader, size int64) (status int, reason string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/images?name=20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", body)
	req.ContentLength = size
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, raw)
	}
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Errorf("status %d, want a 4xx; body %s", resp.StatusCode, raw)
	}
	if len(out) != 1 || !slices.Contains(outcome.Reasons(), out["error"]) || len(raw) > 64 {
		t.Errorf("body %s is not one short public reason", raw)
	}
	return resp.StatusCode, out["error"]
}

// TestUploadRefusesEveryHostileInput posts each hostile kind as a plain
// body and as the picture of a camera's multipart event: every one is
// refused at the door with a 4xx and a public reason; nothing is queued.
func TestUploadRefusesEveryHostileInput(t *testing.T) {
	reg, tok := registry(t)
	sub := &blockingSubmitter{}
	ts := httptest.NewServer(receive.NewHTTP(receive.NewDefaultHTTPConfig(), reg, sub, nil, nil))
	defer ts.Close()
	for _, bad := range synth.BadInputs(jpeg(t, 1)) {
		t.Run(bad.Name, func(t *testing.T) {
			status, reason := refusal(t, ts.URL, tok, "image/jpeg", bytes.NewReader(bad.Data), int64(len(bad.Data)))
			ct, form := form(t, [3]string{"anpr.xml", "text/xml", "<EventNotificationAlert/>"},
				[3]string{"licensePlatePicture.jpg", "image/jpeg", string(bad.Data)})
			mstatus, mreason := refusal(t, ts.URL, tok, ct, bytes.NewReader(form), int64(len(form)))
			t.Logf("body: %d %s; multipart: %d %s", status, reason, mstatus, mreason)
		})
	}
	if len(sub.got) != 0 {
		t.Errorf("%d hostile inputs were queued", len(sub.got))
	}
}

// gigabyte is a body that starts like a JPEG and goes on for n bytes,
// made on the fly: the test never holds it in memory.
type gigabyte struct {
	n, sent int64
}

func (g *gigabyte) Read(p []byte) (int, error) {
	if g.sent >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.sent)]
	clear(p)
	if g.sent == 0 && len(p) >= 4 {
		copy(p, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	}
	g.sent += int64(len(p))
	return len(p), nil
}

// TestUploadRefusesGigabyteBodyWithoutReadingIt streams a 1 GiB body,
// with its length declared and chunked: 413 either way, and the server
// stops reading at its limit instead of taking the whole body.
func TestUploadRefusesGigabyteBodyWithoutReadingIt(t *testing.T) {
	reg, tok := registry(t)
	sub := &blockingSubmitter{}
	cfg := receive.NewDefaultHTTPConfig()
	var read atomic.Int64
	h := receive.NewHTTP(cfg, reg, sub, nil, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	const gib = 1 << 30
	for _, tt := range []struct {
		name string
		size int64
		ct   string
	}{
		{"declared", gib, "image/jpeg"},
		{"chunked", -1, "image/jpeg"},
		{"chunked multipart", -1, "multipart/form-data; boundary=x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			read.Store(0)
			body := &gigabyte{n: gib}
			if strings.HasPrefix(tt.ct, "multipart/") {
				head := "--x\r\nContent-Disposition: form-data; name=\"p\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
				status, reason := refusal(t, ts.URL, tok, tt.ct, io.MultiReader(strings.NewReader(head), body), tt.size)
				if status != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d %s, want 413", status, reason)
				}
			} else if status, reason := refusal(t, ts.URL, tok, tt.ct, body, tt.size); status != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d %s, want 413", status, reason)
			}
			t.Logf("server read %d of %d bytes; client sent %d", read.Load(), int64(gib), body.sent)
			if read.Load() > cfg.MaxBody+1<<20 {
				t.Errorf("server read %d bytes, limit %d", read.Load(), cfg.MaxBody)
			}
		})
	}
	if len(sub.got) != 0 {
		t.Errorf("%d jobs queued", len(sub.got))
	}
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestUploadCannotImpersonateAnotherCamera: whatever the request says
// about the camera (query, headers, form fields, names, paths), the job
// belongs to the camera whose token sent it.
func TestUploadCannotImpersonateAnotherCamera(t *testing.T) {
	reg, tok := registry(t)
	if _, err := reg.Add(cameras.Camera{ID: "gate-2"}); err != nil {
		t.Fatal(err)
	}
	sub := &blockingSubmitter{}
	ts := httptest.NewServer(receive.NewHTTP(receive.NewDefaultHTTPConfig(), reg, sub, nil, nil))
	defer ts.Close()
	good := jpeg(t, 1)
	spoofName := "gate-2_20241230152519495_N74DYX_VEHICLE_DETECTION.jpg"

	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("camera", "gate-2")
	w.WriteField("cameraId", "gate-2")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="gate-2"; filename="../gate-2/`+spoofName+`"`)
	h.Set("Content-Type", "image/jpeg")
	pw, _ := w.CreatePart(h)
	pw.Write(good)
	w.Close()

	for _, tt := range []struct {
		name, query, ctype string
		header             map[string]string
		body               []byte
	}{
		{"query", "?camera=gate-2&name=" + spoofName, "image/jpeg", nil, good},
		{"headers", "", "image/jpeg", map[string]string{"X-Camera": "gate-2", "X-Camera-Id": "gate-2",
			"Content-Disposition": `attachment; filename="gate-2/` + spoofName + `"`}, good},
		{"path in name", "?name=../../gate-2/" + spoofName, "image/jpeg", nil, good},
		{"form fields", "", w.FormDataContentType(), nil, mp.Bytes()},
	} {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/images"+tt.query, bytes.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		req.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("%s: status %d", tt.name, resp.StatusCode)
		}
	}
	if len(sub.got) != 4 {
		t.Fatalf("%d jobs, want 4", len(sub.got))
	}
	for _, img := range sub.got {
		if img.Camera != "gate-1" || len(img.Static) != 1 || strings.ContainsAny(img.Source, `/\`) {
			t.Errorf("job camera %q, %d masks, source %q: want gate-1's, a base name", img.Camera, len(img.Static), img.Source)
		}
	}
	// A token presented twice, or another camera's after ours, changes
	// nothing; a token in a query string is not a credential.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/images?token="+tok+"&access_token="+tok, bytes.NewReader(good))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token in the query: %v %v, want 401", resp.Status, err)
	}
	for _, auth := range []string{"Basic " + tok, "Bearer", "Bearer " + tok + "x", "Bearer " + strings.ToUpper(tok), "Token " + tok} {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/images", bytes.NewReader(good))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %v %v, want 401", strings.ReplaceAll(auth, tok, "TOKEN"), resp.Status, err)
		}
	}
	if len(sub.got) != 4 {
		t.Errorf("unauthenticated requests queued %d jobs", len(sub.got)-4)
	}
}
