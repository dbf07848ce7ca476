package fstests

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// chain is the state one chain of operations shares: the descriptors it
// opened, named by index.
type chain struct {
	fds []int
}

type pjdOp struct {
	nargs int // exact number of arguments; -1: checked by the operation
	run   func(c *chain, a []string) (string, error)
}

// emptyValue is how an empty result (an empty xattr value, a read at end of
// file, no xattr names) is shown, so that it cannot be mistaken for success;
// as an argument it is the empty string.
const emptyValue = "(empty)"

// runChain runs a chain of operations and returns the last one's result, or
// the errno name of the first that fails. Descriptors the chain opened are
// closed at the end, like a pjdfstest process exiting.
func runChain(ops [][]string) string {
	c := &chain{}
	defer func() {
		for _, fd := range c.fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	res := "0"
	for _, op := range ops {
		o := pjdOps[op[0]]
		args := make([]string, len(op)-1)
		for i, a := range op[1:] {
			if a != emptyValue {
				args[i] = a
			}
		}
		if o.nargs >= 0 && len(args) != o.nargs {
			return fmt.Sprintf("BADARGS(%s takes %d arguments, got %d)", op[0], o.nargs, len(args))
		}
		var err error
		err = ignoringEINTR(func() error {
			var e error
			res, e = o.run(c, args)
			return e
		})
		if err != nil {
			var en unix.Errno
			if errors.As(err, &en) {
				return unix.ErrnoName(en)
			}
			return "ERROR(" + err.Error() + ")"
		}
		if res == "" {
			res = "0"
		}
	}
	return res
}

func (c *chain) addFd(fd int) string {
	c.fds = append(c.fds, fd)
	return "0"
}

// fd resolves a descriptor argument: an index into the chain's descriptors,
// or AT_FDCWD.
func (c *chain) fd(s string) (int, error) {
	if s == "AT_FDCWD" {
		return unix.AT_FDCWD, nil
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= len(c.fds) {
		return 0, fmt.Errorf("no descriptor %q in this chain", s)
	}
	return c.fds[i], nil
}

func num(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", s, err)
	}
	return v, nil
}

func mode(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q: %w", s, err)
	}
	return uint32(v), nil
}

var flagNames = map[string]int{
	"0": 0, "O_RDONLY": unix.O_RDONLY, "O_WRONLY": unix.O_WRONLY, "O_RDWR": unix.O_RDWR,
	"O_CREAT": unix.O_CREAT, "O_EXCL": unix.O_EXCL, "O_TRUNC": unix.O_TRUNC, "O_APPEND": unix.O_APPEND,
	"O_DIRECTORY": unix.O_DIRECTORY, "O_NOFOLLOW": unix.O_NOFOLLOW, "O_NONBLOCK": unix.O_NONBLOCK,
	"O_SYNC": unix.O_SYNC, "O_DSYNC": unix.O_DSYNC, "O_NOCTTY": unix.O_NOCTTY, "O_PATH": unix.O_PATH,
	"O_DIRECT": unix.O_DIRECT, "O_NOATIME": unix.O_NOATIME, "O_TMPFILE": unix.O_TMPFILE,
	"AT_REMOVEDIR": unix.AT_REMOVEDIR, "AT_SYMLINK_NOFOLLOW": unix.AT_SYMLINK_NOFOLLOW,
	"AT_SYMLINK_FOLLOW": unix.AT_SYMLINK_FOLLOW, "AT_EMPTY_PATH": unix.AT_EMPTY_PATH, "AT_EACCESS": unix.AT_EACCESS,
	"RENAME_NOREPLACE": unix.RENAME_NOREPLACE, "RENAME_EXCHANGE": unix.RENAME_EXCHANGE, "RENAME_WHITEOUT": unix.RENAME_WHITEOUT,
	"XATTR_CREATE": unix.XATTR_CREATE, "XATTR_REPLACE": unix.XATTR_REPLACE,
	"F_OK": unix.F_OK, "R_OK": unix.R_OK, "W_OK": unix.W_OK, "X_OK": unix.X_OK,
	"FALLOC_FL_KEEP_SIZE": unix.FALLOC_FL_KEEP_SIZE, "FALLOC_FL_PUNCH_HOLE": unix.FALLOC_FL_PUNCH_HOLE,
	"FALLOC_FL_ZERO_RANGE": unix.FALLOC_FL_ZERO_RANGE,
	"SEEK_SET":             unix.SEEK_SET, "SEEK_CUR": unix.SEEK_CUR, "SEEK_END": unix.SEEK_END,
	"SEEK_DATA": unix.SEEK_DATA, "SEEK_HOLE": unix.SEEK_HOLE,
	"LOCK_SH": unix.LOCK_SH, "LOCK_EX": unix.LOCK_EX, "LOCK_UN": unix.LOCK_UN, "LOCK_NB": unix.LOCK_NB,
}

