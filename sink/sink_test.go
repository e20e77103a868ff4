package sink_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
)

func TestSinks(t *testing.T) {
	srv := brokertest.Start(t)
	nc := brokertest.Connect(t, srv.URL())
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := sink.NewObjects(ctx, js, sink.ObjectsConfig{Bucket: "out_test"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := sink.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]func(name string) ([]byte, error){
		"dir":     func(n string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, n)) },
		"objects": func(n string) ([]byte, error) { return objs.Store.GetBytes(ctx, n) },
	}
	for name, s := range map[string]sink.Sink{"dir": d, "objects": objs} {
		t.Run(name, func(t *testing.T) {
			rec := redact.Record{Schema: 1, Image: "abcdefghijklmnopqrstuvwxyz.jpg", Regions: 2}
			for i, img := range [][]byte{[]byte("first"), []byte("second run")} {
				rec.Width = i
				if err := s.Put(ctx, rec, img); err != nil {
					t.Fatal(err)
				}
			}
			img, err := read[name](rec.Image)
			if err != nil || string(img) != "second run" {
				t.Errorf("image %q, %v", img, err)
			}
			raw, err := read[name]("abcdefghijklmnopqrstuvwxyz.json")
			var got redact.Record
			if err != nil || json.Unmarshal(raw, &got) != nil || got.Width != 1 || got.Regions != 2 {
				t.Errorf("record %s, %v", raw, err)
			}
			if err := s.Put(ctx, redact.Record{Image: "../escape.jpg"}, img); name == "dir" && err == nil {
				t.Error("dir sink accepted a path as a name")
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want the image and its record", len(entries))
	}
}
