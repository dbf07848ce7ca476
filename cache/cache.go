package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Key names one cache file: a content version of one inode.
type Key struct {
	Ino  uint64
	Cver int64
}

func (k Key) String() string { return fmt.Sprintf("%d-%d", k.Ino, k.Cver) }

// Fetcher fills missing content. Fetch must write at least the bytes
// [off, off+n) of key's content into dst (clipped to the content's size) and
// return the range it wrote, which may be larger (whole chunks). It must
// return an error, never short data, when it cannot.
type Fetcher interface {
	Fetch(ctx context.Context, key Key, off, n int64, dst io.WriterAt) (start, end int64, err error)
}

// ErrNoSpace reports that the cache's disk is full.
var ErrNoSpace = errors.New("cache disk full")

// Cache is the local content cache in one directory.
//
// Lock order: Cache.mu, then an entry's fill mutex is never taken while
// holding Cache.mu (fills run unlocked, one per key at a time).
type Cache struct {
	dir     string
	fetcher Fetcher
	now     func() time.Time
	access  *accessLog // last use of each key, for LRU eviction; has its own lock
	usage   *usage     // the running total of bytes on disk (usage.go); has its own lock
	reserve int64      // bytes of the disk-full reserve (reserve.go); 0: none

	mu      sync.Mutex
	entries map[Key]*entry // present-range state of keys being fetched
}

// entry tracks the present ranges of one key, and how it is being read.
type entry struct {
	fill sync.Mutex // one fill at a time per key: concurrent readers of a chunk cause one fetch

	mu      sync.Mutex // mu protects the following; it is taken inside fill, never around it
	present ranges
	loaded  bool
	reads   readState // sequential-read detection, for read-ahead (readahead.go)
}

// New opens (creating) a cache in dir.
func New(dir string, f Fetcher) (*Cache, error) {
	return NewWithOptions(dir, f, Options{})
}

// Options configure NewWithOptions.
type Options struct {
	// Now is the clock for access times; nil means time.Now.
	Now func() time.Time
	// Reserve is the size of the disk-full reserve (reserve.go): 0 means
	// DefaultReserve, negative means none.
	Reserve int64
}

// NewWithOptions opens (creating) a cache in dir.
func NewWithOptions(dir string, f Fetcher, o Options) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("create cache: %w", mapErr(err))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Reserve == 0:
		o.Reserve = DefaultReserve
	case o.Reserve < 0:
		o.Reserve = 0
	}
	c := &Cache{dir: dir, fetcher: f, now: o.Now, reserve: o.Reserve, access: loadAccessLog(dir),
		usage: loadUsage(dir), entries: map[Key]*entry{}}
	// From here on a crash must not leave a figure marked clean: say
	// unclean, durably, before anything changes (Close says clean again).
	if err := c.usage.save(false, true); err != nil {
		return nil, err
	}
	// A disk already full is not an error here: the evictor takes the
	// reserve once there is room.
	_ = c.TakeReserve()
	return c, nil
}

// SetFetcher sets the fetcher (the resolver is built after the cache).
func (c *Cache) SetFetcher(f Fetcher) { c.fetcher = f }

// Path returns the cache file's path for key.
func (c *Cache) Path(k Key) string {
	return filepath.Join(c.dir, "data", k.String())
}

func (c *Cache) presentPath(k Key) string { return c.Path(k) + ".present" }

// Open opens key's cache file, creating it empty if missing. It counts as a
// use of key for LRU eviction.
func (c *Cache) Open(k Key, writable bool) (*os.File, error) {
	c.Touch(k)
	flag := os.O_RDWR | os.O_CREATE
	if !writable {
		flag = os.O_RDWR | os.O_CREATE // the file may need creating even for a reader
	}
	f, err := os.OpenFile(c.Path(k), flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open cache file %s: %w", k, mapErr(err))
	}
	if writable {
		c.noteWritable(k, f)
	}
	return f, nil
}

// Truncate sets key's cache file size, creating it if missing.
func (c *Cache) Truncate(k Key, size int64) error {
	f, err := c.Open(k, true)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate cache file %s: %w", k, mapErr(err))
	}
	c.recount(k)
	return nil
}

// Remove deletes key's cache file and its present ranges.
func (c *Cache) Remove(k Key) error {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
	c.access.forget(k)
	data, other := diskBytes(c.Path(k)), diskBytes(c.presentPath(k))
	err1 := os.Remove(c.Path(k))
	err2 := os.Remove(c.presentPath(k))
	if err1 != nil {
		data = 0
	}
	if err2 != nil {
		other = 0
	}
	c.removed(k, data, other)
	if errors.Is(err1, os.ErrNotExist) {
		err1 = nil
	}
	if errors.Is(err2, os.ErrNotExist) {
		err2 = nil
	}
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("remove cache file %s: %w", k, err)
	}
	return nil
}