// flags parses flags joined by commas (O_WRONLY,O_CREAT) or a number.
func flags(s string) (int, error) {
	v := 0
	for _, f := range strings.Split(s, ",") {
		if n, ok := flagNames[f]; ok {
			v |= n
			continue
		}
		n, err := strconv.ParseInt(f, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("unknown flag %q", f)
		}
		v |= int(n)
	}
	return v, nil
}

// utimeNsec parses a nanoseconds argument, UTIME_NOW and UTIME_OMIT included.
func utimeNsec(s string) (int64, error) {
	switch s {
	case "UTIME_NOW":
		return unix.UTIME_NOW, nil
	case "UTIME_OMIT":
		return unix.UTIME_OMIT, nil
	}
	return num(s)
}

var typeNames = map[uint32]string{
	unix.S_IFREG: "regular", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink", unix.S_IFIFO: "fifo",
	unix.S_IFSOCK: "socket", unix.S_IFCHR: "char", unix.S_IFBLK: "block",
}

// statFields formats the fields of st named in the comma-separated list.
func statFields(st *unix.Stat_t, list string) (string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		var v string
		switch f {
		case "type":
			v = typeNames[st.Mode&unix.S_IFMT]
		case "mode":
			v = fmt.Sprintf("%#o", st.Mode&0o7777)
		case "inode":
			v = fmt.Sprint(st.Ino)
		case "nlink":
			v = fmt.Sprint(st.Nlink)
		case "uid":
			v = fmt.Sprint(st.Uid)
		case "gid":
			v = fmt.Sprint(st.Gid)
		case "size":
			v = fmt.Sprint(st.Size)
		case "blocks":
			v = fmt.Sprint(st.Blocks)
		case "major":
			v = fmt.Sprint(unix.Major(st.Rdev))
		case "minor":
			v = fmt.Sprint(unix.Minor(st.Rdev))
		case "atime":
			v = fmt.Sprint(st.Atim.Nano())
		case "mtime":
			v = fmt.Sprint(st.Mtim.Nano())
		case "ctime":
			v = fmt.Sprint(st.Ctim.Nano())
		case "atime_s":
			v = fmt.Sprint(st.Atim.Sec)
		case "mtime_s":
			v = fmt.Sprint(st.Mtim.Sec)
		case "atime_ns":
			v = fmt.Sprint(st.Atim.Nsec)
		case "mtime_ns":
			v = fmt.Sprint(st.Mtim.Nsec)
		default:
			return "", fmt.Errorf("unknown stat field %q", f)
		}
		out = append(out, v)
	}
	return strings.Join(out, ","), nil
}

func statOp(statf func(c *chain, a []string, st *unix.Stat_t) error) func(c *chain, a []string) (string, error) {
	return func(c *chain, a []string) (string, error) {
		var st unix.Stat_t
		if err := statf(c, a, &st); err != nil {
			return "", err
		}
		return statFields(&st, a[len(a)-1])
	}
}

func openOp(c *chain, dirfd int, p, fl string, m []string) (string, error) {
	f, err := flags(fl)
	if err != nil {
		return "", err
	}
	var perm uint32
	if len(m) > 0 {
		if perm, err = mode(m[0]); err != nil {
			return "", err
		}
	}
	fd, err := unix.Openat(dirfd, p, f|unix.O_CLOEXEC, perm)
	if err != nil {
		return "", err
	}
	return c.addFd(fd), nil
}

func mknodType(s string) (uint32, error) {
	switch s {
	case "f":
		return unix.S_IFIFO, nil
	case "c":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "s":
		return unix.S_IFSOCK, nil
	case "r":
		return unix.S_IFREG, nil
	}
	return 0, fmt.Errorf("unknown mknod type %q", s)
}

