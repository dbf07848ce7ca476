package fs

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"golang.org/x/sys/unix"
)

func writable(flags uint32) bool { return flags&syscall.O_ACCMODE != syscall.O_RDONLY }

// Create makes and opens a new regular file.
func (fsys *FS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	defer fsys.track(opCreate, time.Now())
	// One index transaction makes the file and opens it.
	n := index.NewNode{Mode: syscall.S_IFREG | in.Mode&0o7777, UID: in.Uid, GID: in.Gid, Umask: in.Umask}
	flags := in.Flags &^ syscall.O_TRUNC
	a, err := fsys.idx.CreateOpen(in.NodeId, name, n, writable(flags))
	if err != nil {
		return fsys.status("create", err)
	}
	fsys.fillEntry(a, &out.EntryOut)
	return fsys.openIndexed(a, flags, true, &out.OpenOut)
}

// Tmpfile makes and opens a regular file with no name (O_TMPFILE); linkat
// can name it later.
func (fsys *FS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	defer fsys.track(opTmpfile, time.Now())
	a, err := fsys.idx.CreateTmpfile(in.NodeId, index.NewNode{Mode: syscall.S_IFREG | in.Mode&0o7777, UID: in.Uid, GID: in.Gid, Umask: in.Umask})
	if err != nil {
		return fsys.status("tmpfile", err)
	}
	fsys.fillEntry(a, &out.EntryOut)
	return fsys.open(cancel, a.Ino, in.Flags&^syscall.O_TRUNC, &out.OpenOut)
}

// Open opens a file. Writing makes it Staged (fetching it first if its
// content is not local, unless it is being truncated).
func (fsys *FS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer fsys.track(opOpen, time.Now())
	if in.Mode&fuse.OPEN_KILL_SUIDGID != 0 && in.Flags&syscall.O_TRUNC != 0 && writable(in.Flags) {
		if err := fsys.killSuidgid(in.NodeId, in.Caller); err != nil {
			return fsys.status("open", err)
		}
	}
	return fsys.open(cancel, in.NodeId, in.Flags, out)
}

func (fsys *FS) open(cancel <-chan struct{}, ino uint64, flags uint32, out *fuse.OpenOut) fuse.Status {
	write := writable(flags)
	trunc := flags&syscall.O_TRUNC != 0 && write
	if write && !trunc {
		if _, err := fsys.makeLocal(cancel, ino); err != nil {
			return fsys.status("open", err)
		}
	}
	a, err := fsys.idx.Open(ino, write, trunc)
	if err != nil {
		return fsys.status("open", err)
	}
	return fsys.openIndexed(a, flags, false, out)
}