func (c *Cache) entry(k Key) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		e = &entry{}
		c.entries[k] = e
	}
	return e
}

// Ensure makes the bytes [off, off+n) of key's content (size bytes long)
// present in its cache file, fetching what is missing. complete reports
// that the whole content [0, size) is now present. It counts as a use of
// key for LRU eviction.
func (c *Cache) Ensure(ctx context.Context, k Key, size, off, n int64) (complete bool, err error) {
	c.Touch(k)
	if off+n > size {
		n = size - off
	}
	e := c.entry(k)
	if err := c.load(k, e); err != nil {
		return false, err
	}
	if n <= 0 {
		return e.has(0, size), nil
	}
	runsOn := e.noteRead(off, n)
	if !e.has(off, off+n) {
		if c.fetcher == nil {
			return false, fmt.Errorf("fetch %s: no fetcher", k)
		}
		e.fill.Lock()
		err := c.fill(ctx, k, e, off, n)
		if err == nil && runsOn {
			// Read-ahead is a guess: if it fails (the store went away,
			// the read's deadline passed), the bytes asked for are
			// already present, and the next read that needs the rest
			// fetches it and reports its own error.
			if ahead := e.readAhead(off+n, size); ahead > 0 {
				_ = c.fill(ctx, k, e, off+n, ahead)
			}
		}
		e.fill.Unlock()
		if err != nil {
			return false, err
		}
	}
	return e.has(0, size), nil
}

func (c *Cache) fill(ctx context.Context, k Key, e *entry, off, n int64) error {
	if n <= 0 {
		return nil
	}
	// Another reader may have fetched it while we waited.
	for _, gap := range e.gaps(off, off+n) {
		data0, other0 := diskBytes(c.Path(k)), diskBytes(c.presentPath(k))
		err := c.fillGap(ctx, k, e, gap)
		// Count what the fetch added, whether or not it went on to fail.
		c.usage.add(k, diskBytes(c.Path(k))-data0, diskBytes(c.presentPath(k))-other0)
		if err != nil {
			return err
		}
	}
	return nil
}

// fillGap fetches one missing range into key's cache file and records it
// as present.
func (c *Cache) fillGap(ctx context.Context, k Key, e *entry, gap [2]int64) error {
	// Opened as a reader would: what the fetch writes is counted by fill,
	// not by a refresh of keys opened for writing.
	f, err := c.Open(k, false)
	if err != nil {
		return err
	}
	start, end, err := c.fetcher.Fetch(ctx, k, gap[0], gap[1]-gap[0], f)
	if err == nil {
		err = f.Sync()
		if err != nil {
			err = fmt.Errorf("sync cache file %s: %w", k, mapErr(err))
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.present.add(start, end)
	snapshot := append(ranges(nil), e.present...)
	e.mu.Unlock()
	return c.savePresent(k, snapshot)
}

func (e *entry) has(from, to int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.present.covers(from, to)
}

func (e *entry) gaps(from, to int64) [][2]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.present.gaps(from, to)
}

// Present returns the byte ranges of key known to be present (for status).
func (c *Cache) Present(k Key) ([][2]int64, error) {
	e := c.entry(k)
	if err := c.load(k, e); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][2]int64(nil), e.present...), nil
}

func (c *Cache) load(k Key, e *entry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loaded {
		return nil
	}
	b, err := os.ReadFile(c.presentPath(k))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read present ranges of %s: %w", k, err)
	}
	if len(b) > 0 {
		var rs ranges
		if json.Unmarshal(b, &rs) == nil {
			e.present = rs
		}
		// A damaged ranges file only costs a refetch.
	}
	e.loaded = true
	return nil
}

// savePresent writes the ranges file atomically, after the data it describes
// was synced: a crash leaves the old list, never one that claims a hole.
func (c *Cache) savePresent(k Key, rs ranges) error {
	b, _ := json.Marshal(rs)
	tmp := c.presentPath(k) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save present ranges of %s: %w", k, mapErr(err))
	}
	if err := os.Rename(tmp, c.presentPath(k)); err != nil {
		return fmt.Errorf("save present ranges of %s: %w", k, mapErr(err))
	}
	return nil
}

// Forget drops key's present ranges once its content is wholly local and
// the index says so; the cache file stays.
func (c *Cache) Forget(k Key) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
	other := diskBytes(c.presentPath(k))
	if os.Remove(c.presentPath(k)) == nil {
		c.usage.add(k, 0, -other)
	}
}

// mapErr marks a full disk with ErrNoSpace, keeping the cause.
func mapErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// MapError is mapErr for callers doing their own I/O on cache files.
func MapError(err error) error { return mapErr(err) }
