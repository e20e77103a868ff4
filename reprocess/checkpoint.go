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
	"strconv"
	"strings"
	"time"

	"github.com/platemask/platemask/keys"
)

// A Checkpoint remembers which source objects are finished, so that a
// killed run resumes where it stopped. Because listings come in lexical
// order it holds little: a watermark (every listed key up to it is
// finished) and the few keys finished beyond it. Nothing in it identifies
// an object without the keys: the watermark is sealed and other keys are
// kept as truncated HMACs.
//
// A run that lists the whole source completes a pass. The next run is an
// incremental pass: it lists everything again (new objects may sort
// anywhere, below the old watermark too) but skips objects last modified
// before the previous pass began, less Skew for the store's clock. Objects
// modified within that margin are told apart by marks of their key and
// modification time, so none is done twice.
//
// The file is a text log: a header, then lines
//
//	w <sealed watermark>   (base64)
//	d <mark>               a key finished beyond the watermark
//	f <mark>               a key that failed (kept across compactions)
//	s <unix ns>            the last complete pass began then
//	p <unix ns>            the current pass began then
//	r <mark>               key+time finished near or after the last complete pass's start
//	n <mark>               the same for the current pass
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

	since, start time.Time
	// recent holds marks (key and modification time) of objects finished
	// in the last complete pass and modified after since-Skew; current the
	// same for this pass.
	recent, current map[mark]bool
	// werr is a failed write of a mark kept from Done, reported by the
	// next Finish or Compact.
	werr error
}

// Skew is how far a store's clock may run behind this machine's: S3 and
// Azure refuse requests signed further apart, and a folder shares the
// clock. Objects modified within it of a pass's start are checked one by one.
const Skew = 15 * time.Minute

type mark [16]byte

const checkpointHeader = "platemask-checkpoint v1"

var checkpointAAD = []byte("platemask/checkpoint/v1")

// Path returns the checkpoint file for a run from one store URL to another,
// under dataDir. The name is a hash: it reveals neither URL.
func Path(dataDir, from, to string) string {
	return filepath.Join(dataDir, "reprocess", Label(from, to)+".ckpt")
}

// Label names the run from one store to another, the same on every resume:
// a hash of the two URLs. It also names the run's results bucket when it
// goes through a queue.
func Label(from, to string) string {
	sum := sha256.Sum256([]byte("platemask/reprocess/v1\x00" + from + "\x00" + to))
	return fmt.Sprintf("%x", sum[:12])
}

// OpenCheckpoint loads the checkpoint at path, or starts an empty one.
func OpenCheckpoint(path string, ring *keys.Ring) (*Checkpoint, error) {
	c := &Checkpoint{path: path, ring: ring, done: map[mark]bool{}, failed: map[mark]bool{}, carried: map[mark]bool{},
		recent: map[mark]bool{}, current: map[mark]bool{}}
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
		if kind == "s" || kind == "p" {
			ns, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				continue
			}
			if kind == "s" {
				c.since = time.Unix(0, ns)
			} else {
				c.start = time.Unix(0, ns)
			}
			continue
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
		case "d", "f", "r", "n":
			if len(raw) != len(mark{}) {
				continue
			}
			m := mark(raw)
			switch kind {
			case "r":
				c.recent[m] = true
			case "n":
				c.current[m] = true
			default:
				c.done[m] = true
				if kind == "f" {
					c.failed[m] = true
				}
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

// markAt is the mark of a key as modified at t.
func (c *Checkpoint) markAt(key string, t time.Time) mark {
	return c.mark(key + "\x00" + strconv.FormatInt(t.UnixNano(), 10))
}

// Watermark is the key up to which every object is finished ("" none).
func (c *Checkpoint) Watermark() string { return c.watermark }

// Since is when the last complete pass began (zero: none has completed).
func (c *Checkpoint) Since() time.Time { return c.since }

// Begin records the start of a pass, unless one is under way already
// (a resumed run continues its pass, which began earlier).
func (c *Checkpoint) Begin(now time.Time) error {
	if !c.start.IsZero() {
		return nil
	}
	c.start = now
	return c.Compact(c.watermark, nil)
}

// Done reports an object finished in an earlier run or this one. The
// listing calls it once per key, in order: a key it has seen needs no
// more carrying, as the run's own window now accounts for it.
func (c *Checkpoint) Done(key string, modified time.Time) bool {
	if c.watermark != "" && key <= c.watermark {
		return true
	}
	m := c.mark(key)
	delete(c.carried, m)
	if c.done[m] {
		return true
	}
	if c.since.IsZero() || modified.IsZero() {
		return false
	}
	if modified.Before(c.since.Add(-Skew)) {
		return true
	}
	if !c.recent[c.markAt(key, modified)] {
		return false
	}
	c.keepCurrent(key, modified)
	return true
}

// keepCurrent remembers a finished object for the next pass if it was
// modified close enough to this pass's start that the next pass must
// check it one by one.
func (c *Checkpoint) keepCurrent(key string, modified time.Time) {
	if modified.IsZero() || c.start.IsZero() || modified.Before(c.start.Add(-Skew)) {
		return
	}
	mt := c.markAt(key, modified)
	if c.current[mt] {
		return
	}
	c.current[mt] = true
	if _, err := fmt.Fprintf(c.f, "n %s\n", base64.RawURLEncoding.EncodeToString(mt[:])); err != nil && c.werr == nil {
		c.werr = fmt.Errorf("checkpoint: write: %w", errors.Unwrap(err))
	}
}

// Failed reports a key recorded as failed.
func (c *Checkpoint) Failed(key string) bool { return c.failed[c.mark(key)] }

// Failures is the number of keys recorded as failed.
func (c *Checkpoint) Failures() int { return len(c.failed) }

// Finish records a finished object, failed or not.
func (c *Checkpoint) Finish(key string, modified time.Time, failed bool) error {
	if !failed {
		c.keepCurrent(key, modified)
	}
	if c.werr != nil {
		return c.werr
	}
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
	if c.werr != nil {
		return c.werr
	}
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
	for kind, t := range map[string]time.Time{"s": c.since, "p": c.start} {
		if !t.IsZero() {
			fmt.Fprintf(&b, "%s %d\n", kind, t.UnixNano())
		}
	}
	for kind, set := range map[string]map[mark]bool{"r": c.recent, "n": c.current} {
		for m := range set {
			fmt.Fprintf(&b, "%s %s\n", kind, base64.RawURLEncoding.EncodeToString(m[:]))
		}
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

// Complete records that the current pass has finished the whole listing:
// the next run starts an incremental pass from the first key. Failures
// are kept for --retry-failed.
func (c *Checkpoint) Complete() error {
	if c.start.IsZero() {
		return errors.New("checkpoint: complete without a pass begun")
	}
	c.since, c.start = c.start, time.Time{}
	c.recent, c.current = c.current, map[mark]bool{}
	c.watermark = ""
	c.carried = map[mark]bool{}
	c.done = map[mark]bool{}
	for m := range c.failed {
		c.done[m] = true
	}
	return c.Compact("", nil)
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
