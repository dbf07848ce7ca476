package fs

import (
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// StateXattr is the virtual attribute that shows a file's residency. It is
// readable, never listed (so cp -a and rsync -X do not copy it) and not
// settable.
const StateXattr = "user.syncfs.state"

// ControlXattr is the virtual attribute, on every inode, that names the
// daemon's control socket: how `syncfs status PATH` finds the daemon serving
// PATH. Like StateXattr it is never listed and not settable.
const ControlXattr = "user.syncfs.control"

func (fsys *FS) stateString(a index.Attr) string {
	s := a.State.String()
	if !a.IsRegular() {
		s = "resident" // metadata only: always local
	}
	if a.State == index.StateAbsent {
		// Some ranges fetched, not all: the cache knows.
		if r, err := fsys.cache.Present(cache.Key{Ino: a.Ino, Cver: a.Cver}); err == nil && len(r) > 0 {
			s = "partial"
		}
	}
	if a.Pinned {
		s += ",pinned"
	}
	return s
}

// GetXAttr returns an extended attribute (ERANGE with the size if dest is too small).
func (fsys *FS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	defer fsys.track(opGetXAttr, time.Now())
	var v []byte
	if name == ControlXattr && fsys.opts.ControlSocket != "" {
		v = []byte(fsys.opts.ControlSocket)
	} else if name == StateXattr {
		a, err := fsys.idx.GetAttr(h.NodeId)
		if err != nil {
			return 0, fsys.status("getxattr", err)
		}
		v = []byte(fsys.stateString(a))
	} else {
		var err error
		if v, err = fsys.idx.GetXattr(h.NodeId, name); err != nil {
			return 0, fsys.status("getxattr", err)
		}
	}
	if len(dest) < len(v) {
		return uint32(len(v)), fuse.ERANGE
	}
	return uint32(copy(dest, v)), fuse.OK
}

// ListXAttr lists extended attribute names, NUL-separated.
func (fsys *FS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	defer fsys.track(opListXAttr, time.Now())
	names, err := fsys.idx.ListXattr(h.NodeId)
	if err != nil {
		return 0, fsys.status("listxattr", err)
	}
	var b strings.Builder
	for _, n := range names {
		if strings.HasPrefix(n, "trusted.") && h.Uid != 0 {
			// Only CAP_SYS_ADMIN sees trusted attributes; the kernel
			// leaves the listing to the file system, and the caller's
			// uid is the best sign of that capability it passes on.
			continue
		}
		b.WriteString(n)
		b.WriteByte(0)
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), fuse.ERANGE
	}
	return uint32(copy(dest, b.String())), fuse.OK
}

// SetXAttr sets an extended attribute; the residency attribute is read-only.
func (fsys *FS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	defer fsys.track(opSetXAttr, time.Now())
	if name == StateXattr || name == ControlXattr {
		return fuse.EPERM
	}
	flags := int(in.Flags)
	if in.SetXAttrFlags&fuse.SETXATTR_ACL_KILL_SGID != 0 {
		flags |= index.XattrACLKillSgid
	}
	return fsys.status("setxattr", fsys.idx.SetXattr(in.NodeId, name, data, flags))
}

// RemoveXAttr removes an extended attribute.
func (fsys *FS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	defer fsys.track(opRemoveXAttr, time.Now())
	if name == StateXattr || name == ControlXattr {
		return fuse.EPERM
	}
	return fsys.status("removexattr", fsys.idx.RemoveXattr(h.NodeId, name))
}
