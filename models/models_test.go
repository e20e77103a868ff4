package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"strings"
	"testing"
)

// Every model in the tree matches the hash its manifest records, and the
// manifest is one the detector can run with.
func TestManifestsMatchWeights(t *testing.T) {
	for _, dir := range []string{".", "fast", "fences", "mirror", "wide"} {
		raw, err := os.ReadFile(dir + "/platenet.json")
		if err != nil {
			t.Fatal(err)
		}
		var m Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		// The weights the manifest names, relative to itself.
		onnx, err := os.ReadFile(path.Join(dir, m.File))
		if err != nil {
			t.Fatalf("%s: manifest names %s: %v", dir, m.File, err)
		}
		sum := sha256.Sum256(onnx)
		if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
			t.Errorf("%s: weights hash %s, manifest says %s", dir, got, m.SHA256)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

// The networks built into the binary are the ones in the tree, by name.
func TestShippedNetworks(t *testing.T) {
	for _, tc := range []struct{ network, dir, name string }{
		{"", ".", "platenet"}, {"fast", "fast", "platenet-fast"}, {"fences", "fences", "platenet-fences"},
		{"wide", "wide", "platenet-wide"}, {"mirror", ".", "platenet-mirror"},
	} {
		embedded, m, err := Shipped(tc.network)
		if err != nil {
			t.Fatalf("%q: %v", tc.network, err)
		}
		onDisk, _, err := Load(tc.dir+"/platenet.onnx", tc.dir+"/platenet.json")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(embedded)
		if !bytes.Equal(embedded, onDisk) || hex.EncodeToString(sum[:]) != m.SHA256 || m.Name != tc.name {
			t.Errorf("%q: embedded %s (%s), want %s's weights", tc.network, m.Name, m.SHA256, tc.dir)
		}
	}
	if _, _, err := Shipped("fastest"); err == nil || !strings.Contains(err.Error(), "fast, fences, mirror, wide") {
		t.Errorf("unknown network: err = %v, want one naming the shipped ones", err)
	}
}

func TestValidatePostProcessing(t *testing.T) {
	_, base, err := Load("platenet.onnx", "platenet.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Manifest)
		ok   bool
	}{
		{"shipped", func(*Manifest) {}, true},
		{"parts with a core", func(m *Manifest) { m.Core, m.Parts, m.Grow = 0.25, true, 0 }, true},
		{"parts and grow", func(m *Manifest) { m.Core, m.Parts, m.Grow = 0.25, true, 1 }, false},
		{"grow alone", func(m *Manifest) { m.Core, m.Parts, m.Grow = 0.7, false, 2 }, true},
		{"core of 1", func(m *Manifest) { m.Core = 1 }, false},
		{"threshold 0", func(m *Manifest) { m.Threshold = 0 }, false},
	}
	for _, tt := range tests {
		m := base
		tt.edit(&m)
		if err := m.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
