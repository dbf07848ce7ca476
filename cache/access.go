package cache

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// accessFile is where the access log is kept between mounts, in the cache
// directory (beside data/, so that it is never taken for a cache file):
// accessMagic, then one record per key sorted by key, each the inode
// number, the content version and the unix nanoseconds of the last use,
// little-endian 64-bit integers.
const accessFile = "access.log"

// accessJSON is the access log as it was kept before: read once, then
// replaced by accessFile.
const accessJSON = "access.json"

const (
	accessMagic = "syncfsA1"
	accessRec   = 24
)

// accessLog remembers when each key was last used. A use costs a map write
// under a mutex, never disk I/O: the log reaches the disk only through
// SaveAccess, which the evictor calls at most once a minute, so a crash
// loses at most a minute of recency (eviction order, never data).
//
// Memory holds only the uses and removals since the last save; the rest is
// in the file, read a record at a time when asked (a million keys took a
// map of about 50 MB, and its JSON three times that at each load and
// save).
type accessLog struct {
	path string

	// save serializes SaveAccess; it is taken before mu.
	save sync.Mutex

	// mu protects the following. It is a leaf lock: nothing else is taken
	// while it is held, and no I/O is done under it.
	mu     sync.Mutex
	recent map[Key]int64    // uses since the last save (unix nanoseconds)
	gone   map[Key]struct{} // keys removed since the last save
	saving map[Key]int64    // recent as it was when the save under way began
	lost   map[Key]struct{} // gone as it was then
}

func loadAccessLog(dir string) *accessLog {
	l := &accessLog{path: filepath.Join(dir, accessFile), recent: map[Key]int64{}, gone: map[Key]struct{}{}}
	old := filepath.Join(dir, accessJSON)
	if _, err := os.Stat(l.path); errors.Is(err, os.ErrNotExist) {
		// A cache from before the binary log: take its uses over once. A
		// damaged or unreadable log only costs recency.
		if b, err := os.ReadFile(old); err == nil {
			var m map[string]int64
			if json.Unmarshal(b, &m) == nil {
				for name, t := range m {
					if k, ok := parseKey(name); ok {
						l.recent[k] = t
					}
				}
			}
		}
	}
	return l
}

func (l *accessLog) forget(k Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.recent, k)
	l.gone[k] = struct{}{}
}

// Touch records a use of key now, for LRU eviction. Open and Ensure call it;
// callers that read a cache file through a handle they already hold need not.
func (c *Cache) Touch(k Key) {
	t := c.now().UnixNano()
	l := c.access
	l.mu.Lock()
	l.recent[k] = t
	delete(l.gone, k)
	l.mu.Unlock()
}

// inMemory answers from the uses and removals not yet in the file: found
// reports whether it knows.
func (l *accessLog) inMemory(k Key) (t int64, used, found bool) {
	if t, ok := l.recent[k]; ok {
		return t, true, true
	}
	if _, ok := l.gone[k]; ok {
		return 0, false, true
	}
	if t, ok := l.saving[k]; ok {
		return t, true, true
	}
	if _, ok := l.lost[k]; ok {
		return 0, false, true
	}
	return 0, false, false
}

// LastAccess returns when key was last used, if the cache remembers.
func (c *Cache) LastAccess(k Key) (time.Time, bool) {
	t := c.LastUses([]Key{k})[0]
	return t, !t.IsZero()
}

// LastUses returns when each of keys was last used (the zero time where
// the cache does not remember), in one pass over the saved log.
func (c *Cache) LastUses(keys []Key) []time.Time {
	out := make([]time.Time, len(keys))
	l := c.access
	var rest []int // indexes of keys to look up in the file
	l.mu.Lock()
	for i, k := range keys {
		if t, used, found := l.inMemory(k); found {
			if used {
				out[i] = time.Unix(0, t)
			}
			continue
		}
		rest = append(rest, i)
	}
	l.mu.Unlock()
	if len(rest) == 0 {
		return out
	}
	slices.SortFunc(rest, func(a, b int) int { return keyCompare(keys[a], keys[b]) })
	l.save.Lock() // the file is not replaced while it is read
	defer l.save.Unlock()
	r, f := l.open()
	if r == nil {
		return out
	}
	defer f.Close()
	j := 0
	for j < len(rest) {
		k, t, err := readRecord(r)
		if err != nil {
			break
		}
		for j < len(rest) && keyCompare(keys[rest[j]], k) < 0 {
			j++
		}
		for j < len(rest) && keys[rest[j]] == k {
			out[rest[j]] = time.Unix(0, t)
			j++
		}
	}
	return out
}

