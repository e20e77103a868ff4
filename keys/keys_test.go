package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCreatesPrivateFile(t *testing.T) {
	t.Setenv(EnvHMAC, "")
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	var notice bytes.Buffer
	r1, err := Load(path, &notice)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(notice.String(), "created new keys") {
		t.Errorf("no notice: %q", notice.String())
	}
	r2, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Current().HMAC, r2.Current().HMAC) {
		t.Error("second load gave other keys")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); !errors.Is(err, ErrLoosePermissions) {
		t.Errorf("loose permissions: err = %v", err)
	}
}

func TestLoadFromEnv(t *testing.T) {
	t.Setenv(EnvHMAC, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	t.Setenv(EnvSeal, "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
	t.Setenv(EnvKeyID, "prod-2026")
	r, err := Load(filepath.Join(t.TempDir(), "never-created.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current().ID != "prod-2026" || string(r.Current().HMAC) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("ring %+v", r)
	}
	t.Setenv(EnvSeal, "c2hvcnQ=")
	if _, err := Load("", nil); err == nil {
		t.Error("short sealing key accepted")
	}
}

func TestSealOpen(t *testing.T) {
	k1, _ := New("k1")
	k2, _ := New("k2")
	r := &Ring{Active: "k1", Keys: []Key{k1}}
	plain := []byte("raw camera bytes")
	sealed, err := r.Seal(plain, []byte("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Error("sealed payload holds the plaintext")
	}
	// Rotation: k2 active, k1 kept to open old payloads.
	r = &Ring{Active: "k2", Keys: []Key{k1, k2}}
	got, err := r.Open(sealed, []byte("job-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open after rotation: %v", err)
	}
	if _, err := r.Open(sealed, []byte("job-2")); !errors.Is(err, ErrSealed) {
		t.Errorf("wrong context opened: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := r.Open(sealed, []byte("job-1")); !errors.Is(err, ErrSealed) {
		t.Errorf("tampered payload opened: %v", err)
	}
}

// Open is for processes that open what others sealed: a missing file is an
// error, never a fresh key ring that could open nothing.
func TestOpenNeverCreates(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo", "keys.json")
	if _, err := Open(missing); !errors.Is(err, ErrNoKeyFile) {
		t.Errorf("missing key file: err = %v, want ErrNoKeyFile", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open left something behind: %v", err)
	}
	path := filepath.Join(dir, "keys.json")
	made, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Current().ID != made.Current().ID || string(opened.Current().Seal) != string(made.Current().Seal) {
		t.Error("Open read other keys than Load made")
	}
}
