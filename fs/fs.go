package fs

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/metrics"
	"golang.org/x/sys/unix"
)

// Options configure the adapter.
type Options struct {
	// EntryTimeout and AttrTimeout are how long the kernel may cache names
	// and attributes. Remote changes invalidate them explicitly.
	EntryTimeout time.Duration
	AttrTimeout  time.Duration
	// NegativeTimeout is how long the kernel may cache "no such name".
	NegativeTimeout time.Duration
	// FetchTimeout bounds a read's wait for missing content.
	FetchTimeout time.Duration
	// CacheDir is where statfs reports capacity from.
	CacheDir string
	// ControlSocket is the daemon's control socket, served as ControlXattr.
	ControlSocket string
	Logger        *slog.Logger
	// Metrics receives the FUSE request counts and latencies; nil
	// records nothing.
	Metrics *metrics.Metrics
	// NoPassthrough keeps every read going through the daemon, even where
	// the kernel could read the cache file itself (iomode.go).
	NoPassthrough bool
}

// FS implements fuse.RawFileSystem over an index and a cache.
type FS struct {
	fuse.RawFileSystem // ENOSYS for what is not implemented, on purpose (see the package doc)

	idx   *index.DB
	cache *cache.Cache
	opts  Options
	log   *slog.Logger

	server *fuse.Server // set by Init

	ops [opCount]*metrics.Op // request counters by op; nil ones record nothing

	// mu protects the handle table and the I/O modes.
	mu      sync.Mutex
	handles map[uint64]*handle
	nextFh  uint64
	io      map[uint64]*inodeIO // by inode, while the kernel knows it

	passthrough  passthroughState
	ptWriters    atomic.Int64 // open passthrough handles that may write, over all inodes
	atimeWatches atomic.Int64 // inodes whose next passthrough read moves the access time
	cacheNoAtime bool         // the cache disk is mounted noatime

	// changes counts writes and attribute changes, so that a handle can
	// tell whether its last access time check may be out of date (see
	// accessed).
	changes atomic.Uint64

	stop chan struct{}
	done sync.WaitGroup
}

var _ fuse.RawFileSystem = (*FS)(nil)

// handle is one open file.
type handle struct {
	ino   uint64
	key   cache.Key
	f     *os.File
	write bool

	noatime bool   // opened O_NOATIME: reads leave the access time alone
	mode    ioMode // how reads and writes reach the cache file (iomode.go)

	mu       sync.Mutex // guards the following
	absent   bool       // content may be incomplete: reads go through cache.Ensure
	size     int64      // the size of the version being fetched
	atimeAt  uint64     // FS.changes when this handle last checked the access time
	atimeSet bool       // atimeAt is set
	// failedAt and failed are the last fetch that failed on this handle:
	// the kernel retries a failed read at once (its read-ahead, then the
	// read itself), and waiting the fetch timeout again would double it.
	failedAt time.Time
	failed   fuse.Status
}

// refetchAfter is how long a handle answers reads of content it could not
// fetch with that failure, without asking the store again.
const refetchAfter = time.Second

// New returns the adapter. Call Close after the server stops.
func New(idx *index.DB, c *cache.Cache, opts Options) *FS {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 60 * time.Second
	}
	var sfs unix.Statfs_t
	noatime := unix.Statfs(opts.CacheDir, &sfs) == nil && sfs.Flags&unix.ST_NOATIME != 0
	return &FS{
		cacheNoAtime:  noatime,
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		idx:           idx,
		cache:         c,
		opts:          opts,
		log:           opts.Logger,
		handles:       map[uint64]*handle{},
		io:            map[uint64]*inodeIO{},
		ops:           newOps(opts.Metrics),
		stop:          make(chan struct{}),
	}
}

// String names the filesystem in go-fuse's debug output.
func (fsys *FS) String() string { return "syncfs" }

// Init remembers the server, for kernel cache invalidations, and starts the
// goroutine that turns the index's change feed into them.
func (fsys *FS) Init(s *fuse.Server) {
	fsys.server = s
	changes := fsys.idx.Changes()
	fsys.done.Add(1)
	go func() {
		defer fsys.done.Done()
		for {
			select {
			case <-fsys.stop:
				return
			case c, ok := <-changes:
				if !ok {
					return
				}
				fsys.invalidate(c)
			}
		}
	}()
}

// invalidate drops the kernel's cached view of a remote change. It runs on
// its own goroutine: a notification sent from inside a request handler for
// the same inode can deadlock.
func (fsys *FS) invalidate(c index.Change) {
	if c.Parent != 0 {
		fsys.server.EntryNotify(c.Parent, c.Name)
		// The kernel drops a cached listing (FOPEN_CACHE_DIR) on an
		// entry notification only when it has the name cached: a new
		// name needs the directory's pages dropped too.
		fsys.server.InodeNotify(c.Parent, 0, 0)
	}
	if c.Ino != 0 {
		fsys.server.InodeNotify(c.Ino, 0, 0)
	}
}

