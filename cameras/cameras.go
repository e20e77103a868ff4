// Package cameras is the registry of cameras allowed to push images: each
// has a bearer token (only its hash is stored), an optional site, static
// mask rectangles for burned-in overlays, and a file-name pattern. The
// registry is a 0600 JSON file in the data dir.
package cameras

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/models"
)

// Camera is one registered camera.
type Camera struct {
	ID      string            `json:"id"`
	Site    string            `json:"site,omitempty"`
	Masks   []image.Rectangle `json:"masks,omitempty"`
	Pattern string            `json:"pattern,omitempty"`
	// Network is an opt-in shipped detector network for this camera's
	// images (models.Networks, such as "fences" for a camera that looks
	// through a fence); "" runs the workers' own.
	Network string `json:"network,omitempty"`
	// TokenHash is the SHA-256 of the bearer token; the token itself is
	// shown once and never stored.
	TokenHash string    `json:"token_sha256"`
	Added     time.Time `json:"added"`
}

// Errors of the registry.
var (
	ErrExists   = errors.New("camera already registered")
	ErrNotFound = errors.New("no such camera")
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// ValidateID checks a camera id: 1-64 letters, digits, dot, dash,
// underscore, colon.
func ValidateID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("camera id %q: use 1-64 letters, digits, '.', '-', '_' or ':'", id)
	}
	return nil
}

// Registry is the camera file. It re-reads the file when it changes, so
// `platemask cameras add` takes effect in a running serve.
type Registry struct {
	path string

	mu      sync.Mutex
	mod     time.Time
	size    int64
	cams    []Camera
	parsers map[string]*ingest.Parser
}

// DefaultFile is the registry's name inside the data dir.
const DefaultFile = "cameras.json"

