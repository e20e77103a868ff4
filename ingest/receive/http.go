// Package receive is where cameras' images arrive: the HTTP upload
// endpoint and the drop folder. Both hand images to the queue, sealed, and
// let go of them only once the broker has stored them.
package receive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/queue"
)

// Submitter takes an image into the queue, returning once the broker has
// stored it (queue.Queue).
type Submitter interface {
	Submit(ctx context.Context, img queue.Image) (queue.Receipt, error)
}

// HTTPConfig bounds the upload endpoint.
type HTTPConfig struct {
	Limits codec.Limits
	// MaxBody bounds a whole request (a multipart event carries several
	// pictures).
	MaxBody int64
	// MaxInFlight uploads are handled at once; more are refused with 429
	// at the door rather than queued in memory.
	MaxInFlight int
	// MaxBuffered bounds the bytes all uploads in flight hold together;
	// an upload that would pass it is refused with 429.
	MaxBuffered int64
	// Ready reports whether uploads can be accepted (the broker answers).
	Ready func(ctx context.Context) error
}

// NewDefaultHTTPConfig returns the defaults.
func NewDefaultHTTPConfig() HTTPConfig {
	lim := codec.DefaultLimits()
	// 64 uploads of typical 0.2-2 MiB camera pictures fit easily in
	// 256 MiB; a few near-limit ones may run at once, not 64 of them.
	return HTTPConfig{Limits: lim, MaxBody: 2 * lim.MaxBytes, MaxInFlight: 64, MaxBuffered: 256 << 20}
}

// HTTP is the upload endpoint with its health and metrics routes.
type HTTP struct {
	cfg  HTTPConfig
	cams ingest.Cameras
	sub  Submitter
	m    *metrics.Metrics
	log  *slog.Logger
	sem  chan struct{}
	buf  *budget
	mux  *http.ServeMux

	// registryErr holds the registry's read error while it lasts, so that
	// it is logged once, not on every camera's retry.
	registryErr atomic.Pointer[string]
}

// NewHTTP returns the handler for POST /v1/images, /healthz, /readyz and
// /metrics.
func NewHTTP(cfg HTTPConfig, cams ingest.Cameras, sub Submitter, m *metrics.Metrics, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = metrics.New()
	}
	h := &HTTP{cfg: cfg, cams: cams, sub: sub, m: m, log: log,
		sem: make(chan struct{}, max(1, cfg.MaxInFlight)), mux: http.NewServeMux()}
	h.buf = &budget{max: cfg.MaxBuffered}
	if h.buf.max <= 0 {
		h.buf.max = int64(max(1, cfg.MaxInFlight)) * cfg.MaxBody
	}
	h.mux.HandleFunc("POST /v1/images", h.upload)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	h.mux.HandleFunc("GET /readyz", h.ready)
	h.mux.Handle("GET /metrics", m.Handler())
	return h
}

