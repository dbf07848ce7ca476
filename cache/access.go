package cache

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// accessFile is where the access log is kept between mounts, in the cache
// directory (beside data/, so that it is never taken for a cache file).
const accessFile = "access.json"

// accessLog remembers when each key was last used. A use costs a map write
// under a mutex, never disk I/O: the log reaches the disk only through
// SaveAccess, which the evictor calls at most once a minute, so a crash loses
// at most a minute of recency (eviction order, never data).
type accessLog struct {
	path string

	// mu protects the following. It is a leaf lock: nothing else is taken
	// while it is held.
	mu    sync.Mutex
	last  map[Key]int64 // unix nanoseconds of the last use
	dirty bool          // changed since the last save
}

func loadAccessLog(path string) *accessLog {
	l := &accessLog{path: path, last: map[Key]int64{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return l // none yet; a damaged or unreadable log only costs recency
	}
	var m map[string]int64
	if json.Unmarshal(b, &m) != nil {
		return l
	}
	for name, t := range m {
		if k, ok := parseKey(name); ok {
			l.last[k] = t
		}
	}
	return l
}

func (l *accessLog) forget(k Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.last[k]; ok {
		delete(l.last, k)
		l.dirty = true
	}
}

// Touch records a use of key now, for LRU eviction. Open and Ensure call it;
// callers that read a cache file through a handle they already hold need not.
func (c *Cache) Touch(k Key) {
	t := c.now().UnixNano()
	c.access.mu.Lock()
	c.access.last[k] = t
	c.access.dirty = true
	c.access.mu.Unlock()
}

// LastAccess returns when key was last used, if the cache remembers.
func (c *Cache) LastAccess(k Key) (time.Time, bool) {
	c.access.mu.Lock()
	defer c.access.mu.Unlock()
	t, ok := c.access.last[k]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, t), true
}

// SaveAccess writes the access log to disk if it changed since the last
// save (atomically: a crash leaves the old log).
func (c *Cache) SaveAccess() error {
	l := c.access
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return nil
	}
	m := make(map[string]int64, len(l.last))
	for k, t := range l.last {
		m[k.String()] = t
	}
	l.dirty = false
	l.mu.Unlock()
	b, err := json.Marshal(m)
	if err == nil {
		tmp := l.path + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, l.path)
		}
	}
	if err != nil {
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		return fmt.Errorf("save cache access log: %w", mapErr(err))
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
