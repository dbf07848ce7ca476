package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// else, or a crash in the middle of a save). It holds the whole listing:
// for fsck; the evictor and the orphan sweep use Walk.
func (c *Cache) Scan() (files []File, stray []string, err error) {
	byKey := map[Key]int{}
	err = c.Walk(context.Background(), func(batch []File, bstray []string) error {
		stray = append(stray, bstray...)
		for _, b := range batch {
			i, seen := byKey[b.Key]
			if !seen {
				byKey[b.Key] = len(files)
				files = append(files, b)
				continue
			}
			f := &files[i]
			f.Bytes += b.Bytes
			if b.HasData {
				f.HasData, f.Size, f.Used = true, b.Size, b.Used
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	keys := make([]Key, len(files))
	for i := range files {
		keys[i] = files[i].Key
	}
	for i, t := range c.LastUses(keys) {
		if !t.IsZero() {
			files[i].Used = t
		}
	}
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
