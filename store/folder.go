package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// tmpPrefix marks Put's temporary files, which listings skip.
const tmpPrefix = ".platemask-tmp-"

// Folder is a local directory; keys are slash-separated paths under it.
type Folder struct {
	root string
}

func openFolder(path string) (*Folder, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty folder path", ErrBadURL)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	return &Folder{root: abs}, nil
}

func (f *Folder) String() string { return "file://" + filepath.ToSlash(f.root) }

func (f *Folder) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(f.root, filepath.FromSlash(key)), nil
}

// List walks the folder in lexical order of keys: entries of a directory
// are sorted as if directories' names ended in '/', which is how their
// keys compare. Only one directory's entries are held at a time.
func (f *Folder) List(ctx context.Context, after string, fn func(Object) error) error {
	st, err := os.Stat(f.root)
	if errors.Is(err, fs.ErrNotExist) {
		// Not an empty store: a mistyped source would audit as clean, or
		// reprocess as done.
		return errors.New("list folder: the folder does not exist")
	}
	if err != nil {
		return fmt.Errorf("list folder: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("list folder: not a directory")
	}
	return f.walk(ctx, "", after, fn)
}

func (f *Folder) walk(ctx context.Context, dir, after string, fn func(Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(f.root, filepath.FromSlash(dir)))
	if err != nil {
		return fmt.Errorf("list folder: %w", errors.Unwrap(err))
	}
	type entry struct {
		key string
		e   fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		k := dir + e.Name()
		if e.IsDir() {
			k += "/"
		}
		list = append(list, entry{k, e})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	for _, en := range list {
		switch {
		case en.e.IsDir():
			// Skip a whole directory all of whose keys sort at or before after.
			if after != "" && en.key < after && !strings.HasPrefix(after, en.key) {
				continue
			}
			if err := f.walk(ctx, en.key, after, fn); err != nil {
				return err
			}
		case en.e.Type().IsRegular():
			if en.key <= after {
				continue
			}
			info, err := en.e.Info()
			if err != nil {
				continue // removed while listing
			}
			if err := fn(Object{Key: en.key, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Get reads one file, refusing it by size before reading.
func (f *Folder) Get(_ context.Context, key string, limit int64) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get: %w", errors.Unwrap(err))
	}
	defer fh.Close()
	return readLimited(fh, limit)
}

// readLimited reads r whole, failing once more than limit bytes arrive.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("get: read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return data, nil
}

// Put writes through a temporary file in the same directory and a
// rename, so a crash never leaves a partial file under the final name.
func (f *Folder) Put(_ context.Context, key string, data []byte, _ string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("put: sync: %w", errors.Unwrap(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("put: %w", errors.Unwrap(err))
	}
	return nil
}

// Stat returns the file's size.
func (f *Folder) Stat(_ context.Context, key string) (Object, error) {
	p, err := f.path(key)
	if err != nil {
		return Object{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Object{}, ErrNotFound
	}
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return Object{}, ErrNotFound
	}
	return Object{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes the file; a missing file is no error.
func (f *Folder) Delete(_ context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete: %w", errors.Unwrap(err))
	}
	return nil
}

// Exposure of a folder is a matter of file permissions and of whatever
// serves it; platemask does not judge those.
func (f *Folder) Exposure(context.Context) ([]Exposure, error) { return nil, nil }

// Share is not possible for a folder: there is no server to sign for.
func (f *Folder) Share(context.Context, string, time.Duration) (string, error) {
	return "", fmt.Errorf("%w: a local folder has no server to serve a link", ErrNoShare)
}
