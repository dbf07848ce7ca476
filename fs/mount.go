package fs

import (
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions are the user-facing mount settings.
type MountOptions struct {
	FsName     string // shown as the "Filesystem" column of df
	AllowOther bool
	Suid       bool // allow setuid binaries (default nosuid)
	Dev        bool // allow device nodes (default nodev)
	Debug      bool
}

// Mount mounts fsys at mountpoint and serves it in the background. It
// returns once the kernel has the mount; Unmount (or the returned server's
// Unmount) ends it.
func Mount(mountpoint string, fsys *FS, mo MountOptions) (*fuse.Server, error) {
	var flags uintptr = syscall.MS_NOSUID | syscall.MS_NODEV
	if mo.Suid {
		flags &^= syscall.MS_NOSUID
	}
	if mo.Dev {
		flags &^= syscall.MS_NODEV
	}
	if flags == 0 {
		flags = syscall.MS_MGC_VAL
	}
	opts := &fuse.MountOptions{
		FsName:           mo.FsName,
		Name:             "syncfs",
		AllowOther:       mo.AllowOther,
		Options:          []string{"default_permissions"},
		MaxWrite:         1 << 20,
		MaxBackground:    64,
		DirectMount:      true,
		DirectMountFlags: flags,
		Debug:            mo.Debug,
		// Locks are handled by the kernel on this host (see the package doc).
		EnableLocks: false,
		// POSIX ACLs: the kernel enforces them and hands the umask to the
		// index (DONT_MASK), which applies it or the parent's default ACL;
		// SETXATTR_EXT tells setting an ACL when it must clear set-group-ID.
		EnableAcl: true,
		// HANDLE_KILLPRIV_V2: fs clears set-ID bits (killpriv.go), and the
		// kernel stops asking for security.capability before each write.
		ExtraCapabilities: fuse.CAP_DONT_MASK | fuse.CAP_SETXATTR_EXT | fuse.CAP_HANDLE_KILLPRIV_V2,
	}
	srv, err := fuse.NewServer(fsys, mountpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		srv.Unmount()
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	return srv, nil
}
