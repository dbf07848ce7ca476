package fs

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"golang.org/x/sys/unix"
)

// How an open file's reads and writes reach the content, chosen at open.
//
// The kernel allows one I/O mode per inode at a time: while any handle of an
// inode passes through to a backing file, every other open of it must pass
// through to that same file (else the open fails with EIO), and while any
// cached-mode handle is open, a passthrough open fails. So:
//
//   - A read-only open of content that is wholly in the cache passes through
//     to the cache file (FOPEN_PASSTHROUGH) when no cached-mode handle is
//     open: the kernel reads the cache file itself and sends no READ. All
//     passthrough handles of an inode share one backing file, registered by
//     the first and dropped with the last.
//   - While passthrough handles are open, every open passes through,
//     writers too (a writer cannot be turned away: think of `tail -f` and an
//     appender). Writes then reach the cache file without the daemon, so fs
//     reads the file's size and modification time from the cache file
//     (syncWrites) whenever it reports attributes, and at flush, fsync and
//     release; the index made the file Staged when the writer opened, and the
//     uploader leaves files with open writers alone.
//   - Any other open is cached, and keeps the kernel's page cache
//     (FOPEN_KEEP_CACHE) when the content version the kernel cached last is
//     still the current one.
//
// Reads that never reach the daemon cannot apply relatime's rule. When the
// rule says the next read must move the access time, a passthrough open
// sets the cache file's own access time to zero, so that the cache disk's
// relatime moves it at the first read; fs looks at it when it next reports
// the inode's attributes (the kernel asks after every passthrough read) and
// when the last passthrough handle closes (watchAtime, checkAtime). A cached
// open in that case drops the page cache, so that its reads reach the
// daemon, which moves the time.
//
// When a newer version replaces the content (another device's, a restore)
// while passthrough handles are open, the kernel cannot switch them to the
// new cache file: until the last of them closes, new readers share the
// version they are reading, and new writers get EBUSY rather than writing
// to a version that is no longer the file's.
type ioMode uint8

const (
	ioCached      ioMode = iota // page cache, READ and WRITE requests
	ioPassthrough               // the kernel reads and writes the cache file itself
)

// inodeIO is what the kernel holds of one inode's content.
type inodeIO struct {
	cached int // open handles in cached mode

	backing     int32    // passthrough backing ID, 0 when none is registered
	backingRefs int      // open passthrough handles
	backingCver int64    // the content version the backing file holds
	backingFile *os.File // a duplicate of the backing file, for fstat (backingID)
	ptWriters   int      // open passthrough handles that may write
	seen        fileID   // the cache file as last reconciled with the index
	atimeWatch  bool     // a read of the backing file is to move the access time

	keptCver int64 // the content version the kernel's page cache may hold
	kept     bool  // keptCver is set
}

// fileID is what tells that a file was written: its size and modification
// time (not its change time, which watchAtime moves).
type fileID struct {
	size, mtime int64
}

// passthroughState says whether passthrough may be tried: it is switched off
// for the mount at the first refusal (an old kernel, or no CAP_SYS_ADMIN).
type passthroughState struct {
	off atomic.Bool
}

// errStaleBacking refuses a writer while passthrough handles read an older
// version of the content.
var errStaleBacking = fmt.Errorf("%w: the file is open for reading an older version; retry once it is closed", syscall.EBUSY)

