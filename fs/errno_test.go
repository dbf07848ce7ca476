package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

func TestToErrno(t *testing.T) {
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{fmt.Errorf("lookup: %w", index.ErrNotExist), syscall.ENOENT},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", index.ErrNotEmpty)), syscall.ENOTEMPTY},
		{index.ErrExist, syscall.EEXIST},
		{index.ErrNotDir, syscall.ENOTDIR},
		{index.ErrIsDir, syscall.EISDIR},
		{index.ErrInvalid, syscall.EINVAL},
		{index.ErrPermission, syscall.EPERM},
		{index.ErrNameTooLong, syscall.ENAMETOOLONG},
		{index.ErrNoData, syscall.ENODATA},
		{fmt.Errorf("getxattr: %w", index.ErrNotSupported), syscall.EOPNOTSUPP},
		{fmt.Errorf("write: %w: %w", cache.ErrNoSpace, syscall.ENOSPC), syscall.ENOSPC},
		{&os.PathError{Op: "read", Path: "x", Err: syscall.EROFS}, syscall.EROFS},
		{context.DeadlineExceeded, syscall.EIO},
		{errors.New("something unknown"), syscall.EIO},
	}
	for _, c := range cases {
		if got := toErrno(nil, "test", c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
