package queue_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/queue"
)

func TestSubmitAndOpen(t *testing.T) {
	dir := t.TempDir()
	srv := brokertest.StartIn(t, dir, -1)
	ring := brokertest.Ring(1)
	tests := []struct {
		name      string
		inlineMax int
		size      int
	}{
		{"inline", 256 << 10, 40 << 10},
		{"object store", 256 << 10, 1500 << 10}, // over the 1 MiB message limit
		{"always object", 0, 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := brokertest.Config()
			cfg.InlineMax = tt.inlineMax
			q := brokertest.Open(t, srv.URL(), ring, cfg)
			ctx := context.Background()
			data := bytes.Repeat([]byte{0xAB, byte(i)}, tt.size/2)
			when := time.Date(2024, 12, 30, 15, 25, 19, 0, time.UTC)
			img := queue.Image{Data: data, Source: "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", Camera: "gate-1",
				Time: when, Static: []image.Rectangle{image.Rect(0, 0, 10, 10)}}
			r, err := q.Submit(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			again, err := q.Submit(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if r.Duplicate || !again.Duplicate || again.ID != r.ID {
				t.Fatalf("receipts %+v then %+v: want the re-send flagged as a duplicate", r, again)
			}
			c, err := q.Consumer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if msg.Headers().Get("Nats-Msg-Id") != r.ID {
				t.Errorf("Nats-Msg-Id %q, want the job id", msg.Headers().Get("Nats-Msg-Id"))
			}
			for k := range msg.Headers() {
				if k != "Nats-Msg-Id" && k != "Nats-Expected-Stream" {
					t.Errorf("unexpected header %s", k)
				}
			}
			if info, _ := c.Info(ctx); info.NumPending != 0 {
				t.Errorf("%d more jobs pending: the duplicate was queued", info.NumPending)
			}
			for _, leak := range []string{"N74DYX", "20241230", "gate-1", "VEHICLE"} {
				if bytes.Contains(msg.Data(), []byte(leak)) {
					t.Errorf("job message holds %q in the clear", leak)
				}
			}
			m, err := queue.ParseMessage(msg.Data())
			if err != nil {
				t.Fatal(err)
			}
			if (m.Object != "") != (tt.size > tt.inlineMax) {
				t.Errorf("object %q for a %d-byte image (inline max %d)", m.Object, tt.size, tt.inlineMax)
			}
			got, meta, err := q.Open(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || meta.Camera != "gate-1" || meta.Source != img.Source || !meta.Time.Equal(when) || len(meta.Static) != 1 {
				t.Errorf("opened %d bytes, meta %+v", len(got), meta)
			}
			if err := q.Quarantine(ctx, m, "no plate found"); err != nil {
				t.Fatal(err)
			}
			if err := msg.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			if err := q.Finish(ctx, m); err != nil {
				t.Fatal(err)
			}
			if m.Object != "" {
				if _, _, err := q.Open(ctx, m); !errors.Is(err, outcome.ErrPayloadMissing) {
					t.Errorf("raw object after finish: %v", err)
				}
			}
			held, err := q.Held(ctx, false)
			if err != nil || len(held) != 1 || held[0].Name != r.ID || held[0].Metadata["reason"] != "no plate found" {
				t.Fatalf("quarantine %v, %v", held, err)
			}
			// The held copy is still sealed; the ring opens it.
			st, _ := q.JetStream().ObjectStore(ctx, queue.BucketQuarantine)
			sealed, err := st.GetBytes(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if plain, err := ring.Open(sealed, queue.RawAAD(r.ID)); err != nil || !bytes.Equal(plain, data) {
				t.Errorf("held copy does not open to the image: %v", err)
			}
			st.Delete(ctx, r.ID)
		})
	}
	// Nothing in the store files is in the clear: the store is encrypted
	// and the payloads sealed.
	srv.Stop()
	filepath.WalkDir(filepath.Join(dir, "jetstream"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, s := range []string{queue.StreamJobs, "platemask_raw", "\"meta\"", "no plate found"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", p, s)
			}
		}
		return nil
	})
	if st, err := os.Stat(filepath.Join(dir, "broker.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("broker key: %v %v", st, err)
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	srv := brokertest.Start(t)
	for i := 0; i < 3; i++ {
		brokertest.Open(t, srv.URL(), brokertest.Ring(1), brokertest.Config())
	}
}

func TestOpenRefusesForeignSeal(t *testing.T) {
	srv := brokertest.Start(t)
	ctx := context.Background()
	a := brokertest.Open(t, srv.URL(), brokertest.Ring(1), brokertest.Config())
	r, err := a.Submit(ctx, queue.Image{Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Open(t, srv.URL(), &keys.Ring{Active: "other", Keys: []keys.Key{{ID: "other", HMAC: make([]byte, 32), Seal: make([]byte, 32)}}}, brokertest.Config())
	c, _ := b.Consumer(ctx)
	msg, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m, err := queue.ParseMessage(msg.Data())
	if err != nil || m.ID != r.ID {
		t.Fatal(err)
	}
	if _, _, err := b.Open(ctx, m); !errors.Is(err, keys.ErrSealed) {
		t.Errorf("opened with the wrong ring: %v", err)
	}
}

func TestConnectConfigValidate(t *testing.T) {
	tests := []struct {
		c  queue.ConnectConfig
		ok bool
	}{
		{queue.ConnectConfig{URLs: "nats://127.0.0.1:4222"}, true},
		{queue.ConnectConfig{URLs: "nats://a:4222, tls://b:4222,wss://c:443"}, true},
		{queue.ConnectConfig{URLs: "127.0.0.1:4222"}, true},
		{queue.ConnectConfig{URLs: "http://127.0.0.1:4222"}, false}, // nats.go would say "no servers available"
		{queue.ConnectConfig{URLs: "nats://a:4222,https://b"}, false},
		{queue.ConnectConfig{}, false},
		{queue.ConnectConfig{URLs: "x", User: "a", CredsFile: "c"}, false},
		{queue.ConnectConfig{URLs: "x", CertFile: "c"}, false},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.c, err)
		}
	}
}

// TestResultsBuckets: workers write only into buckets named as results
// buckets, and a job cannot name another.
func TestResultsBuckets(t *testing.T) {
	srv := brokertest.Start(t)
	q := brokertest.Open(t, srv.URL(), brokertest.Ring(1), brokertest.Config())
	ctx := context.Background()
	for _, bad := range []string{queue.BucketRaw, queue.BucketQuarantine, "KV_x", queue.ResultsPrefix} {
		if _, err := q.ResultsStore(ctx, bad, true); !errors.Is(err, outcome.ErrBadMessage) {
			t.Errorf("results store %q: %v", bad, err)
		}
		if _, err := q.Submit(ctx, queue.Image{Data: []byte("x"), Source: "a.jpg", Results: bad}); err == nil {
			t.Errorf("a job naming %q as its results bucket was accepted", bad)
		}
	}
	name := queue.ResultsBucket("run-1")
	if _, err := q.ResultsStore(ctx, name, false); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("opening a missing results bucket without create: %v", err)
	}
	st, err := q.ResultsStore(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutBytes(ctx, queue.OutcomeName("j1"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	again, err := q.ResultsStore(ctx, name, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := again.GetBytes(ctx, queue.OutcomeName("j1")); err != nil || string(b) != "{}" {
		t.Errorf("reopened bucket: %q %v", b, err)
	}
	// Dropped only once empty.
	if err := q.DropResults(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := q.ResultsStore(ctx, name, false); err != nil {
		t.Fatalf("a results bucket holding an outcome was dropped: %v", err)
	}
	if err := st.Delete(ctx, queue.OutcomeName("j1")); err != nil {
		t.Fatal(err)
	}
	if err := q.DropResults(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := q.ResultsStore(ctx, name, false); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("an empty results bucket was kept: %v", err)
	}
}
