package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// File is one cache file as found on disk, with what belongs to it.
type File struct {
	Key Key
	// Size is the cache file's length; it may be shorter than the content
	// (a sparse tail reads as zeros) or missing (only ranges recorded).
	Size int64
	// Bytes is the disk space the file and its present-ranges file take.
	Bytes int64
	// Used is when the key was last used: from the access log, else the
	// cache file's modification time.
	Used time.Time
	// HasData reports whether the cache file itself exists (a key may
	// have only a leftover present-ranges file).
	HasData bool
}

// Scan lists the cache directory: every key with a cache file or a
// present-ranges file, and the names that are neither (left by something
// else, or a crash in the middle of a save).
func (c *Cache) Scan() (files []File, stray []string, err error) {
	dir := filepath.Join(c.dir, "data")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("scan cache: %w", err)
	}
	byKey := map[Key]int{}
	for _, de := range ents {
		name := de.Name()
		base, suffix, _ := strings.Cut(name, ".")
		k, ok := parseKey(base)
		if !ok || de.IsDir() || (suffix != "" && suffix != "present") {
			stray = append(stray, name)
			continue
		}
		fi, err := de.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("scan cache: %w", err)
		}
		i, seen := byKey[k]
		if !seen {
			i = len(files)
			byKey[k] = i
			files = append(files, File{Key: k})
		}
		f := &files[i]
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.Bytes += st.Blocks * 512
		}
		if suffix == "" {
			f.HasData = true
			f.Size = fi.Size()
			if f.Used.IsZero() {
				f.Used = fi.ModTime()
			}
		}
	}
	c.access.mu.Lock()
	for i := range files {
		if t, ok := c.access.last[files[i].Key]; ok {
			files[i].Used = time.Unix(0, t)
		}
	}
	c.access.mu.Unlock()
	return files, stray, nil
}

// RemoveStray deletes a name Scan reported as stray.
func (c *Cache) RemoveStray(name string) error {
	if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return fmt.Errorf("remove stray cache file %q: not a name in the cache", name)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, "data", name)); err != nil {
		return fmt.Errorf("remove stray cache file %s: %w", name, err)
	}
	return nil
}