// chooseIO picks the mode of a new handle on content version cver of ino
// and fills out's flags. f is the handle's cache file; wholeLocal says the
// content is entirely in it; fastOK says cached reads may come from the page
// cache (relatime has nothing to record, and the open does not truncate). Callers must call releaseIO with the
// returned mode when the handle is released.
func (fsys *FS) chooseIO(ino uint64, cver int64, f *os.File, write, wholeLocal, fastOK bool, out *fuse.OpenOut) (ioMode, error) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	io := fsys.io[ino]
	if io == nil {
		io = &inodeIO{}
		fsys.io[ino] = io
	}
	if io.backingRefs > 0 {
		if write && io.backingCver != cver {
			return ioCached, errStaleBacking
		}
		if write && io.ptWriters == 0 {
			io.seen = fsys.backingID(ino, io)
		}
		io.backingRefs++
		if write {
			io.ptWriters++
			fsys.ptWriters.Add(1)
		}
		out.OpenFlags |= fuse.FOPEN_PASSTHROUGH
		out.BackingID = io.backing
		return ioPassthrough, nil
	}
	if wholeLocal && io.cached == 0 && fsys.passthroughUsable() {
		id, errno := fsys.server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
		if errno == 0 {
			io.backing, io.backingRefs, io.backingCver = id, 1, cver
			io.backingFile = dupFile(f)
			if write {
				io.ptWriters++
				fsys.ptWriters.Add(1)
				io.seen = fsys.backingID(ino, io)
			}
			out.OpenFlags |= fuse.FOPEN_PASSTHROUGH
			out.BackingID = id
			return ioPassthrough, nil
		}
		if fsys.passthrough.off.CompareAndSwap(false, true) {
			fsys.log.Info("passthrough unavailable: reads go through the daemon", "err", errno)
		}
	}
	io.cached++
	if fastOK && io.kept && io.keptCver == cver {
		out.OpenFlags |= fuse.FOPEN_KEEP_CACHE
	}
	io.keptCver, io.kept = cver, true
	return ioCached, nil
}

// passthroughUsable reports whether passthrough may be tried on this mount.
func (fsys *FS) passthroughUsable() bool {
	if fsys.opts.NoPassthrough || fsys.passthrough.off.Load() || fsys.server == nil {
		return false
	}
	return fsys.server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0
}

// releaseIO undoes chooseIO's count for a released handle, first taking in
// what a passthrough writer wrote.
func (fsys *FS) releaseIO(h *handle) {
	if h.mode == ioPassthrough {
		if h.write {
			fsys.syncWrites(h.ino)
		}
		fsys.checkAtime(h.ino)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	io := fsys.io[h.ino]
	if io == nil {
		return
	}
	switch h.mode {
	case ioCached:
		io.cached--
	case ioPassthrough:
		if h.write {
			io.ptWriters--
			fsys.ptWriters.Add(-1)
		}
		io.backingRefs--
		if io.backingRefs == 0 {
			if io.atimeWatch {
				io.atimeWatch = false
				fsys.atimeWatches.Add(-1)
			}
			if errno := fsys.server.UnregisterBackingFd(io.backing); errno != 0 {
				fsys.log.Error("passthrough: drop backing file", "ino", h.ino, "err", errno)
			}
			io.backing = 0
			if io.backingFile != nil {
				io.backingFile.Close()
				io.backingFile = nil
			}
		}
	}
}

// syncWrites tells the index what passthrough writers of ino wrote since it
// last looked: the cache file's size, and its modification time if the file
// changed. It costs nothing when no passthrough writer is open.
func (fsys *FS) syncWrites(ino uint64) (changed bool) {
	if fsys.ptWriters.Load() == 0 {
		return false
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	io := fsys.io[ino]
	if io == nil || io.ptWriters == 0 {
		return false
	}
	id := fsys.backingID(ino, io)
	if id.size < 0 || id == io.seen {
		return false
	}
	io.seen = id
	fsys.idx.NoteWrite(ino, id.size, id.mtime)
	fsys.changes.Add(1)
	return true
}

// passthroughOpen reports whether passthrough handles of ino are open.
func (fsys *FS) passthroughOpen(ino uint64) bool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	io := fsys.io[ino]
	return io != nil && io.backingRefs > 0
}

// resyncWrites records the cache file as it is now as seen, after the daemon
// itself changed it or the file's times (a truncate, utimes): what passthrough
// writers wrote before is in the index already, and the daemon's own change
// must not count as theirs.
func (fsys *FS) resyncWrites(ino uint64) {
	if fsys.ptWriters.Load() == 0 {
		return
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if io := fsys.io[ino]; io != nil && io.ptWriters > 0 {
		io.seen = fsys.backingID(ino, io)
	}
}

// backingID returns the identity of ino's backing file, with size -1 if it
// cannot be read: by descriptor when there is one (a stat by path walked the
// cache directory three times for each of tar's SETATTRs), else by path.
// Callers hold fsys.mu.
func (fsys *FS) backingID(ino uint64, io *inodeIO) fileID {
	var st unix.Stat_t
	var err error
	if io.backingFile != nil {
		err = unix.Fstat(int(io.backingFile.Fd()), &st)
	} else {
		err = unix.Stat(fsys.cache.Path(cache.Key{Ino: ino, Cver: io.backingCver}), &st)
	}
	if err != nil {
		return fileID{size: -1}
	}
	return fileID{size: st.Size, mtime: st.Mtim.Nano()}
}

// dupFile returns a second descriptor of f's open file, or nil if the
// process has none to spare (backingID then stats the path).
func dupFile(f *os.File) *os.File {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), f.Name())
}

