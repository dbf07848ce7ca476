package fs

import (
	"errors"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"golang.org/x/sys/unix"
)

// Lookup answers a name lookup; a missing name is cached by the kernel as a
// negative entry for NegativeTimeout.
func (fsys *FS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer fsys.track(opLookup, time.Now())
	a, err := fsys.idx.Lookup(h.NodeId, name)
	if errors.Is(err, index.ErrNotExist) && fsys.opts.NegativeTimeout > 0 {
		out.NodeId = 0
		out.SetEntryTimeout(fsys.opts.NegativeTimeout)
		return fuse.ENOENT
	}
	if err != nil {
		return fsys.status("lookup", err)
	}
	fsys.fillEntry(a, out)
	return fuse.OK
}

// Forget drops what fs knows of the kernel's view of the inode; the index
// needs nothing: inode numbers are index rows, never reused. The kernel
// sends it only when it evicts the inode, with all its lookups.
func (fsys *FS) Forget(nodeid, nlookup uint64) {
	fsys.track(opForget, time.Now())
	fsys.forgetIO(nodeid)
}

// GetAttr returns an inode's attributes.
func (fsys *FS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer fsys.track(opGetAttr, time.Now())
	fsys.syncWrites(in.NodeId)
	fsys.checkAtime(in.NodeId)
	a, err := fsys.idx.GetAttr(in.NodeId)
	if err != nil {
		return fsys.status("getattr", err)
	}
	fsys.fillAttrSynced(a, &out.Attr)
	out.SetTimeout(fsys.opts.AttrTimeout)
	return fuse.OK
}

// SetAttr changes mode, owner, size or times. A size change first makes sure
// all the content is local, then truncates the cache file.
func (fsys *FS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer fsys.track(opSetAttr, time.Now())
	s := setAttrIn(in)
	// With HANDLE_KILLPRIV_V2 the kernel flags a chown, or a truncate by
	// an unprivileged caller, that must clear set-ID bits; chown(f, -1, -1)
	// arrives as a SETATTR that changes nothing, and clears them too.
	const changes = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_SIZE | fuse.FATTR_ATIME | fuse.FATTR_MTIME
	if (in.Valid&fuse.FATTR_KILL_SUIDGID != 0 || in.Valid&changes == 0) && s.Mode == nil {
		a, err := fsys.idx.GetAttr(in.NodeId)
		if err != nil {
			return fsys.status("setattr", err)
		}
		if !a.IsDir() {
			if m := killedMode(a.Mode&0o7777, a.GID, in.Caller); m != a.Mode&0o7777 {
				s.Mode = &m
			}
		}
	}
	fsys.changes.Add(1)
	fsys.syncWrites(in.NodeId) // passthrough writes come before this change
	defer fsys.resyncWrites(in.NodeId)
	if s.Size != nil {
		if st := fsys.truncate(cancel, in.NodeId, *s.Size); !st.Ok() {
			return st
		}
	}
	a, err := fsys.idx.SetAttr(in.NodeId, s)
	if err != nil {
		return fsys.status("setattr", err)
	}
	fsys.resyncWrites(in.NodeId) // before fillAttr looks at the cache file
	fsys.fillAttrSynced(a, &out.Attr)
	out.SetTimeout(fsys.opts.AttrTimeout)
	return fuse.OK
}

// setAttrIn decodes a SETATTR request. Times are taken from the request's
// fields, not go-fuse's getters: those read the clock for UTIME_NOW, which
// is the index's to do (so that the new times equal the change time), and
// overflow before 1678.
func setAttrIn(in *fuse.SetAttrIn) index.SetAttrIn {
	var s index.SetAttrIn
	if m, ok := in.GetMode(); ok {
		s.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		s.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		s.GID = &g
	}
	if in.Valid&fuse.FATTR_ATIME != 0 {
		s.AtimeNow = in.Valid&fuse.FATTR_ATIME_NOW != 0
		ns := joinTime(in.Atime, in.Atimensec)
		s.Atime = &ns
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		s.MtimeNow = in.Valid&fuse.FATTR_MTIME_NOW != 0
		ns := joinTime(in.Mtime, in.Mtimensec)
		s.Mtime = &ns
	}
	if size, ok := in.GetSize(); ok {
		sz := int64(size)
		s.Size = &sz
	}
	return s
}

