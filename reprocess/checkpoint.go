package reprocess

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/platemask/platemask/keys"
)

// A Checkpoint remembers which source objects are finished, so that a
// killed run resumes where it stopped. Because listings come in lexical
// order it holds little: a watermark (every listed key up to it is
// finished) and the few keys finished beyond it. Nothing in it identifies
// an object without the keys: the watermark is sealed and other keys are
// kept as truncated HMACs.
//
// The file is a text log: a header, then lines
//
//	w <sealed watermark>   (base64)
//	d <mark>               a key finished beyond the watermark
//	f <mark>               a key that failed (kept across compactions)
//
// Completions are appended one line each as they happen (a write(2) per
// line, so a killed process loses none); Compact rewrites the file
// through a rename with the current watermark.
type Checkpoint struct {
	path      string
	ring      *keys.Ring
	f         *os.File
	watermark string
	done      map[mark]bool
	failed    map[mark]bool
	// carried are keys finished beyond the watermark in an earlier run and
	// not listed yet in this one: compaction must keep them.
	carried map[mark]bool
}

type mark [16]byte

const checkpointHeader = "platemask-checkpoint v1"

var checkpointAAD = []byte("platemask/checkpoint/v1")

// Path returns the checkpoint file for a run from one store URL to another,
// under dataDir. The name is a hash: it reveals neither URL.
func Path(dataDir, from, to string) string {
	sum := sha256.Sum256([]byte("platemask/reprocess/v1\x00" + from + "\x00" + to))
	return filepath.Join(dataDir, "reprocess", fmt.Sprintf("%x.ckpt", sum[:12]))
}

// OpenCheckpoint loads the checkpoint at path, or starts an empty one.
func OpenCheckpoint(path string, ring *keys.Ring) (*Checkpoint, error) {
	c := &Checkpoint{path: path, ring: ring, done: map[mark]bool{}, failed: map[mark]bool{}, carried: map[mark]bool{}}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	for m := range c.done {
		if !c.failed[m] {
			c.carried[m] = true
		}
	}
	if err := c.Compact(c.watermark, nil); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) load() error {
	f, err := os.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			if line != checkpointHeader {
				return fmt.Errorf("checkpoint %s: not a platemask checkpoint", c.path)
			}
			first = false
			continue
		}
		kind, val, ok := strings.Cut(line, " ")
		if !ok {
			continue // a line cut short by a crash
		}
		raw, err := base64.RawURLEncoding.DecodeString(val)
		if err != nil {
			continue
		}
		switch kind {
		case "w":
			plain, err := c.ring.Open(raw, checkpointAAD)
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w (written with other keys?)", c.path, err)
			}
			c.watermark = string(plain)
		case "d", "f":
			if len(raw) != len(mark{}) {
				continue
			}
			m := mark(raw)
			c.done[m] = true
			if kind == "f" {
				c.failed[m] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("checkpoint: read: %w", err)
	}
	return nil
}

// mark is the key's HMAC under the active key, truncated to 16 bytes.
func (c *Checkpoint) mark(key string) mark {
	h := hmac.New(sha256.New, c.ring.Current().HMAC)
	h.Write(checkpointAAD)
	h.Write([]byte{0})
	h.Write([]byte(key))
	return mark(h.Sum(nil)[:16])
}

// Watermark is the key up to which every object is finished ("" none).
func (c *Checkpoint) Watermark() string { return c.watermark }

// Done reports a key finished in an earlier run or this one. The listing
// calls it once per key, in order: a key it has seen needs no more
// carrying, as the run's own window now accounts for it.
func (c *Checkpoint) Done(key string) bool {
	if c.watermark != "" && key <= c.watermark {
		return true
	}
	m := c.mark(key)
	delete(c.carried, m)
	return c.done[m]
}

// Failed reports a key recorded as failed.
func (c *Checkpoint) Failed(key string) bool { return c.failed[c.mark(key)] }

// Failures is the number of keys recorded as failed.
func (c *Checkpoint) Failures() int { return len(c.failed) }

// Finish records a finished key, failed or not.
func (c *Checkpoint) Finish(key string, failed bool) error {
	m := c.mark(key)
	c.done[m] = true
	kind := "d"
	if failed {
		c.failed[m] = true
		kind = "f"
	} else {
		delete(c.failed, m) // a retried failure that now succeeded
	}
	if _, err := fmt.Fprintf(c.f, "%s %s\n", kind, base64.RawURLEncoding.EncodeToString(m[:])); err != nil {
		return fmt.Errorf("checkpoint: write: %w", errors.Unwrap(err))
	}
	return nil
}

// Compact moves the watermark to w (never back) and rewrites the file
// holding only what is still needed: the watermark, the keys finished
// beyond it (beyond, and those carried from an earlier run), and the
// failures.
func (c *Checkpoint) Compact(w string, beyond []string) error {
	if w < c.watermark {
		w = c.watermark
	}
	done := make(map[mark]bool, len(beyond)+len(c.carried))
	for _, k := range beyond {
		done[c.mark(k)] = true
	}
	for m := range c.carried {
		done[m] = true
	}
	var b strings.Builder
	b.WriteString(checkpointHeader + "\n")
	if w != "" {
		sealed, err := c.ring.Seal([]byte(w), checkpointAAD)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		fmt.Fprintf(&b, "w %s\n", base64.RawURLEncoding.EncodeToString(sealed))
	}
	for m := range done {
		if !c.failed[m] {
			fmt.Fprintf(&b, "d %s\n", base64.RawURLEncoding.EncodeToString(m[:]))
		}
	}
	for m := range c.failed {
		fmt.Fprintf(&b, "f %s\n", base64.RawURLEncoding.EncodeToString(m[:]))
	}
	tmp := c.path + ".tmp"
	if err := writeSync(tmp, []byte(b.String())); err != nil {
		return err
	}
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	c.f, c.watermark = f, w
	c.done = done
	for m := range c.failed {
		c.done[m] = true
	}
	return nil
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	return f.Close()
}

// Close closes the file; the log is already on disk.
func (c *Checkpoint) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// Remove deletes the checkpoint (a finished run that needs no resume).
func (c *Checkpoint) Remove() error {
	c.Close()
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
	}
	return nil
}