// openIndexed opens the cache file of a, which the index has just opened
// with flags, and makes the handle; on failure it releases the index's open.
// created says the index has just made the inode: its content is empty.
func (fsys *FS) openIndexed(a index.Attr, flags uint32, created bool, out *fuse.OpenOut) fuse.Status {
	ino := a.Ino
	write := writable(flags)
	trunc := flags&syscall.O_TRUNC != 0 && write
	if !a.IsRegular() {
		fsys.idx.Release(ino, write)
		return fuse.EINVAL
	}
	key := cache.Key{Ino: ino, Cver: a.Cver}
	f, err := fsys.cache.Open(key, write)
	csize := int64(-1)
	if err == nil && created {
		// A new inode's cache file is new and empty. One with bytes was
		// left by a crash that lost an inode of this number (the index
		// skips such numbers after a crash; this is the last guard).
		if csize = cacheFileSize(f); csize > 0 {
			fsys.log.Warn("a new file's cache file held bytes (left by a crash): emptied", "ino", ino, "bytes", csize)
			trunc = true
		}
	}
	if err == nil && trunc {
		// The index already says empty and Staged: a crash here leaves the
		// old bytes in a Staged file, a state that did exist.
		if err = f.Truncate(0); err != nil {
			err = fmt.Errorf("truncate cache file: %w", cache.MapError(err))
		}
		fsys.cache.Forget(key)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		fsys.idx.Release(ino, write)
		return fsys.status("open", err)
	}
	absent := a.State == index.StateAbsent
	if absent && a.Size == 0 {
		// Nothing to fetch: the empty cache file is the whole content.
		if err := fsys.idx.MarkResident(ino, a.Cver); err != nil {
			f.Close()
			fsys.idx.Release(ino, write)
			return fsys.status("open", err)
		}
		absent = false
	}
	h := &handle{ino: ino, key: key, f: f, write: write, absent: absent, size: a.Size, noatime: flags&syscall.O_NOATIME != 0}
	// Set-ID files stay out of passthrough: their writes must reach fs,
	// which clears the bits (killpriv.go).
	needAtime := !fsys.readsNeedNoAtime(a, flags)
	if csize != 0 {
		csize = cacheFileSize(f)
	}
	whole := !absent && a.Mode&(syscall.S_ISUID|syscall.S_ISGID) == 0 && csize == a.Size &&
		!(needAtime && fsys.cacheNoAtime) // watchAtime needs the cache disk to record reads
	h.mode, err = fsys.chooseIO(ino, a.Cver, f, write, whole, !trunc && !needAtime, out)
	if err != nil {
		f.Close()
		fsys.idx.Release(ino, write)
		return fsys.status("open", err)
	}
	if h.mode == ioPassthrough && needAtime && !trunc {
		fsys.watchAtime(ino) // its reads will not reach the daemon
	}
	// No FLUSH at close(2): Release does what Flush would (it takes in
	// passthrough writes and commits the coalesced size and mtime), and
	// a FLUSH is a round trip that close(2) waits for: one of the nine
	// each file of an untarred tree costs, and the one of every file that
	// diff -r or a compiler reads. What close no longer reports, a failed
	// commit of the index, fsync(2) still does (as on ext4, whose close
	// reports nothing either).
	out.OpenFlags |= fuse.FOPEN_NOFLUSH
	fsys.mu.Lock()
	fsys.nextFh++
	fh := fsys.nextFh
	fsys.handles[fh] = h
	fsys.mu.Unlock()
	out.Fh = fh
	return fuse.OK
}

func (fsys *FS) handle(fh uint64) *handle {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return fsys.handles[fh]
}

// Read serves bytes from the cache file, fetching missing ranges of Absent
// content first (bounded by the fetch timeout).
func (fsys *FS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer fsys.track(opRead, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return nil, fuse.EBADF
	}
	h.mu.Lock()
	absent, size := h.absent, h.size
	failedAt, failed := h.failedAt, h.failed
	h.mu.Unlock()
	if absent {
		if !failedAt.IsZero() && time.Since(failedAt) < refetchAfter {
			return nil, failed
		}
		ctx, stop := fsys.ctx(cancel)
		done, err := fsys.cache.Ensure(ctx, h.key, size, int64(in.Offset), int64(len(buf)))
		stop()
		if err != nil {
			fsys.log.Error("read: content not available", "ino", h.ino, "err", err)
			st := fsys.status("read", err)
			h.mu.Lock()
			h.failedAt, h.failed = time.Now(), st
			h.mu.Unlock()
			return nil, st
		}
		if done {
			if err := fsys.idx.MarkResident(h.ino, h.key.Cver); err != nil {
				return nil, fsys.status("read", err)
			}
			fsys.cache.Forget(h.key)
			h.mu.Lock()
			h.absent = false
			h.mu.Unlock()
		}
	}
	n, err := h.f.ReadAt(buf, int64(in.Offset))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fsys.status("read", err)
	}
	fsys.accessed(h)
	return fuse.ReadResultData(buf[:n]), fuse.OK
}

// accessed applies relatime to a read through h. Once a handle has checked,
// later reads skip the check (and its index query) until something on the
// mount was written or changed: only then can the rule give another answer
// within the day.
func (fsys *FS) accessed(h *handle) {
	if h.noatime {
		return
	}
	now := fsys.changes.Load()
	h.mu.Lock()
	fresh := h.atimeSet && h.atimeAt == now
	h.atimeAt, h.atimeSet = now, true
	h.mu.Unlock()
	if !fresh {
		if err := fsys.idx.Accessed(h.ino); err != nil {
			fsys.log.Error("access time", "ino", h.ino, "err", err)
		}
	}
}

