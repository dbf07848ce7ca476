package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Usage: how many bytes the cache's files take on disk, kept as a running
// total rather than measured by listing the directory (a million cache
// files took 17 s to list and stat at every mount, and the evictor listed
// them again every round).
//
// The total moves with what the cache itself does (creating, filling,
// truncating and removing files). Content written through a handle the
// cache gave out (Open for writing: fs's writes, and the kernel's own in
// passthrough mode) does not pass through the cache, so each key opened for
// writing is remembered with the bytes counted for it, and RefreshUsage
// (each evictor round) stats those keys again and adds what they grew by. A
// key leaves that set once it has not changed for quietRounds rounds; a
// writer that comes back after that is seen by the next walk.
//
// A walk of the whole directory (ReconcileUsage) sets the total from what
// is on disk. It is needed only when the total is not known: a cache
// directory from before usage was kept, or one whose daemon did not stop
// cleanly (the total it last saved may miss up to a minute of changes, and
// whatever a crash left half done). Otherwise it runs every few hours, in
// the background, to catch what the running total could not see.
//
// On disk, usage.json beside data/ holds the total, when it was last walked,
// and whether the cache was closed cleanly. NewWithOptions marks it unclean
// (synced) before anything changes; Close marks it clean. So a figure is
// trusted after a restart only if nothing could have changed since it was
// saved. A wrong figure is never a danger to data: the evictor never frees
// Staged content whatever it believes, and a walk corrects the figure.

// usageFile is where the running total is kept between mounts.
const usageFile = "usage.json"

// quietRounds is how many refreshes a written key must stay unchanged
// before it is no longer stat'ed at each refresh.
const quietRounds = 30

// walkBatch is how many directory entries a walk reads and hands on at a
// time: the walk's memory is this, not the size of the directory.
const walkBatch = 4096

// usageRecord is usage.json.
type usageRecord struct {
	Bytes  int64 `json:"bytes"`
	Walked int64 `json:"walked"` // unix seconds of the last complete walk; 0: never
	Clean  bool  `json:"clean"`  // saved by Close: nothing changed after it
}

// usage is the cache's running total.
type usage struct {
	path string

	// mu protects the following. It is a leaf lock: nothing else is taken
	// while it is held, and no I/O is done under it.
	mu      sync.Mutex
	bytes   int64               // the running total
	known   bool                // bytes can be trusted (a walk, or a clean close)
	unclean bool                // the last daemon did not close the cache cleanly
	walked  time.Time           // when the last complete walk ended
	written map[Key]*writtenKey // keys opened for writing, stat'ed again at each refresh
	walking bool                // a walk is under way
	during  int64               // changes counted while the walk runs
}

// writtenKey is what the running total holds for one key opened for
// writing.
type writtenKey struct {
	bytes int64 // bytes counted for the key (cache file and ranges file)
	quiet int   // refreshes since it last changed
}

// loadUsage reads usage.json. Without one, an empty data directory is a
// new cache (nothing used); anything else needs a walk.
func loadUsage(dir string) *usage {
	u := &usage{path: filepath.Join(dir, usageFile), written: map[Key]*writtenKey{}}
	b, err := os.ReadFile(u.path)
	if err != nil {
		u.unclean = true
		u.known = dataEmpty(filepath.Join(dir, "data"))
		return u
	}
	var r usageRecord
	if json.Unmarshal(b, &r) != nil {
		u.unclean = true
		return u
	}
	u.bytes = max(r.Bytes, 0)
	u.known = r.Clean
	u.unclean = !r.Clean
	if r.Walked > 0 {
		u.walked = time.Unix(r.Walked, 0)
	}
	return u
}

// dataEmpty reports whether the data directory holds no entry.
func dataEmpty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}

// save writes usage.json atomically; with sync, durably.
func (u *usage) save(clean, sync bool) error {
	u.mu.Lock()
	r := usageRecord{Bytes: u.bytes, Clean: clean && u.known && !u.walking}
	if !u.walked.IsZero() {
		r.Walked = u.walked.Unix()
	}
	u.mu.Unlock()
	b, _ := json.Marshal(r)
	tmp := u.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save cache usage: %w", mapErr(err))
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, u.path)
	}
	if err == nil && sync {
		err = syncDir(filepath.Dir(u.path))
	}
	if err != nil {
		return fmt.Errorf("save cache usage: %w", mapErr(err))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// add counts the bytes key k's cache file (data) and ranges file (other)
// grew or shrank by.
func (u *usage) add(k Key, data, other int64) {
	if data == 0 && other == 0 {
		return
	}
	u.mu.Lock()
	u.bytes += data + other
	if u.walking {
		u.during += data + other
	}
	if w := u.written[k]; w != nil && data != 0 {
		w.bytes += data
		w.quiet = 0
	}
	u.mu.Unlock()
}

// diskBytes returns the bytes the file at p takes on disk (0 if missing).
func diskBytes(p string) int64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// noteWritable remembers that key was opened for writing, with the bytes
// its cache file takes now. What the file held before was counted by
// whatever made it (or by a walk); what is written through the handle is
// counted by the next refresh.
func (c *Cache) noteWritable(k Key, f *os.File) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return
	}
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if w := u.written[k]; w != nil {
		w.quiet = 0
		return
	}
	u.written[k] = &writtenKey{bytes: st.Blocks * 512}
}

// recount stats key's cache file now, if it is one opened for writing, and
// counts what it grew or shrank by since it was last counted.
func (c *Cache) recount(k Key) {
	now := diskBytes(c.Path(k))
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	w := u.written[k]
	if w == nil {
		return
	}
	if delta := now - w.bytes; delta != 0 {
		w.bytes, w.quiet = now, 0
		u.bytes += delta
		if u.walking {
			u.during += delta
		}
	} else if w.quiet++; w.quiet >= quietRounds {
		delete(u.written, k)
	}
}