func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *HTTP) ready(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := h.cfg.Ready(ctx); err != nil {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

// upload is POST /v1/images. It answers 202 only after every picture in
// the request is stored in the broker. Every check (token, size, format)
// runs before anything is queued; if the broker fails part-way, the
// pictures before are queued and a retry is deduplicated by job id.
func (h *HTTP) upload(w http.ResponseWriter, r *http.Request) {
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		h.refuse(w, outcome.ErrBusy)
		return
	}
	cam, ok, err := h.cams.ByToken(bearer(r))
	if err != nil {
		// The camera retries a 503; the operator has to fix the registry.
		if msg := err.Error(); h.registryErr.Swap(&msg) == nil {
			h.log.Error("camera registry unreadable: uploads refused until it is fixed", "err", err)
		}
		h.refuse(w, err)
		return
	}
	if h.registryErr.Swap(nil) != nil {
		h.log.Info("camera registry readable again")
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="platemask"`)
		h.refuse(w, outcome.ErrUnauthorized)
		return
	}
	if r.ContentLength > h.cfg.MaxBody {
		// Refused on the declared length, before a byte of the body is read.
		h.refuse(w, fmt.Errorf("%w: declared body of %d bytes", codec.ErrTooLarge, r.ContentLength))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	acct := &account{b: h.buf}
	defer acct.release()
	parts, err := h.read(r, acct)
	if err != nil {
		h.refuse(w, err)
		return
	}
	for i, p := range parts {
		if _, err := codec.Check(p.data, h.cfg.Limits); err != nil {
			// Which picture of a multipart request: the camera's
			// integrator has to find it, and the name may not be logged.
			h.refuseAt(w, err, i+1, len(parts))
			return
		}
	}
	var resp struct {
		Jobs []queue.Receipt `json:"jobs"`
	}
	for _, p := range parts {
		rc, err := h.sub.Submit(r.Context(), toQueue(cam, p.name, p.data))
		if err != nil {
			// Jobs before this one are queued; a retry of the whole
			// request re-sends them with the same ids, which the broker
			// drops as duplicates.
			h.log.Warn("ingest: submit failed", "err", err)
			h.refuse(w, err)
			return
		}
		result := "accepted"
		if rc.Duplicate {
			result = "duplicate"
		}
		h.m.Ingested.WithLabelValues("http", result).Inc()
		resp.Jobs = append(resp.Jobs, rc)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
}

func (h *HTTP) refuse(w http.ResponseWriter, err error) {
	h.refuseAt(w, err, 0, 0)
}

// refuseAt is refuse for picture n of total in the request; with more than
// one picture the answer says which ("picture": n, counted from 1).
func (h *HTTP) refuseAt(w http.ResponseWriter, err error, n, total int) {
	k := outcome.Of(err)
	h.m.Ingested.WithLabelValues("http", k.Reason).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(k.Status)
	body := map[string]any{"error": k.Reason}
	if total > 1 {
		body["picture"], body["pictures"] = n, total
	}
	json.NewEncoder(w).Encode(body)
}

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

type part struct {
	name string
	data []byte
}

// read returns the pictures in the request: the body itself, or each
// picture part of a multipart form. Parts that are not pictures (the XML
// or JSON event data ANPR cameras send alongside) are skipped.
func (h *HTTP) read(r *http.Request, acct *account) ([]part, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "multipart/") {
		data, err := h.readLimited(acct.reader(r.Body))
		if err != nil {
			return nil, err
		}
		name := r.URL.Query().Get("name")
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && p["filename"] != "" {
			name = p["filename"]
		}
		return []part{{name: filepath.Base(name), data: data}}, nil
	}
	if params["boundary"] == "" {
		return nil, fmt.Errorf("%w: multipart without boundary", outcome.ErrBadRequest)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", outcome.ErrBadRequest, err)
	}
	var parts []part
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tooLarge(err, fmt.Errorf("%w: multipart: %w", outcome.ErrBadRequest, err))
		}
		data, err := h.readLimited(acct.reader(p))
		if err != nil {
			return nil, err
		}
		pct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pct, "image/") || ingest.IsJPEGName(p.FileName()) || jpeginfo.IsJPEG(data) {
			parts = append(parts, part{name: filepath.Base(p.FileName()), data: data})
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no picture in the form", codec.ErrNotJPEG)
	}
	return parts, nil
}

// readLimited reads one picture, refusing it past the byte limit without
// reading the rest.
func (h *HTTP) readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, h.cfg.Limits.MaxBytes+1))
	if errors.Is(err, outcome.ErrBusy) {
		return nil, err
	}
	if err != nil {
		return nil, tooLarge(err, fmt.Errorf("%w: reading body: %w", outcome.ErrBadRequest, err))
	}
	if int64(len(data)) > h.cfg.Limits.MaxBytes {
		return nil, codec.ErrTooLarge
	}
	return data, nil
}

func tooLarge(err, otherwise error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return codec.ErrTooLarge
	}
	return otherwise
}

// toQueue builds the queue's view of one picture: the registered camera is
// authoritative; the name only adds the capture time.
func toQueue(cam ingest.Camera, source string, data []byte) queue.Image {
	if source == "." || source == "/" {
		source = ""
	}
	img := queue.Image{Data: data, Source: source, Camera: cam.ID, Static: cam.Masks, Network: cam.Network}
	if cam.Parser != nil && source != "" {
		img.Time = cam.Parser.Parse(source).Time
	}
	return img
}
