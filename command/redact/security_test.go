package redact_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/keys"
)

// looseKeyFile makes a valid key file that group and others can read.
func looseKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, err := keys.Load(path, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRedactRefusesWorldReadableKeyFile: a key file with 0644
// permissions stops `platemask redact` before any input is read, and
// nothing is written.
func TestRedactRefusesWorldReadableKeyFile(t *testing.T) {
	for _, k := range []string{keys.EnvHMAC, keys.EnvSeal, keys.EnvKeyID} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	raw, _ := testenv.SceneJPEG(t, 1, 320, 240, 1, 85)
	write(t, filepath.Join(dir, "in", "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg"), raw)
	out := filepath.Join(dir, "out")
	key := looseKeyFile(t)
	code, _, stderr := run(t, "redact", "--out", out, "--no-plate", "keep", "--keys", key, filepath.Join(dir, "in"))
	if code == cmdutil.ExitOK {
		t.Fatalf("exit 0 with a world-readable key file; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "chmod 600") {
		t.Errorf("stderr does not say how to fix it:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("%d files written", len(entries))
	}
	raw, _ = os.ReadFile(key)
	if strings.Contains(stderr, string(raw[:20])) || strings.Contains(stderr, "N74DYX") {
		t.Errorf("stderr holds key or input material:\n%s", stderr)
	}
}

// TestRedactRefusesGigabyteFileWithoutReadingIt: a 1 GiB input (sparse)
// is 'failed' as too large from its size, beside a good image that is
// redacted.
func TestRedactRefusesGigabyteFileWithoutReadingIt(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	raw, _ := testenv.SceneJPEG(t, 1, 320, 240, 1, 85)
	write(t, filepath.Join(in, "good.jpg"), raw)
	big := filepath.Join(in, "big.jpg")
	write(t, big, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	if err := os.Truncate(big, 1<<30); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "redact", "--out", out, "--no-plate", "keep", "--workers", "1",
		"--keys", filepath.Join(dir, "keys.json"), "--manifest", filepath.Join(dir, "m.csv"), in)
	if code != cmdutil.ExitFailed || !strings.Contains(stderr, "input over the byte limit: 1073741824 bytes") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	m, _ := os.ReadFile(filepath.Join(dir, "m.csv"))
	if !strings.Contains(string(m), big+",,failed,0") {
		t.Errorf("manifest:\n%s", m)
	}
	if jpgs, _ := filepath.Glob(filepath.Join(out, "*.jpg")); len(jpgs) != 1 {
		t.Errorf("%d outputs, want the good image's", len(jpgs))
	}
}