// removed takes key's files out of the running total as Remove deletes
// them: data and other are what its cache file and ranges file took just
// before.
func (c *Cache) removed(k Key, data, other int64) {
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	counted := data
	if w := u.written[k]; w != nil {
		// Growth since the last refresh was never added: take off what
		// was counted, not what was found.
		counted = w.bytes
		delete(u.written, k)
	}
	u.bytes -= counted + other
	if u.walking {
		// A walk that saw the file counted what it found.
		u.during -= data + other
	}
}

// Used returns the running total of the bytes the cache's files take on
// disk, and whether it can be trusted (false until ReconcileUsage has run
// on a cache that was not closed cleanly; the figure is then the last one
// saved, or 0).
func (c *Cache) Used() (bytes int64, known bool) {
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bytes, u.known
}

// Unclean reports whether the cache was not closed cleanly the last time
// (or predates usage.json): a crash may have left files behind that only a
// walk finds.
func (c *Cache) Unclean() bool {
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.unclean
}

// LastWalk returns when a walk last set the running total (zero: never).
func (c *Cache) LastWalk() time.Time {
	u := c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.walked
}

// RefreshUsage stats again each key opened for writing (until it has
// stayed unchanged for quietRounds refreshes), adds what it grew or shrank
// by, and returns the running total. Its cost is one stat per such key:
// what is being written, not what is cached.
func (c *Cache) RefreshUsage() (bytes int64, known bool) {
	u := c.usage
	u.mu.Lock()
	keys := make([]Key, 0, len(u.written))
	for k := range u.written {
		keys = append(keys, k)
	}
	u.mu.Unlock()
	for _, k := range keys {
		c.recount(k)
	}
	return c.Used()
}

// ReconcileUsage walks the cache directory a batch at a time and sets the
// running total from what it finds. If visit is not nil it is called with
// each batch (after the batch is counted) and may remove files of it
// through Remove, which takes them off again. Changes made by others during
// the walk are added to what it found: a change to a file the walk has not
// reached yet is then counted twice, an error the next walk corrects.
func (c *Cache) ReconcileUsage(ctx context.Context, visit func(files []File) error) (int64, error) {
	u := c.usage
	u.mu.Lock()
	if u.walking {
		u.mu.Unlock()
		return 0, errors.New("measure the cache: a walk is already under way")
	}
	u.walking, u.during = true, 0
	u.mu.Unlock()
	var found int64
	err := c.Walk(ctx, func(files []File, _ []string) error {
		for _, f := range files {
			found += f.Bytes
		}
		if visit != nil {
			return visit(files)
		}
		return nil
	})
	u.mu.Lock()
	defer u.mu.Unlock()
	u.walking = false
	if err != nil {
		u.during = 0
		return u.bytes, err
	}
	u.bytes = max(found+u.during, 0)
	u.during = 0
	u.known, u.unclean = true, false
	u.walked = time.Now()
	return u.bytes, nil
}

// SaveUsage writes the running total to disk (not marked clean: a crash
// after it still means a walk at the next start).
func (c *Cache) SaveUsage() error { return c.usage.save(false, false) }

// Close saves the access log and the running total, marked clean: the next
// mount trusts the figure without a walk. Call it once nothing writes to
// the cache any more.
func (c *Cache) Close() error {
	c.RefreshUsage()
	return errors.Join(c.SaveAccess(), c.usage.save(true, false))
}

// Walk lists the cache directory in batches of at most walkBatch entries,
// calling fn with each: the keys that have a cache file or a ranges file
// (one File per name: a key whose two names fall in different batches is
// in both), and the names that are neither. Used is the cache file's
// modification time (LastUses has the access log's). Unlike Scan, it never
// holds more than a batch.
func (c *Cache) Walk(ctx context.Context, fn func(files []File, stray []string) error) error {
	dir := filepath.Join(c.dir, "data")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("scan cache: %w", err)
	}
	defer d.Close()
	files := make([]File, 0, walkBatch)
	var stray []string
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, rerr := d.ReadDir(walkBatch)
		files, stray = files[:0], stray[:0]
		for _, de := range ents {
			f, ok, err := fileOf(de)
			if err != nil {
				return err
			}
			if !ok {
				if f.Key == (Key{}) && f.Size < 0 {
					continue // removed meanwhile
				}
				stray = append(stray, de.Name())
				continue
			}
			files = append(files, f)
		}
		if len(files) > 0 || len(stray) > 0 {
			if err := fn(files, stray); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("scan cache: %w", rerr)
		}
	}
}

// fileOf reads one directory entry: ok is false for a stray name (and for
// one removed meanwhile, which fileOf marks with a negative Size).
func fileOf(de os.DirEntry) (f File, ok bool, err error) {
	name := de.Name()
	base, suffix, _ := strings.Cut(name, ".")
	k, valid := parseKey(base)
	if !valid || de.IsDir() || (suffix != "" && suffix != "present") {
		return File{}, false, nil
	}
	fi, err := de.Info()
	if errors.Is(err, os.ErrNotExist) {
		return File{Size: -1}, false, nil
	}
	if err != nil {
		return File{}, false, fmt.Errorf("scan cache: %w", err)
	}
	f = File{Key: k}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.Bytes = st.Blocks * 512
	}
	if suffix == "" {
		f.HasData = true
		f.Size = fi.Size()
		f.Used = fi.ModTime()
	}
	return f, true, nil
}
