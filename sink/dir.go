package sink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/platemask/platemask/redact"
)

// Dir writes outputs into a folder.
type Dir struct {
	Path string
}

// NewDir creates the folder if needed and removes temporary files that a
// killed writer left behind (old enough that no live writer owns them).
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	stale, _ := filepath.Glob(filepath.Join(path, ".tmp-*"))
	for _, p := range stale {
		if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > 10*time.Minute {
			os.Remove(p)
		}
	}
	return &Dir{Path: path}, nil
}

// Put writes the image, then the record: a record on disk always has its
// image.
func (d *Dir) Put(_ context.Context, rec redact.Record, image []byte) error {
	if rec.Image == "" || filepath.Base(rec.Image) != rec.Image {
		return errors.New("sink: record has no plain output name")
	}
	meta, err := marshal(rec)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(d.Path, rec.Image), image); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(d.Path, RecordName(rec.Image)), meta); err != nil {
		return err
	}
	return syncDir(d.Path)
}

// writeAtomic writes through a synced temporary file and a rename, so a
// crash leaves either the old file or the whole new one, never a part.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sink: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sink: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// syncDir makes the renames durable.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}