// Open reads the registry at path; a missing file is an empty registry.
func Open(path string) (*Registry, error) {
	r := &Registry{path: path}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) reload() error {
	st, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		r.cams, r.parsers, r.mod, r.size = nil, nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	if st.ModTime().Equal(r.mod) && st.Size() == r.size && r.parsers != nil {
		return nil
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("camera registry %s is readable by group or others (chmod 600)", r.path)
	}
	raw, err := os.ReadFile(r.path)
	if err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	var f struct {
		Cameras []Camera `json:"cameras"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("camera registry %s: not valid JSON", r.path)
	}
	parsers := map[string]*ingest.Parser{}
	for _, c := range f.Cameras {
		p, err := ingest.NewParser(c.Pattern)
		if err != nil {
			return fmt.Errorf("camera registry: camera %d: %w", len(parsers)+1, err)
		}
		parsers[c.ID] = p
	}
	r.cams, r.parsers, r.mod, r.size = f.Cameras, parsers, st.ModTime(), st.Size()
	return nil
}

func (r *Registry) save() error {
	raw, err := json.MarshalIndent(struct {
		Cameras []Camera `json:"cameras"`
	}{r.cams}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.path), ".cameras-*")
	if err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("camera registry: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.path); err != nil {
		return fmt.Errorf("camera registry: %w", err)
	}
	r.parsers = nil // force a re-read, which also validates
	return r.reload()
}

// Add registers a camera and returns its new bearer token, the only time
// the token exists in the clear.
func (r *Registry) Add(c Camera) (token string, err error) {
	if err := ValidateID(c.ID); err != nil {
		return "", err
	}
	if err := c.check(); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return "", err
	}
	for _, x := range r.cams {
		if x.ID == c.ID {
			return "", fmt.Errorf("%w: %s", ErrExists, c.ID)
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token = "pmc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	c.TokenHash = hashToken(token)
	c.Added = time.Now().UTC().Truncate(time.Second)
	r.cams = append(r.cams, c)
	return token, r.save()
}

// Update changes a camera's site, masks, pattern and network (not its
// token).
func (r *Registry) Update(c Camera) error {
	if err := c.check(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return err
	}
	for i, x := range r.cams {
		if x.ID == c.ID {
			c.TokenHash, c.Added = x.TokenHash, x.Added
			r.cams[i] = c
			return r.save()
		}
	}
	return fmt.Errorf("%w: %s", ErrNotFound, c.ID)
}

// check validates what Add and Update take from the operator.
func (c Camera) check() error {
	if _, err := ingest.NewParser(c.Pattern); err != nil {
		return err
	}
	if c.Network != "" && !slices.Contains(models.Networks, c.Network) {
		return fmt.Errorf("network %q: one of %s, or \"\" for the workers' own", c.Network, strings.Join(models.Networks, ", "))
	}
	return nil
}

// Remove deletes a camera; its token stops working at once.
func (r *Registry) Remove(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return err
	}
	for i, x := range r.cams {
		if x.ID == id {
			r.cams = append(r.cams[:i], r.cams[i+1:]...)
			return r.save()
		}
	}
	return fmt.Errorf("%w: %s", ErrNotFound, id)
}

// List returns the cameras by id.
func (r *Registry) List() ([]Camera, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return nil, err
	}
	out := append([]Camera(nil), r.cams...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get returns the camera with id. An error means the registry could not
// be read, which is not the same as an unknown camera.
func (r *Registry) Get(id string) (Camera, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return Camera{}, false, err
	}
	for _, c := range r.cams {
		if c.ID == id {
			return c, true, nil
		}
	}
	return Camera{}, false, nil
}

// Authenticate returns the camera whose token this is. Every hash is
// compared in constant time. An error means the registry could not be
// read: callers fail closed on it (and tell the operator), rather than
// answer every camera as if its token were wrong.
func (r *Registry) Authenticate(token string) (Camera, bool, error) {
	if token == "" {
		return Camera{}, false, nil
	}
	h := []byte(hashToken(token))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reload(); err != nil {
		return Camera{}, false, err
	}
	var found Camera
	ok := false
	for _, c := range r.cams {
		if subtle.ConstantTimeCompare(h, []byte(c.TokenHash)) == 1 {
			found, ok = c, true
		}
	}
	return found, ok, nil
}

// Parser returns the file-name parser of camera id (the built-in schemes
// for an unknown camera).
func (r *Registry) Parser(id string) *ingest.Parser {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.reload() // on error the last good parsers stay
	if p := r.parsers[id]; p != nil {
		return p
	}
	p, _ := ingest.NewParser("")
	return p
}

func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// ParseRect reads a mask rectangle as x,y,w,h.
func ParseRect(s string) (image.Rectangle, error) {
	var x, y, w, h int
	if n, err := fmt.Sscanf(strings.ReplaceAll(s, " ", ""), "%d,%d,%d,%d", &x, &y, &w, &h); err != nil || n != 4 {
		return image.Rectangle{}, fmt.Errorf("mask %q: want x,y,w,h", s)
	}
	if w <= 0 || h <= 0 || x < 0 || y < 0 {
		return image.Rectangle{}, fmt.Errorf("mask %q: need x,y >= 0 and w,h > 0", s)
	}
	return image.Rect(x, y, x+w, y+h), nil
}

// ByToken is Authenticate for ingest.
func (r *Registry) ByToken(token string) (ingest.Camera, bool, error) {
	c, ok, err := r.Authenticate(token)
	if !ok || err != nil {
		return ingest.Camera{}, false, err
	}
	return ingest.Camera{ID: c.ID, Masks: c.Masks, Network: c.Network, Parser: r.Parser(c.ID)}, true, nil
}

// ByID is Get for ingest.
func (r *Registry) ByID(id string) (ingest.Camera, bool, error) {
	c, ok, err := r.Get(id)
	if !ok || err != nil {
		return ingest.Camera{}, false, err
	}
	return ingest.Camera{ID: c.ID, Masks: c.Masks, Network: c.Network, Parser: r.Parser(c.ID)}, true, nil
}

var _ ingest.Cameras = (*Registry)(nil)