func mknodOp(dirfd int, a []string) error {
	typ, err := mknodType(a[1])
	if err != nil {
		return err
	}
	m, err := mode(a[2])
	if err != nil {
		return err
	}
	maj, err := num(a[3])
	if err != nil {
		return err
	}
	mn, err := num(a[4])
	if err != nil {
		return err
	}
	return unix.Mknodat(dirfd, a[0], typ|m, int(unix.Mkdev(uint32(maj), uint32(mn))))
}

func utimensOp(c *chain, dirfd int, p string, a []string, fl string) error {
	var ts [4]int64
	for i := range ts {
		var err error
		if i%2 == 1 {
			ts[i], err = utimeNsec(a[i])
		} else {
			ts[i], err = num(a[i])
		}
		if err != nil {
			return err
		}
	}
	f, err := flags(fl)
	if err != nil {
		return err
	}
	spec := []unix.Timespec{{Sec: ts[0], Nsec: ts[1]}, {Sec: ts[2], Nsec: ts[3]}}
	if p == "" {
		return unix.UtimesNanoAt(dirfd, "", spec, f|unix.AT_EMPTY_PATH)
	}
	return unix.UtimesNanoAt(dirfd, p, spec, f)
}

func chownOp(f func(uid, gid int) error, a []string) error {
	u, err := num(a[0])
	if err != nil {
		return err
	}
	g, err := num(a[1])
	if err != nil {
		return err
	}
	return f(int(u), int(g))
}

func xattrValue(get func(buf []byte) (int, error)) (string, error) {
	n, err := get(nil)
	if err != nil {
		return "", err
	}
	buf := make([]byte, n+1)
	n, err = get(buf)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return emptyValue, nil
	}
	return string(buf[:n]), nil
}

func xattrList(list func(buf []byte) (int, error)) (string, error) {
	v, err := xattrValue(list)
	if err != nil || v == emptyValue {
		return v, err
	}
	names := strings.Split(strings.TrimSuffix(v, "\x00"), "\x00")
	slices.Sort(names)
	return strings.Join(names, ","), nil
}

func unixSocket(c *chain, p string, connect bool) (string, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	c.addFd(fd)
	if connect {
		return "", unix.Connect(fd, &unix.SockaddrUnix{Name: p})
	}
	return "", unix.Bind(fd, &unix.SockaddrUnix{Name: p})
}

// withFd runs f on the descriptor named by a[0].
func withFd(f func(c *chain, fd int, a []string) (string, error)) func(c *chain, a []string) (string, error) {
	return func(c *chain, a []string) (string, error) {
		fd, err := c.fd(a[0])
		if err != nil {
			return "", err
		}
		return f(c, fd, a[1:])
	}
}

// done adapts a call that returns only an error.
func done(err error) (string, error) { return "", err }

