package fs

import (
	"time"

	"github.com/syncfs/syncfs/metrics"
)

// op names one FUSE operation this adapter serves, for the request counts
// and latencies (metrics.Op). go-fuse has no per-request hook, so each
// method starts with `defer fsys.track(opX, time.Now())`.
type op int

const (
	opLookup op = iota
	opForget
	opGetAttr
	opSetAttr
	opMkdir
	opMknod
	opSymlink
	opReadlink
	opLink
	opUnlink
	opRmdir
	opRename
	opCreate
	opTmpfile
	opOpen
	opRead
	opWrite
	opFlush
	opFsync
	opRelease
	opFallocate
	opLseek
	opOpenDir
	opReleaseDir
	opFsyncDir
	opReadDir
	opReadDirPlus
	opGetXAttr
	opListXAttr
	opSetXAttr
	opRemoveXAttr
	opStatFs
	opCount // the number of ops, not an op
)

// opNames are the kernel's names of the ops, as go-fuse's debug output
// and scripts/bench show them.
var opNames = [opCount]string{
	opLookup: "LOOKUP", opForget: "FORGET", opGetAttr: "GETATTR", opSetAttr: "SETATTR",
	opMkdir: "MKDIR", opMknod: "MKNOD", opSymlink: "SYMLINK", opReadlink: "READLINK",
	opLink: "LINK", opUnlink: "UNLINK", opRmdir: "RMDIR", opRename: "RENAME",
	opCreate: "CREATE", opTmpfile: "TMPFILE", opOpen: "OPEN", opRead: "READ",
	opWrite: "WRITE", opFlush: "FLUSH", opFsync: "FSYNC", opRelease: "RELEASE",
	opFallocate: "FALLOCATE", opLseek: "LSEEK", opOpenDir: "OPENDIR", opReleaseDir: "RELEASEDIR",
	opFsyncDir: "FSYNCDIR", opReadDir: "READDIR", opReadDirPlus: "READDIRPLUS",
	opGetXAttr: "GETXATTR", opListXAttr: "LISTXATTR", opSetXAttr: "SETXATTR",
	opRemoveXAttr: "REMOVEXATTR", opStatFs: "STATFS",
}

// newOps resolves the recorder of every op once, so that recording a
// request costs no label lookup. With m nil every recorder is nil, which
// records nothing.
func newOps(m *metrics.Metrics) [opCount]*metrics.Op {
	var ops [opCount]*metrics.Op
	for i, name := range opNames {
		ops[i] = m.FUSEOp(name)
	}
	return ops
}

// track counts one request of op that started at start.
func (fsys *FS) track(o op, start time.Time) {
	fsys.ops[o].Done(start)
}