// Write writes to the cache file; the size and mtime change is coalesced in
// the index's memory, with no transaction.
func (fsys *FS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	defer fsys.track(opWrite, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return 0, fuse.EBADF
	}
	if in.WriteFlags&fuse.WRITE_KILL_SUIDGID != 0 {
		if err := fsys.killSuidgid(h.ino, in.Caller); err != nil {
			return 0, fsys.status("write", err)
		}
	}
	n, err := h.f.WriteAt(data, int64(in.Offset))
	fsys.changes.Add(1)
	if n > 0 {
		fsys.idx.NoteWrite(h.ino, int64(in.Offset)+int64(n), now())
	}
	if err != nil {
		return uint32(n), fsys.status("write", cache.MapError(err))
	}
	return uint32(n), fuse.OK
}

// Flush commits the file's coalesced size and mtime (close(2) of one fd).
func (fsys *FS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer fsys.track(opFlush, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return fuse.OK
	}
	if h.write {
		fsys.syncWrites(h.ino)
		return fsys.status("flush", fsys.idx.Flush(h.ino))
	}
	return fuse.OK
}

// Fsync makes the file's bytes and metadata durable: the cache file first,
// then the index.
func (fsys *FS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer fsys.track(opFsync, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return fsys.status("fsync", fsys.idx.Sync())
	}
	if err := unix.Fdatasync(int(h.f.Fd())); err != nil {
		return fsys.status("fsync", cache.MapError(err))
	}
	fsys.syncWrites(h.ino)
	return fsys.status("fsync", fsys.idx.Fsync(h.ino))
}

// Release closes a handle.
func (fsys *FS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	defer fsys.track(opRelease, time.Now())
	fsys.mu.Lock()
	h := fsys.handles[in.Fh]
	delete(fsys.handles, in.Fh)
	fsys.mu.Unlock()
	if h == nil {
		return
	}
	fsys.releaseIO(h)
	h.f.Close()
	if err := fsys.idx.Release(h.ino, h.write); err != nil {
		fsys.log.Error("release", "ino", h.ino, "err", err)
	}
}

// Fallocate allocates or punches space in the cache file.
func (fsys *FS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	defer fsys.track(opFallocate, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return fuse.EBADF
	}
	if !h.write {
		return fuse.Status(syscall.EBADF)
	}
	// The kernel does not flag fallocate for HANDLE_KILLPRIV_V2: an
	// unprivileged caller's clears set-ID bits as a write's would.
	if in.Caller.Uid != 0 {
		if err := fsys.killSuidgid(h.ino, in.Caller); err != nil {
			return fsys.status("fallocate", err)
		}
	}
	if err := unix.Fallocate(int(h.f.Fd()), in.Mode, int64(in.Offset), int64(in.Length)); err != nil {
		return fsys.status("fallocate", cache.MapError(err))
	}
	defer fsys.resyncWrites(h.ino)
	if in.Mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
		fsys.idx.NoteWrite(h.ino, int64(in.Offset+in.Length), now())
	} else {
		fsys.idx.NoteWrite(h.ino, 0, now())
	}
	return fuse.OK
}

// Lseek answers SEEK_DATA and SEEK_HOLE from the cache file.
func (fsys *FS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	defer fsys.track(opLseek, time.Now())
	h := fsys.handle(in.Fh)
	if h == nil {
		return fuse.EBADF
	}
	h.mu.Lock()
	absent := h.absent
	h.mu.Unlock()
	if absent {
		// Holes of content not yet local are unknown: report all data.
		a, err := fsys.idx.GetAttr(h.ino)
		if err != nil {
			return fsys.status("lseek", err)
		}
		if int64(in.Offset) >= a.Size {
			return fuse.Status(syscall.ENXIO)
		}
		if in.Whence == unix.SEEK_DATA {
			out.Offset = in.Offset
		} else {
			out.Offset = uint64(a.Size)
		}
		return fuse.OK
	}
	off, err := unix.Seek(int(h.f.Fd()), int64(in.Offset), int(in.Whence))
	if err != nil {
		return fsys.status("lseek", err)
	}
	out.Offset = uint64(off)
	return fuse.OK
}