// Close stops the invalidation goroutine and closes any handle the kernel
// did not release.
func (fsys *FS) Close() {
	select {
	case <-fsys.stop:
	default:
		close(fsys.stop)
	}
	fsys.done.Wait()
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	for fh, h := range fsys.handles {
		h.f.Close()
		fsys.idx.Release(h.ino, h.write)
		delete(fsys.handles, fh)
	}
}

// ctx returns a context cancelled when the kernel interrupts the request or
// the fetch timeout passes.
func (fsys *FS) ctx(cancel <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, stop := context.WithTimeout(context.Background(), fsys.opts.FetchTimeout)
	go func() {
		select {
		case <-cancel:
			stop()
		case <-ctx.Done():
		}
	}()
	return ctx, stop
}

// fillAttrSynced is fillAttr for a caught up with the cache file: read
// after syncWrites and checkAtime took in what passthrough handles did (a
// note made by another request before that is in a, since both run under
// fsys.mu). Only what they find since costs a second read.
func (fsys *FS) fillAttrSynced(a index.Attr, out *fuse.Attr) {
	if a.IsRegular() && fsys.ptWriters.Load()+fsys.atimeWatches.Load() > 0 {
		wrote := fsys.syncWrites(a.Ino)
		if read := fsys.checkAtime(a.Ino); wrote || read {
			if b, err := fsys.idx.GetAttr(a.Ino); err == nil {
				a = b
			}
		}
	}
	fsys.fillAttrOnly(a, out)
}

func (fsys *FS) fillAttr(a index.Attr, out *fuse.Attr) {
	if a.IsRegular() && fsys.ptWriters.Load()+fsys.atimeWatches.Load() > 0 && fsys.passthroughOpen(a.Ino) {
		// The kernel read or wrote the cache file itself: report what
		// that changed.
		fsys.syncWrites(a.Ino)
		fsys.checkAtime(a.Ino)
		if b, err := fsys.idx.GetAttr(a.Ino); err == nil {
			a = b
		}
	}
	fsys.fillAttrOnly(a, out)
}

// fillAttrOnly copies a into out.
func (fsys *FS) fillAttrOnly(a index.Attr, out *fuse.Attr) {
	out.Ino = a.Ino
	out.Size = uint64(a.Size)
	out.Blocks = fsys.blocks(a)
	out.Blksize = 4096
	out.Atime, out.Atimensec = split(a.Atime)
	out.Mtime, out.Mtimensec = split(a.Mtime)
	out.Ctime, out.Ctimensec = split(a.Ctime)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Owner = fuse.Owner{Uid: a.UID, Gid: a.GID}
	out.Rdev = a.Rdev
}

// split turns nanoseconds since the epoch into FUSE's seconds and
// nanoseconds; the seconds are two's complement before 1970 and the
// nanoseconds never negative, as the kernel reads them.
func split(ns int64) (uint64, uint32) {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return uint64(sec), uint32(nsec)
}

// joinTime is split's inverse, clamped to the nanoseconds an int64 holds
// (the years 1678 to 2262), as ext4 clamps to its own range.
func joinTime(sec uint64, nsec uint32) int64 {
	s := int64(sec)
	const maxSec = math.MaxInt64/1_000_000_000 - 1
	switch {
	case s > maxSec:
		return maxSec * 1e9
	case s < -maxSec:
		return -maxSec * 1e9
	}
	return s*1e9 + int64(nsec)
}

// blocks returns the 512-byte blocks a file takes: for local content, what
// its cache file takes (a sparse file stays small, as du expects); else
// what its size would.
func (fsys *FS) blocks(a index.Attr) uint64 {
	if a.IsRegular() && a.Size > 0 && a.State != index.StateAbsent {
		var st unix.Stat_t
		if unix.Stat(fsys.cache.Path(cache.Key{Ino: a.Ino, Cver: a.Cver}), &st) == nil {
			return uint64(st.Blocks)
		}
	}
	return (uint64(a.Size) + 511) / 512
}

func (fsys *FS) fillEntry(a index.Attr, out *fuse.EntryOut) {
	out.NodeId = a.Ino
	out.Generation = 1
	out.SetEntryTimeout(fsys.opts.EntryTimeout)
	out.SetAttrTimeout(fsys.opts.AttrTimeout)
	fsys.fillAttr(a, &out.Attr)
}

// StatFs reports the cache disk's capacity: that is where new data lands.
func (fsys *FS) StatFs(cancel <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer fsys.track(opStatFs, time.Now())
	var st syscall.Statfs_t
	if err := syscall.Statfs(fsys.opts.CacheDir, &st); err != nil {
		return fsys.status("statfs", fmt.Errorf("statfs cache dir: %w", err))
	}
	out.FromStatfsT(&st)
	out.NameLen = index.MaxNameLen
	return fuse.OK
}