// truncate sets a regular file's cache file to size, fetching Absent
// content first.
func (fsys *FS) truncate(cancel <-chan struct{}, ino uint64, size int64) fuse.Status {
	a, err := fsys.makeLocal(cancel, ino)
	if err != nil {
		return fsys.status("truncate", err)
	}
	if a.IsDir() {
		return fuse.Status(syscall.EISDIR)
	}
	if !a.IsRegular() {
		return fuse.EINVAL
	}
	return fsys.status("truncate", fsys.cache.Truncate(cache.Key{Ino: a.Ino, Cver: a.Cver}, size))
}

// makeLocal fetches all of an Absent file's content and marks it Resident,
// so that it may be changed.
func (fsys *FS) makeLocal(cancel <-chan struct{}, ino uint64) (index.Attr, error) {
	a, err := fsys.idx.GetAttr(ino)
	if err != nil || a.State != index.StateAbsent {
		return a, err
	}
	ctx, stop := fsys.ctx(cancel)
	defer stop()
	key := cache.Key{Ino: a.Ino, Cver: a.Cver}
	done, err := fsys.cache.Ensure(ctx, key, a.Size, 0, a.Size)
	if err != nil {
		return a, err
	}
	if done {
		if err := fsys.idx.MarkResident(a.Ino, a.Cver); err != nil {
			return a, err
		}
		fsys.cache.Forget(key)
	}
	return fsys.idx.GetAttr(ino)
}

func (fsys *FS) create(h *fuse.InHeader, name string, n index.NewNode, out *fuse.EntryOut) (index.Attr, fuse.Status) {
	n.UID, n.GID = h.Uid, h.Gid
	a, err := fsys.idx.Create(h.NodeId, name, n)
	if err != nil {
		return a, fsys.status("create", err)
	}
	fsys.fillEntry(a, out)
	return a, fuse.OK
}

// Mkdir creates a directory. The index applies the caller's umask, or the
// parent's default ACL.
func (fsys *FS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	defer fsys.track(opMkdir, time.Now())
	_, st := fsys.create(&in.InHeader, name, index.NewNode{Mode: syscall.S_IFDIR | in.Mode&0o7777, Umask: in.Umask}, out)
	return st
}

// Mknod creates a regular file, fifo, socket or device node.
func (fsys *FS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	defer fsys.track(opMknod, time.Now())
	_, st := fsys.create(&in.InHeader, name, index.NewNode{Mode: in.Mode, Rdev: in.Rdev, Umask: in.Umask}, out)
	return st
}

// Symlink creates a symbolic link.
func (fsys *FS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	defer fsys.track(opSymlink, time.Now())
	_, st := fsys.create(h, name, index.NewNode{Mode: syscall.S_IFLNK | 0o777, Target: target}, out)
	return st
}

// Readlink returns a symlink's target.
func (fsys *FS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	defer fsys.track(opReadlink, time.Now())
	t, err := fsys.idx.Readlink(h.NodeId)
	if err != nil {
		return nil, fsys.status("readlink", err)
	}
	return []byte(t), fuse.OK
}

// Link adds a hard link.
func (fsys *FS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	defer fsys.track(opLink, time.Now())
	a, err := fsys.idx.Link(in.Oldnodeid, in.NodeId, name)
	if err != nil {
		return fsys.status("link", err)
	}
	fsys.fillEntry(a, out)
	return fuse.OK
}

// Unlink removes a name.
func (fsys *FS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	defer fsys.track(opUnlink, time.Now())
	return fsys.status("unlink", fsys.idx.Unlink(h.NodeId, name))
}

// Rmdir removes an empty directory.
func (fsys *FS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	defer fsys.track(opRmdir, time.Now())
	return fsys.status("rmdir", fsys.idx.Rmdir(h.NodeId, name))
}

// Rename moves a name, with renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE.
func (fsys *FS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	defer fsys.track(opRename, time.Now())
	var flags index.RenameFlags
	if in.Flags&unix.RENAME_NOREPLACE != 0 {
		flags |= index.RenameNoReplace
	}
	if in.Flags&unix.RENAME_EXCHANGE != 0 {
		flags |= index.RenameExchange
	}
	if in.Flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return fuse.EINVAL
	}
	if in.Flags&unix.RENAME_WHITEOUT != 0 {
		return fsys.status("rename", fsys.idx.RenameWhiteout(in.NodeId, oldName, in.Newdir, newName, flags, in.Uid, in.Gid))
	}
	return fsys.status("rename", fsys.idx.Rename(in.NodeId, oldName, in.Newdir, newName, flags))
}

// now is the wall clock for mtimes, in nanoseconds.
func now() int64 { return time.Now().UnixNano() }
