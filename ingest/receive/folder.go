package receive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/queue"
)

// FolderConfig describes a drop folder (an FTP upload target, say).
type FolderConfig struct {
	Dir string
	// Interval between scans.
	Interval time.Duration
	// Settle is how long a file's size and time must stay unchanged before
	// it counts as complete: cameras that upload in place give no other
	// sign. Files under a dot name or ending in .part, .tmp, .filepart or
	// .crdownload are never taken, so uploaders that rename into place are
	// picked up on the next scan.
	Settle   time.Duration
	MaxBytes int64
}

// NewDefaultFolderConfig watches dir.
func NewDefaultFolderConfig(dir string) FolderConfig {
	return FolderConfig{Dir: dir, Interval: time.Second, Settle: 2 * time.Second, MaxBytes: 32 << 20}
}

// Folder ingests files dropped into a folder. A file is deleted only after
// the broker has stored its job; if the process dies first, the file is
// still there and is sent again on the next start (the broker drops the
// duplicate, and a re-run would overwrite the same output anyway).
//
// A file in a subfolder named after a registered camera is that camera's;
// otherwise the camera is what the file name says.
type Folder struct {
	cfg  FolderConfig
	cams ingest.Cameras
	sub  Submitter
	m    *metrics.Metrics
	log  *slog.Logger
	seen map[string]fileState
	// failed remembers files that could not be sent, to log each once.
	failed map[string]bool
}

type fileState struct {
	size  int64
	mod   time.Time
	since time.Time
}

// RejectedDir holds files too large to take, inside the drop folder.
const RejectedDir = ".rejected"

// NewFolder returns a drop-folder watcher.
func NewFolder(cfg FolderConfig, cams ingest.Cameras, sub Submitter, m *metrics.Metrics, log *slog.Logger) (*Folder, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("drop folder: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = metrics.New()
	}
	return &Folder{cfg: cfg, cams: cams, sub: sub, m: m, log: log,
		seen: map[string]fileState{}, failed: map[string]bool{}}, nil
}

// Run scans until ctx ends.
func (f *Folder) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := f.Scan(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("drop folder: scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan makes one pass and returns how many files it sent.
func (f *Folder) Scan(ctx context.Context) (int, error) {
	now := time.Now()
	present := map[string]bool{}
	var ready []string
	err := filepath.WalkDir(f.cfg.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != f.cfg.Dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !ingest.IsJPEGName(p) || partial(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		present[p] = true
		st, ok := f.seen[p]
		if !ok || st.size != info.Size() || !st.mod.Equal(info.ModTime()) {
			f.seen[p] = fileState{size: info.Size(), mod: info.ModTime(), since: now}
			if f.cfg.Settle > 0 {
				return nil
			}
		}
		if now.Sub(f.seen[p].since) >= f.cfg.Settle {
			ready = append(ready, p)
		}
		return nil
	})
	for p := range f.seen {
		if !present[p] {
			delete(f.seen, p)
			delete(f.failed, p)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("drop folder: %w", err)
	}
	sent := 0
	for _, p := range ready {
		if ctx.Err() != nil {
			break
		}
		took, err := f.take(ctx, p)
		if err != nil {
			if !f.failed[p] {
				// The error comes from the broker or the disk, never
				// from the file's name or content.
				f.log.Warn("drop folder: file kept for the next scan", "err", err)
				f.failed[p] = true
			}
			continue
		}
		delete(f.seen, p)
		delete(f.failed, p)
		if took {
			sent++
		}
	}
	return sent, nil
}

func partial(name string) bool {
	for _, s := range []string{".part", ".tmp", ".filepart", ".crdownload"} {
		if strings.HasSuffix(strings.ToLower(name), s) {
			return true
		}
	}
	return false
}

// take sends one file and deletes it once the broker has it; a file over
// the byte limit is moved aside instead (took is false).
func (f *Folder) take(ctx context.Context, path string) (took bool, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if info.Size() > f.cfg.MaxBytes {
		f.m.Ingested.WithLabelValues("folder", "too large").Inc()
		f.log.Warn("drop folder: file over the byte limit moved aside", "dir", RejectedDir)
		return false, f.reject(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	rel, _ := filepath.Rel(f.cfg.Dir, path)
	cam, err := f.camera(rel)
	if err != nil {
		return false, err
	}
	rc, err := f.sub.Submit(ctx, toQueue(cam, filepath.Base(path), data))
	if err != nil {
		return false, err
	}
	result := "accepted"
	if rc.Duplicate {
		result = "duplicate"
	}
	f.m.Ingested.WithLabelValues("folder", result).Inc()
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, fmt.Errorf("remove sent file: %w", err)
	}
	return true, nil
}

// camera is the registered camera whose subfolder holds rel, or else the
// camera the name gives (with no masks). An unreadable registry is an
// error, so that a registered camera's masks are never skipped.
func (f *Folder) camera(rel string) (ingest.Camera, error) {
	if first, _, ok := strings.Cut(filepath.ToSlash(rel), "/"); ok && f.cams != nil {
		c, ok, err := f.cams.ByID(first)
		if err != nil {
			return ingest.Camera{}, err
		}
		if ok {
			return c, nil
		}
	}
	p, _ := ingest.NewParser("")
	return ingest.Camera{ID: p.Parse(rel).Camera, Parser: p}, nil
}

func (f *Folder) reject(path string) error {
	dir := filepath.Join(f.cfg.Dir, RejectedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Keep the name: an operator has to find the camera's file.
	return os.Rename(path, filepath.Join(dir, filepath.Base(path)))
}

var _ Submitter = (*queue.Queue)(nil)
