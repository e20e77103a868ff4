package models

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
)

// Every model in the tree matches the hash its manifest records, and the
// manifest is one the detector can run with.
func TestManifestsMatchWeights(t *testing.T) {
	for _, dir := range []string{".", "fast", "fences"} {
		onnx, m, err := Load(dir+"/platenet.onnx", dir+"/platenet.json")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(onnx)
		if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
			t.Errorf("%s: weights hash %s, manifest says %s", dir, got, m.SHA256)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
		if _, err := os.Stat(dir + "/" + m.File); err != nil {
			t.Errorf("%s: manifest names %s: %v", dir, m.File, err)
		}
	}
	embedded, m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(embedded); hex.EncodeToString(sum[:]) != m.SHA256 {
		t.Error("embedded weights do not match the embedded manifest")
	}
}