// pjdOps is the table of operations a script may use, by name; the
// arguments follow pjdfstest's fstest where it has the operation.
var pjdOps = map[string]pjdOp{
	"open": {-1, func(c *chain, a []string) (string, error) {
		if len(a) < 2 {
			return "", fmt.Errorf("open takes PATH FLAGS [MODE]")
		}
		return openOp(c, unix.AT_FDCWD, a[0], a[1], a[2:])
	}},
	"openat": {-1, withFd(func(c *chain, fd int, a []string) (string, error) {
		if len(a) < 2 {
			return "", fmt.Errorf("openat takes FD PATH FLAGS [MODE]")
		}
		return openOp(c, fd, a[0], a[1], a[2:])
	})},
	"create": {2, func(c *chain, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		fd, err := unix.Open(a[0], unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, m)
		if err == nil {
			unix.Close(fd)
		}
		return done(err)
	}},
	"close": {1, func(c *chain, a []string) (string, error) {
		i, err := strconv.Atoi(a[0])
		if err != nil || i < 0 || i >= len(c.fds) || c.fds[i] < 0 {
			return "", fmt.Errorf("no descriptor %q to close", a[0])
		}
		fd := c.fds[i]
		c.fds[i] = -1
		return done(unix.Close(fd))
	}},
	"unlink": {1, func(c *chain, a []string) (string, error) { return done(unix.Unlink(a[0])) }},
	"unlinkat": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		f, err := flags(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Unlinkat(fd, a[0], f))
	})},
	"mkdir": {2, func(c *chain, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Mkdir(a[0], m))
	}},
	"mkdirat": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Mkdirat(fd, a[0], m))
	})},
	"rmdir": {1, func(c *chain, a []string) (string, error) { return done(unix.Rmdir(a[0])) }},
	"link":  {2, func(c *chain, a []string) (string, error) { return done(unix.Link(a[0], a[1])) }},
	"linkat": {5, func(c *chain, a []string) (string, error) {
		fd1, err := c.fd(a[0])
		if err != nil {
			return "", err
		}
		fd2, err := c.fd(a[2])
		if err != nil {
			return "", err
		}
		f, err := flags(a[4])
		if err != nil {
			return "", err
		}
		return done(unix.Linkat(fd1, a[1], fd2, a[3], f))
	}},
	"symlink": {2, func(c *chain, a []string) (string, error) { return done(unix.Symlink(a[0], a[1])) }},
	"symlinkat": {3, func(c *chain, a []string) (string, error) {
		fd, err := c.fd(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Symlinkat(a[0], fd, a[2]))
	}},
	"rename": {2, func(c *chain, a []string) (string, error) { return done(unix.Rename(a[0], a[1])) }},
	"renameat2": {5, func(c *chain, a []string) (string, error) {
		fd1, err := c.fd(a[0])
		if err != nil {
			return "", err
		}
		fd2, err := c.fd(a[2])
		if err != nil {
			return "", err
		}
		f, err := flags(a[4])
		if err != nil {
			return "", err
		}
		return done(unix.Renameat2(fd1, a[1], fd2, a[3], uint(f)))
	}},
	"mkfifo": {2, func(c *chain, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Mkfifo(a[0], m))
	}},
	"mknod":   {5, func(c *chain, a []string) (string, error) { return done(mknodOp(unix.AT_FDCWD, a)) }},
	"mknodat": {6, withFd(func(c *chain, fd int, a []string) (string, error) { return done(mknodOp(fd, a)) })},
	"bind":    {1, func(c *chain, a []string) (string, error) { return unixSocket(c, a[0], false) }},
	"connect": {1, func(c *chain, a []string) (string, error) { return unixSocket(c, a[0], true) }},
	"chmod": {2, func(c *chain, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Chmod(a[0], m))
	}},
	"fchmod": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		m, err := mode(a[0])
		if err != nil {
			return "", err
		}
		return done(unix.Fchmod(fd, m))
	})},
	"fchmodat": {4, withFd(func(c *chain, fd int, a []string) (string, error) {
		m, err := mode(a[1])
		if err != nil {
			return "", err
		}
		f, err := flags(a[2])
		if err != nil {
			return "", err
		}
		return done(unix.Fchmodat(fd, a[0], m, f))
	})},
	"chown": {3, func(c *chain, a []string) (string, error) {
		return done(chownOp(func(u, g int) error { return unix.Chown(a[0], u, g) }, a[1:]))
	}},
	"lchown": {3, func(c *chain, a []string) (string, error) {
		return done(chownOp(func(u, g int) error { return unix.Lchown(a[0], u, g) }, a[1:]))
	}},
	"fchown": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		return done(chownOp(func(u, g int) error { return unix.Fchown(fd, u, g) }, a))
	})},
	"fchownat": {5, withFd(func(c *chain, fd int, a []string) (string, error) {
		f, err := flags(a[3])
		if err != nil {
			return "", err
		}
		return done(chownOp(func(u, g int) error { return unix.Fchownat(fd, a[0], u, g, f) }, a[1:3]))
	})},
	"truncate": {2, func(c *chain, a []string) (string, error) {
		n, err := num(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Truncate(a[0], n))
	}},
	"ftruncate": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		n, err := num(a[0])
		if err != nil {
			return "", err
		}
		return done(unix.Ftruncate(fd, n))
	})},
	"stat":  {2, statOp(func(c *chain, a []string, st *unix.Stat_t) error { return unix.Stat(a[0], st) })},
	"lstat": {2, statOp(func(c *chain, a []string, st *unix.Stat_t) error { return unix.Lstat(a[0], st) })},
	"fstat": {2, statOp(func(c *chain, a []string, st *unix.Stat_t) error {
		fd, err := c.fd(a[0])
		if err != nil {
			return err
		}
		return unix.Fstat(fd, st)
	})},
	"fstatat": {4, func(c *chain, a []string) (string, error) {
		fd, err := c.fd(a[0])
		if err != nil {
			return "", err
		}
		f, err := flags(a[3])
		if err != nil {
			return "", err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, a[1], &st, f); err != nil {
			return "", err
		}
		return statFields(&st, a[2])
	}},
	"readlink": {1, func(c *chain, a []string) (string, error) {
		buf := make([]byte, 8192)
		n, err := unix.Readlink(a[0], buf)
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}},
	"utimensat": {7, withFd(func(c *chain, fd int, a []string) (string, error) {
		return done(utimensOp(c, fd, a[0], a[1:5], a[5]))
	})},
	"futimens": {5, withFd(func(c *chain, fd int, a []string) (string, error) {
		return done(utimensOp(c, fd, "", a[0:4], "0"))
	})},
	"posix_fallocate": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		off, err := num(a[0])
		if err != nil {
			return "", err
		}
		n, err := num(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Fallocate(fd, 0, off, n))
	})},
	"fallocate": {4, withFd(func(c *chain, fd int, a []string) (string, error) {
		m, err := flags(a[0])
		if err != nil {
			return "", err
		}
		off, err := num(a[1])
		if err != nil {
			return "", err
		}
		n, err := num(a[2])
		if err != nil {
			return "", err
		}
		return done(unix.Fallocate(fd, uint32(m), off, n))
	})},
	"write": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		n, err := unix.Write(fd, []byte(a[0]))
		return fmt.Sprint(n), err
	})},
	"pwrite": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		off, err := num(a[1])
		if err != nil {
			return "", err
		}
		n, err := unix.Pwrite(fd, []byte(a[0]), off)
		return fmt.Sprint(n), err
	})},
	"read": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		n, err := num(a[0])
		if err != nil {
			return "", err
		}
		buf := make([]byte, n)
		got, err := unix.Read(fd, buf)
		if err != nil {
			return "", err
		}
		if got == 0 {
			return emptyValue, nil
		}
		return string(buf[:got]), nil
	})},
	"pread": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		n, err := num(a[0])
		if err != nil {
			return "", err
		}
		off, err := num(a[1])
		if err != nil {
			return "", err
		}
		buf := make([]byte, n)
		got, err := unix.Pread(fd, buf, off)
		if err != nil {
			return "", err
		}
		if got == 0 {
			return emptyValue, nil
		}
		return strings.ReplaceAll(string(buf[:got]), "\x00", "."), nil
	})},
	"lseek": {3, withFd(func(c *chain, fd int, a []string) (string, error) {
		off, err := num(a[0])
		if err != nil {
			return "", err
		}
		w, err := flags(a[1])
		if err != nil {
			return "", err
		}
		pos, err := unix.Seek(fd, off, w)
		return fmt.Sprint(pos), err
	})},
	"fsync":     {1, withFd(func(c *chain, fd int, a []string) (string, error) { return done(unix.Fsync(fd)) })},
	"fdatasync": {1, withFd(func(c *chain, fd int, a []string) (string, error) { return done(unix.Fdatasync(fd)) })},
	"syncfs":    {1, withFd(func(c *chain, fd int, a []string) (string, error) { return done(unix.Syncfs(fd)) })},
	"flock": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		how, err := flags(a[0])
		if err != nil {
			return "", err
		}
		return done(unix.Flock(fd, how))
	})},
	"access": {2, func(c *chain, a []string) (string, error) {
		m, err := flags(a[1])
		if err != nil {
			return "", err
		}
		return done(unix.Access(a[0], uint32(m)))
	}},
	"faccessat": {4, withFd(func(c *chain, fd int, a []string) (string, error) {
		m, err := flags(a[1])
		if err != nil {
			return "", err
		}
		f, err := flags(a[2])
		if err != nil {
			return "", err
		}
		return done(unix.Faccessat2(fd, a[0], uint32(m), f))
	})},
	"setxattr": {4, func(c *chain, a []string) (string, error) {
		f, err := flags(a[3])
		if err != nil {
			return "", err
		}
		return done(unix.Setxattr(a[0], a[1], []byte(a[2]), f))
	}},
	"lsetxattr": {4, func(c *chain, a []string) (string, error) {
		f, err := flags(a[3])
		if err != nil {
			return "", err
		}
		return done(unix.Lsetxattr(a[0], a[1], []byte(a[2]), f))
	}},
	"fsetxattr": {4, withFd(func(c *chain, fd int, a []string) (string, error) {
		f, err := flags(a[2])
		if err != nil {
			return "", err
		}
		return done(unix.Fsetxattr(fd, a[0], []byte(a[1]), f))
	})},
	"getxattr": {2, func(c *chain, a []string) (string, error) {
		return xattrValue(func(b []byte) (int, error) { return unix.Getxattr(a[0], a[1], b) })
	}},
	"lgetxattr": {2, func(c *chain, a []string) (string, error) {
		return xattrValue(func(b []byte) (int, error) { return unix.Lgetxattr(a[0], a[1], b) })
	}},
	"fgetxattr": {2, withFd(func(c *chain, fd int, a []string) (string, error) {
		return xattrValue(func(b []byte) (int, error) { return unix.Fgetxattr(fd, a[0], b) })
	})},
	// getxattrn reads into a buffer of N bytes: ERANGE if the value is longer.
	"getxattrn": {3, func(c *chain, a []string) (string, error) {
		n, err := num(a[2])
		if err != nil {
			return "", err
		}
		buf := make([]byte, n)
		got, err := unix.Getxattr(a[0], a[1], buf)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(got), nil
	}},
	"xattrsize": {2, func(c *chain, a []string) (string, error) {
		n, err := unix.Getxattr(a[0], a[1], nil)
		return fmt.Sprint(n), err
	}},
	"listxattr": {1, func(c *chain, a []string) (string, error) {
		return xattrList(func(b []byte) (int, error) { return unix.Listxattr(a[0], b) })
	}},
	"llistxattr": {1, func(c *chain, a []string) (string, error) {
		return xattrList(func(b []byte) (int, error) { return unix.Llistxattr(a[0], b) })
	}},
	// listxattrn lists into a buffer of N bytes: ERANGE if the list is longer.
	"listxattrn": {2, func(c *chain, a []string) (string, error) {
		n, err := num(a[1])
		if err != nil {
			return "", err
		}
		got, err := unix.Listxattr(a[0], make([]byte, n))
		return fmt.Sprint(got), err
	}},
	"removexattr":  {2, func(c *chain, a []string) (string, error) { return done(unix.Removexattr(a[0], a[1])) }},
	"lremovexattr": {2, func(c *chain, a []string) (string, error) { return done(unix.Lremovexattr(a[0], a[1])) }},
	// readdir lists a directory's names, sorted, without "." and "..".
	"readdir": {1, func(c *chain, a []string) (string, error) {
		names, err := readdirNames(a[0])
		if err != nil || len(names) == 0 {
			return emptyValue, err
		}
		return strings.Join(names, ","), nil
	}},
	// setfacl sets a POSIX ACL (access or default) from its short text
	// form; getfacl returns it in that form.
	"setfacl": {3, setfacl},
	"getfacl": {2, getfacl},
	// mkdirall makes a path's directories (mode 0755), like mkdir -p.
	"mkdirall": {1, func(c *chain, a []string) (string, error) {
		p := ""
		for _, el := range strings.Split(a[0], "/") {
			p = path.Join(p, el)
			if err := unix.Mkdir(p, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return "", err
			}
		}
		return "", nil
	}},
	// rmtree removes a tree, like rm -rf.
	"rmtree": {1, func(c *chain, a []string) (string, error) { return done(os.RemoveAll(a[0])) }},
	// mkfile makes a file of SIZE bytes ("x" repeated), mode 0644.
	"mkfile": {2, func(c *chain, a []string) (string, error) {
		n, err := num(a[1])
		if err != nil {
			return "", err
		}
		return done(os.WriteFile(a[0], []byte(strings.Repeat("x", int(n))), 0o644))
	}},
}

// readdirNames lists a directory with getdents, so that nothing but the
// calling thread's working directory is involved.
func readdirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names, nil
}
