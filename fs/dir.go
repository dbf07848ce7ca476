package fs

import (
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/index"
)

// readDirBatch is the most entries one index query returns; the kernel's
// buffer usually fills first.
const readDirBatch = 256

// minDirEntrySize and minDirPlusEntrySize are about the least room one
// entry takes in the kernel's buffer (header, name, and for READDIRPLUS the
// attributes), so that a query fetches about as many rows as fit rather than
// readDirBatch: a 4 KiB READDIRPLUS holds some 25 entries, and the rows
// fetched past them were the listing's main cost.
const (
	minDirEntrySize     = 32
	minDirPlusEntrySize = 160
)

// dirBatch returns how many entries to fetch for a buffer of size bytes.
func dirBatch(size uint32, plus bool) int {
	per := uint32(minDirEntrySize)
	if plus {
		per = minDirPlusEntrySize
	}
	return min(max(int(size/per)+1, 8), readDirBatch)
}

// OpenDir checks that the inode is a directory; listings are stateless
// (offsets are entry row IDs), so there is no directory handle.
//
// The kernel keeps a directory's listing in its page cache
// (FOPEN_CACHE_DIR) and lists it again from there (FOPEN_KEEP_CACHE): git
// status lists every directory of the tree each time it runs. The kernel
// drops the cached listing itself when an entry changes through the
// mount, or when the directory's mtime it learns from a GETATTR differs
// (a change another device made, or one the daemon made, bounded by the
// attribute timeout), and fs drops it at once for every remote change of
// an entry (invalidate). When relatime says this listing must move the
// directory's access time, the open does not keep the cached listing, so
// that the listing reaches readDir, which records the access.
func (fsys *FS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer fsys.track(opOpenDir, time.Now())
	a, err := fsys.idx.GetAttr(in.NodeId)
	if err != nil {
		return fsys.status("opendir", err)
	}
	if !a.IsDir() {
		return fuse.ENOTDIR
	}
	out.OpenFlags |= fuse.FOPEN_CACHE_DIR
	if !fsys.readsNeedNoAtime(a, in.Flags) {
		return fuse.OK
	}
	out.OpenFlags |= fuse.FOPEN_KEEP_CACHE
	return fuse.OK
}

// ReleaseDir has nothing to release.
func (fsys *FS) ReleaseDir(in *fuse.ReleaseIn) {
	fsys.track(opReleaseDir, time.Now())
}

// FsyncDir makes the index durable.
func (fsys *FS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer fsys.track(opFsyncDir, time.Now())
	return fsys.status("fsyncdir", fsys.idx.Sync())
}

// ReadDir lists names.
func (fsys *FS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer fsys.track(opReadDir, time.Now())
	return fsys.readDir(in, out, false)
}

// ReadDirPlus lists names with their attributes, from one query per batch.
func (fsys *FS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer fsys.track(opReadDirPlus, time.Now())
	return fsys.readDir(in, out, true)
}

func (fsys *FS) readDir(in *fuse.ReadIn, out *fuse.DirEntryList, plus bool) fuse.Status {
	off := in.Offset
	if off == 0 {
		// A listing from the start reads the directory (relatime).
		if err := fsys.idx.Accessed(in.NodeId); err != nil {
			fsys.log.Error("access time", "ino", in.NodeId, "err", err)
		}
	}
	add := func(e fuse.DirEntry, a *index.Attr) bool {
		if !plus {
			return out.AddDirEntry(e)
		}
		eo := out.AddDirLookupEntry(e)
		if eo == nil {
			return false
		}
		if a != nil {
			fsys.fillEntry(*a, eo)
		}
		return true
	}
	if off < 1 {
		if !add(fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: in.NodeId, Off: 1}, nil) {
			return fuse.OK
		}
		off = 1
	}
	if off < 2 {
		parent, err := fsys.idx.ParentOf(in.NodeId)
		if err != nil {
			return fsys.status("readdir", err)
		}
		if !add(fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parent, Off: 2}, nil) {
			return fuse.OK
		}
		off = 2
	}
	batch := dirBatch(in.Size, plus)
	for {
		ents, err := fsys.idx.ReadDir(in.NodeId, off, batch)
		if err != nil {
			return fsys.status("readdir", err)
		}
		for i := range ents {
			e := &ents[i]
			if !add(fuse.DirEntry{Name: e.Name, Mode: e.Attr.Mode, Ino: e.Attr.Ino, Off: e.Offset}, &e.Attr) {
				return fuse.OK
			}
			off = e.Offset
		}
		if len(ents) < batch {
			return fuse.OK
		}
	}
}
