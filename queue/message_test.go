package queue_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/queue"
)

func TestParseMessage(t *testing.T) {
	sealed := bytes.Repeat([]byte{0, '\n', 0xff, '{'}, 64) // binary, newlines included
	v2inline, err := queue.Message{ID: "j1", Meta: []byte("m"), Data: sealed}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	v2object, err := queue.Message{ID: "j1", Meta: []byte("m"), Object: "j1.x"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	v1 := func(fields map[string]any) []byte {
		b, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		body   []byte
		data   []byte // want, or nil for an object
		object string
		bad    bool
	}{
		{name: "v2 inline", body: v2inline, data: sealed},
		{name: "v2 object", body: v2object, object: "j1.x"},
		{name: "v1 inline, as an earlier release queued it", body: v1(map[string]any{"v": 1, "id": "j1", "meta": []byte("m"), "data": sealed}), data: sealed},
		{name: "v1 object", body: v1(map[string]any{"v": 1, "id": "j1", "meta": []byte("m"), "object": "j1.x"}), object: "j1.x"},
		{name: "v2 with the image in the JSON", body: v1(map[string]any{"v": 2, "id": "j1", "meta": []byte("m"), "data": sealed}), bad: true},
		{name: "v2 with an empty image", body: append(v1(map[string]any{"v": 2, "id": "j1", "meta": []byte("m")}), '\n'), bad: true},
		{name: "v2 with both", body: append(append(v1(map[string]any{"v": 2, "id": "j1", "meta": []byte("m"), "object": "o"}), '\n'), sealed...), bad: true},
		{name: "v1 followed by bytes", body: append(append(v1(map[string]any{"v": 1, "id": "j1", "meta": []byte("m"), "object": "o"}), '\n'), sealed...), bad: true},
		{name: "unknown version", body: v1(map[string]any{"v": 3, "id": "j1", "meta": []byte("m"), "object": "o"}), bad: true},
		{name: "no id", body: v1(map[string]any{"v": 2, "meta": []byte("m"), "object": "o"}), bad: true},
		{name: "no meta", body: v1(map[string]any{"v": 2, "id": "j1", "object": "o"}), bad: true},
		{name: "not JSON", body: []byte("\xff\xd8\xff\xe0 a JPEG"), bad: true},
		{name: "empty", body: nil, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := queue.ParseMessage(tt.body)
			if tt.bad {
				if !errors.Is(err, outcome.ErrBadMessage) {
					t.Fatalf("parsed %+v, err %v; want a bad message", m, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != "j1" || string(m.Meta) != "m" || !bytes.Equal(m.Data, tt.data) || m.Object != tt.object {
				t.Errorf("parsed %+v", m)
			}
		})
	}
}

// BenchmarkParseMessage reads a job carrying a 175 KiB image inline, as
// each version lays it out.
func BenchmarkParseMessage(b *testing.B) {
	sealed := bytes.Repeat([]byte{0x5a, 0xa5, '\n', 0}, 175<<8)
	v2, err := queue.Message{ID: "j1", Meta: make([]byte, 200), Data: sealed}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	v1, err := json.Marshal(queue.Message{V: 1, ID: "j1", Meta: make([]byte, 200), Data: sealed})
	if err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		body []byte
	}{{"v1", v1}, {"v2", v2}} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(sealed)))
			for b.Loop() {
				if _, err := queue.ParseMessage(bm.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseMessage: any body either fails as a bad message or parses to a
// message that encodes and parses back to itself.
func FuzzParseMessage(f *testing.F) {
	v2, _ := queue.Message{ID: "j1", Meta: []byte("m"), Data: []byte{0, '\n', 1}}.Encode()
	obj, _ := queue.Message{ID: "j1", Meta: []byte("m"), Object: "j1.x"}.Encode()
	f.Add(v2)
	f.Add(obj)
	f.Add([]byte(`{"v":1,"id":"j1","meta":"bQ==","data":"AAEC"}`))
	f.Add([]byte(`{"v":2,"id":"j1","meta":"bQ=="}` + "\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := queue.ParseMessage(body)
		if err != nil {
			if !errors.Is(err, outcome.ErrBadMessage) {
				t.Fatalf("error %v is not a bad message", err)
			}
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := queue.ParseMessage(again)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if back.ID != m.ID || !bytes.Equal(back.Meta, m.Meta) || !bytes.Equal(back.Data, m.Data) || back.Object != m.Object {
			t.Fatalf("round trip changed %+v into %+v", m, back)
		}
	})
}
