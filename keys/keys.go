// Package keys holds the secrets platemask works with: an HMAC key that
// derives pseudonymous names and labels, and a sealing key (AES-256-GCM)
// for raw payloads and quarantined images. Keys carry ids so they can be
// rotated; they live apart from the data, in a 0600 file or the
// environment.
package keys

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Environment variables that supply keys instead of a file.
const (
	EnvKeyID = "PLATEMASK_KEY_ID"
	EnvHMAC  = "PLATEMASK_HMAC_KEY" // base64, 32 bytes
	EnvSeal  = "PLATEMASK_SEAL_KEY" // base64, 32 bytes
)

// Key is one generation of secrets.
type Key struct {
	ID      string    `json:"id"`
	HMAC    []byte    `json:"hmac"`
	Seal    []byte    `json:"seal"`
	Created time.Time `json:"created"`
}

// Ring is the active key plus older ones still needed to open sealed data.
type Ring struct {
	Active string `json:"active"`
	Keys   []Key  `json:"keys"`
}

// ErrLoosePermissions refuses a key file others can read.
var ErrLoosePermissions = errors.New("key file is readable by group or others (chmod 600)")

// Current returns the active key.
func (r *Ring) Current() Key {
	k, _ := r.Get(r.Active)
	return k
}

// Get returns the key with id.
func (r *Ring) Get(id string) (Key, bool) {
	for _, k := range r.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

func (r *Ring) validate() error {
	k, ok := r.Get(r.Active)
	if !ok {
		return fmt.Errorf("active key %q is not in the ring", r.Active)
	}
	if len(k.HMAC) < 32 || len(k.Seal) != 32 {
		return fmt.Errorf("key %q: need a 32-byte HMAC key and a 32-byte sealing key", k.ID)
	}
	return nil
}

// New makes a fresh key with id.
func New(id string) (Key, error) {
	k := Key{ID: id, HMAC: make([]byte, 32), Seal: make([]byte, 32), Created: time.Now().UTC()}
	if _, err := rand.Read(k.HMAC); err != nil {
		return k, err
	}
	if _, err := rand.Read(k.Seal); err != nil {
		return k, err
	}
	return k, nil
}

// DefaultPath is where keys live when no path is given.
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "platemask", "keys.json")
}

// ErrNoKeyFile is Open's error when the key file does not exist.
var ErrNoKeyFile = errors.New("no key file")

// Load returns the keys from the environment when PLATEMASK_HMAC_KEY is
// set, otherwise from the file at path, creating it (0600) on first use
// with a notice on notice.
func Load(path string, notice io.Writer) (*Ring, error) {
	return load(path, notice, true)
}

// Open is Load for processes that read what others sealed (a worker, the
// queue tools): it never creates a key file. New keys there would open no
// job, and every job would go to dead letters.
func Open(path string) (*Ring, error) {
	return load(path, nil, false)
}

func load(path string, notice io.Writer, create bool) (*Ring, error) {
	if os.Getenv(EnvHMAC) != "" {
		return fromEnv()
	}
	if path == "" {
		path = DefaultPath()
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && create:
		return createFile(path, notice)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w at %s: give the key file the jobs were sealed with (--keys), or set %s and %s",
			ErrNoKeyFile, path, EnvHMAC, EnvSeal)
	case err != nil:
		return nil, fmt.Errorf("key file: %w", err)
	case st.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%s: %w", path, ErrLoosePermissions)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	var r Ring
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("key file %s: not valid JSON", path)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return &r, nil
}

func fromEnv() (*Ring, error) {
	dec := func(name string) ([]byte, error) {
		b, err := base64.StdEncoding.DecodeString(os.Getenv(name))
		if err != nil {
			return nil, fmt.Errorf("%s: not base64", name)
		}
		return b, nil
	}
	h, err := dec(EnvHMAC)
	if err != nil {
		return nil, err
	}
	s, err := dec(EnvSeal)
	if err != nil {
		return nil, err
	}
	id := os.Getenv(EnvKeyID)
	if id == "" {
		id = "env"
	}
	r := &Ring{Active: id, Keys: []Key{{ID: id, HMAC: h, Seal: s}}}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("keys from environment: %w", err)
	}
	return r, nil
}

func createFile(path string, notice io.Writer) (*Ring, error) {
	k, err := New("k1")
	if err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	r := &Ring{Active: k.ID, Keys: []Key{k}}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return Load(path, notice)
	}
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if notice != nil {
		fmt.Fprintf(notice, "platemask: created new keys in %s (mode 0600); keep this file safe and apart from the data: without it names cannot be reproduced and sealed images cannot be opened\n", path)
	}
	return r, nil
}