// watchAtime arranges for the next passthrough read of ino to move its
// access time: it zeroes the cache file's access time, which the cache
// disk's relatime then moves at the first read.
func (fsys *FS) watchAtime(ino uint64) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	io := fsys.io[ino]
	if io == nil || io.backingRefs == 0 || io.atimeWatch {
		return
	}
	path := fsys.cache.Path(cache.Key{Ino: ino, Cver: io.backingCver})
	ts := []unix.Timespec{{}, {Nsec: unix.UTIME_OMIT}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, 0); err != nil {
		fsys.log.Error("passthrough: access time watch", "ino", ino, "err", err)
		return
	}
	io.atimeWatch = true
	fsys.atimeWatches.Add(1)
}

// checkAtime moves ino's access time (by relatime's rule, in the index) if
// a passthrough read happened since watchAtime. It costs nothing when no
// watch is set.
func (fsys *FS) checkAtime(ino uint64) (changed bool) {
	if fsys.atimeWatches.Load() == 0 {
		return false
	}
	fsys.mu.Lock()
	io := fsys.io[ino]
	if io == nil || !io.atimeWatch {
		fsys.mu.Unlock()
		return false
	}
	var st unix.Stat_t
	read := unix.Stat(fsys.cache.Path(cache.Key{Ino: ino, Cver: io.backingCver}), &st) == nil && st.Atim.Nano() > 0
	if read {
		io.atimeWatch = false
		fsys.atimeWatches.Add(-1)
	}
	fsys.mu.Unlock()
	if read {
		if err := fsys.idx.Accessed(ino); err != nil {
			fsys.log.Error("access time", "ino", ino, "err", err)
		}
	}
	return read
}

// forgetIO drops what is known of the kernel's view of ino once the kernel
// has forgotten the inode (and with it its page cache).
func (fsys *FS) forgetIO(ino uint64) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if io := fsys.io[ino]; io != nil && io.cached == 0 && io.backingRefs == 0 {
		delete(fsys.io, ino)
	}
}

// readsNeedNoAtime reports whether reads through a handle opened with flags
// on a may skip the daemon: relatime would not move the access time (it is
// after the modification and change times and less than a day old), the
// open asked for O_NOATIME, or it cannot read at all.
func (fsys *FS) readsNeedNoAtime(a index.Attr, flags uint32) bool {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY || flags&syscall.O_NOATIME != 0 {
		return true
	}
	return !index.AtimeDue(a.Atime, a.Mtime, a.Ctime, now())
}

// cacheFileSize returns f's size, or -1 if it cannot be read.
func cacheFileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return -1
	}
	return st.Size()
}
