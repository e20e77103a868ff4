package receive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/ingest/receive"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/synth"
)

// oneCamera is a registry of one camera, without files.
type oneCamera struct{}

const fuzzToken = "pmc_fuzz"

func (oneCamera) ByToken(tok string) (ingest.Camera, bool, error) {
	if tok != fuzzToken {
		return ingest.Camera{}, false, nil
	}
	return oneCamera{}.cam(), true, nil
}

func (oneCamera) ByID(id string) (ingest.Camera, bool, error) {
	if id != "gate-1" {
		return ingest.Camera{}, false, nil
	}
	return oneCamera{}.cam(), true, nil
}

func (oneCamera) cam() ingest.Camera {
	p, _ := ingest.NewParser("")
	return ingest.Camera{ID: "gate-1", Masks: []image.Rectangle{image.Rect(0, 0, 8, 8)}, Parser: p}
}

type recorder struct {
	mu  sync.Mutex
	got []queue.Image
}

func (r *recorder) Submit(_ context.Context, img queue.Image) (queue.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, img)
	return queue.Receipt{ID: "x"}, nil
}

// FuzzUpload throws arbitrary requests at POST /v1/images: content type
// (with or without a multipart boundary), Content-Disposition, the name
// parameter and the body. The handler must never panic, must answer with
// a status from outcome's table and a public reason, and may queue only
// pictures that pass the codec's checks, as the token's camera, under a
// base name.
func FuzzUpload(f *testing.F) {
	img, _, err := synth.Scene(1, 64, 48, 1)
	if err != nil {
		f.Fatal(err)
	}
	good, err := synth.EncodeJPEG(img, 80)
	if err != nil {
		f.Fatal(err)
	}
	const b = "XyZ"
	part := func(hdr, body string) string {
		return "--" + b + "\r\n" + hdr + "\r\n\r\n" + body + "\r\n"
	}
	form := part(`Content-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"`+"\r\nContent-Type: text/xml", "<x/>") +
		part(`Content-Disposition: form-data; name="p"; filename="../gate-2/a.jpg"`+"\r\nContent-Type: image/jpeg", string(good)) +
		"--" + b + "--\r\n"
	seeds := []struct {
		ctype, disp, name string
		body              []byte
	}{
		{"image/jpeg", "", "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", good},
		{"image/jpeg", `attachment; filename="x/y.jpg"`, "", good},
		{"multipart/form-data; boundary=" + b, "", "", []byte(form)},
		{"multipart/mixed; boundary=" + b, "", "", []byte(form[:len(form)/2])},
		{"multipart/form-data", "", "", []byte(form)},
		{"multipart/form-data; boundary=\"", "", "", nil},
		{"text/plain", "attachment; filename*=UTF-8''%2e%2e%2f.jpg", "..", []byte("hello")},
		{"", "", "/", nil},
	}
	for _, s := range seeds {
		f.Add(s.ctype, s.disp, s.name, s.body)
	}
	for _, bad := range synth.BadInputs(good)[:8] {
		f.Add("image/jpeg", "", bad.Name, bad.Data)
	}
	cfg := receive.NewDefaultHTTPConfig()
	cfg.Limits.MaxBytes = 64 << 10
	cfg.MaxBody = 128 << 10
	// With a valid token and a broker that takes everything, only the
	// door's own answers are possible.
	statuses := map[int]bool{http.StatusAccepted: true, http.StatusBadRequest: true,
		http.StatusRequestEntityTooLarge: true, http.StatusUnsupportedMediaType: true,
		http.StatusUnprocessableEntity: true}
	// One handler for all inputs (its metrics registry is costly to make);
	// inputs run one at a time in a fuzz process.
	rec := &recorder{}
	h := receive.NewHTTP(cfg, oneCamera{}, rec, nil, nil)
	f.Fuzz(func(t *testing.T, ctype, disp, name string, body []byte) {
		rec.got = nil
		req := httptest.NewRequest("POST", "/v1/images", bytes.NewReader(body))
		q := req.URL.Query()
		q.Set("name", name)
		req.URL.RawQuery = q.Encode()
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
		req.Header.Set("Content-Type", ctype)
		if disp != "" {
			req.Header.Set("Content-Disposition", disp)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !statuses[w.Code] {
			t.Fatalf("status %d is not one the door answers with", w.Code)
		}
		if w.Code != http.StatusAccepted {
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || !slices.Contains(outcome.Reasons(), out["error"]) {
				t.Fatalf("refusal body %q", w.Body.String())
			}
			if len(rec.got) > 0 {
				t.Fatalf("status %d but %d jobs queued", w.Code, len(rec.got))
			}
			return
		}
		if len(rec.got) == 0 {
			t.Fatal("202 with nothing queued")
		}
		for _, img := range rec.got {
			if _, err := codec.Check(img.Data, cfg.Limits); err != nil {
				t.Errorf("queued a picture the codec refuses: %v", err)
			}
			if img.Camera != "gate-1" || len(img.Static) != 1 {
				t.Errorf("queued as camera %q with %d masks", img.Camera, len(img.Static))
			}
			if strings.ContainsAny(img.Source, "/\\") {
				t.Errorf("source %q is not a base name", img.Source)
			}
		}
	})
}