func keyCompare(a, b Key) int {
	if c := cmp.Compare(a.Ino, b.Ino); c != 0 {
		return c
	}
	return cmp.Compare(a.Cver, b.Cver)
}

// open opens the saved log for reading past its header; nil if there is
// none (or it is not one).
func (l *accessLog) open() (*bufio.Reader, *os.File) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, nil
	}
	r := bufio.NewReaderSize(f, 64<<10)
	magic := make([]byte, len(accessMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, []byte(accessMagic)) {
		f.Close()
		return nil, nil
	}
	return r, f
}

func readRecord(r *bufio.Reader) (Key, int64, error) {
	var b [accessRec]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Key{}, 0, err
	}
	return Key{Ino: binary.LittleEndian.Uint64(b[0:]), Cver: int64(binary.LittleEndian.Uint64(b[8:]))},
		int64(binary.LittleEndian.Uint64(b[16:])), nil
}

func writeRecord(w *bufio.Writer, k Key, t int64) error {
	var b [accessRec]byte
	binary.LittleEndian.PutUint64(b[0:], k.Ino)
	binary.LittleEndian.PutUint64(b[8:], uint64(k.Cver))
	binary.LittleEndian.PutUint64(b[16:], uint64(t))
	_, err := w.Write(b[:])
	return err
}

// SaveAccess writes the access log to disk if it changed since the last
// save: the saved log merged with the uses and removals since, a record at
// a time, into a new file that replaces it (a crash leaves the old log).
func (c *Cache) SaveAccess() error {
	l := c.access
	l.save.Lock()
	defer l.save.Unlock()
	l.mu.Lock()
	if len(l.recent) == 0 && len(l.gone) == 0 {
		l.mu.Unlock()
		return nil
	}
	l.saving, l.lost = l.recent, l.gone
	l.recent, l.gone = map[Key]int64{}, map[Key]struct{}{}
	saving, lost := l.saving, l.lost
	l.mu.Unlock()
	err := l.write(saving, lost)
	l.mu.Lock()
	if err != nil {
		// Keep them for the next save; uses since win.
		for k, t := range saving {
			if _, ok := l.recent[k]; !ok {
				if _, g := l.gone[k]; !g {
					l.recent[k] = t
				}
			}
		}
		for k := range lost {
			if _, ok := l.recent[k]; !ok {
				l.gone[k] = struct{}{}
			}
		}
	}
	l.saving, l.lost = nil, nil
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save cache access log: %w", mapErr(err))
	}
	return nil
}

func (l *accessLog) write(saving map[Key]int64, lost map[Key]struct{}) error {
	keys := make([]Key, 0, len(saving))
	for k := range saving {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, keyCompare)
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	w := bufio.NewWriterSize(f, 64<<10)
	err = l.merge(w, keys, saving, lost)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err == nil {
		os.Remove(filepath.Join(filepath.Dir(l.path), accessJSON))
	}
	return err
}

// merge writes the saved log's records with keys (sorted, times in
// saving) in their place, and without the keys in lost.
func (l *accessLog) merge(w *bufio.Writer, keys []Key, saving map[Key]int64, lost map[Key]struct{}) error {
	if _, err := w.WriteString(accessMagic); err != nil {
		return err
	}
	r, f := l.open()
	if f != nil {
		defer f.Close()
	}
	i := 0
	for r != nil {
		k, t, err := readRecord(r)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
		for ; i < len(keys) && keyCompare(keys[i], k) < 0; i++ {
			if err := writeRecord(w, keys[i], saving[keys[i]]); err != nil {
				return err
			}
		}
		if i < len(keys) && keys[i] == k {
			continue // the newer use is written in its place next
		}
		if _, ok := lost[k]; ok {
			continue
		}
		if err := writeRecord(w, k, t); err != nil {
			return err
		}
	}
	for ; i < len(keys); i++ {
		if err := writeRecord(w, keys[i], saving[keys[i]]); err != nil {
			return err
		}
	}
	return nil
}

// parseKey reads a Key back from its String form, "ino-cver".
func parseKey(s string) (Key, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Key{}, false
	}
	ino, err1 := strconv.ParseUint(a, 10, 64)
	cver, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || cver < 0 {
		return Key{}, false
	}
	return Key{Ino: ino, Cver: cver}, true
}
