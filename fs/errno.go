package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// errnoTable maps domain errors to errno values, first match wins.
var errnoTable = []struct {
	err   error
	errno syscall.Errno
}{
	{index.ErrNotExist, syscall.ENOENT},
	{index.ErrExist, syscall.EEXIST},
	{index.ErrNotEmpty, syscall.ENOTEMPTY},
	{index.ErrNotDir, syscall.ENOTDIR},
	{index.ErrIsDir, syscall.EISDIR},
	{index.ErrInvalid, syscall.EINVAL},
	{index.ErrPermission, syscall.EPERM},
	{index.ErrNameTooLong, syscall.ENAMETOOLONG},
	{index.ErrNoData, syscall.ENODATA},
	{index.ErrBusy, syscall.EBUSY},
	{index.ErrNotSupported, syscall.EOPNOTSUPP},
	{index.ErrIllegalTransition, syscall.EIO},
	{cache.ErrNoSpace, syscall.ENOSPC},
	{index.ErrNoSpace, syscall.ENOSPC},
	{context.DeadlineExceeded, syscall.EIO},
	{context.Canceled, syscall.EINTR},
}

// toErrno maps an error to the errno the kernel should see. An error it does
// not know becomes EIO, logged, so that nothing fails silently.
func toErrno(log *slog.Logger, op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	for _, e := range errnoTable {
		if errors.Is(err, e.err) {
			if e.errno == syscall.EIO && log != nil {
				log.Error("I/O error", "op", op, "err", err)
			}
			return e.errno
		}
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	if log != nil {
		log.Error("I/O error", "op", op, "err", err)
	}
	return syscall.EIO
}

func (fsys *FS) status(op string, err error) fuse.Status {
	return fuse.Status(toErrno(fsys.log, op, err))
}
