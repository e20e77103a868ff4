package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IsJPEGName reports a .jpg or .jpeg name in any case.
func IsJPEGName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg":
		return true
	}
	return false
}

// Walk calls fn for each JPEG named by inputs: files as given (whatever
// their extension, so a user can name one explicitly), folders recursively
// in lexical order, keeping only .jpg/.jpeg names.
func Walk(inputs []string, fn func(path string) error) error {
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		if !st.IsDir() {
			if err := fn(in); err != nil {
				return err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && IsJPEGName(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk input folder: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	return nil
}
