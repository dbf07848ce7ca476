package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The reserve: a file of preallocated blocks in the cache directory, so
// that when the cache disk fills up (content writes fail with ENOSPC) the
// index still has room to commit the transactions that free space again:
// an unlink's tombstone, the journal batch that lets it be purged, an
// eviction's Absent. Whoever watches the disk (the resolver's evictor)
// releases it when the disk is full and takes it again once there is room.
//
// SQLite, the log and content writes share one disk, and a writer cannot be
// made to leave room for the others; the reserve is the room they leave
// without knowing it.

// reserveFile is the reserve's name in the cache directory (beside data/,
// so that Scan never takes it for content).
const reserveFile = "reserve"

// DefaultReserve is the reserve's size unless Options.Reserve says
// otherwise: a few hundred index commits.
const DefaultReserve = 4 << 20

func (c *Cache) reservePath() string { return filepath.Join(c.dir, reserveFile) }

// Reserve returns the reserve's size when held: what TakeReserve
// allocates.
func (c *Cache) Reserve() int64 { return c.reserve }

// TakeReserve allocates the reserve file's blocks, if they are not
// allocated yet. On a disk without room it returns an error wrapping
// ErrNoSpace and leaves no partial reserve.
func (c *Cache) TakeReserve() error {
	if c.reserve <= 0 {
		return nil
	}
	if held, _ := c.ReserveHeld(); held {
		return nil
	}
	p := c.reservePath()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("take cache reserve: %w", mapErr(err))
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, c.reserve)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		// No fallocate here: write the blocks out instead.
		_, err = f.WriteAt(make([]byte, c.reserve), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("take cache reserve: %w", mapErr(err))
	}
	return nil
}

// ReserveHeld reports whether the reserve's blocks are allocated.
func (c *Cache) ReserveHeld() (bool, error) {
	fi, err := os.Stat(c.reservePath())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat cache reserve: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 >= c.reserve, nil
}

// ReleaseReserve frees the reserve's blocks for the index to use.
func (c *Cache) ReleaseReserve() error {
	if err := os.Remove(c.reservePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release cache reserve: %w", err)
	}
	return nil
}

// DiskFree returns the bytes an unprivileged writer may still use on the
// cache's disk.
func (c *Cache) DiskFree() (int64, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(c.dir, &s); err != nil {
		return 0, fmt.Errorf("statfs cache disk: %w", err)
	}
	return int64(s.Bavail) * int64(s.Bsize), nil
}
