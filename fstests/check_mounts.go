package fstests

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RmdirMountpoint checks the errors for a directory something is mounted
// on: rmdir and rename give EBUSY, unlink EISDIR, and once it is unmounted
// rmdir works. It mounts a small tmpfs, so it needs root.
func RmdirMountpoint(t *testing.T, dir string) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	d := join(dir, "mnt")
	mustMkdir(t, d)
	if err := ignoringEINTR(func() error { return unix.Mount("fstests", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k") }); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	mounted := true
	umount := func() {
		if mounted {
			if err := ignoringEINTR(func() error { return unix.Unmount(d, 0) }); err != nil {
				t.Errorf("unmount: %v", err)
				_ = unix.Unmount(d, unix.MNT_DETACH)
			}
			mounted = false
		}
	}
	t.Cleanup(umount)
	expectErrno(t, "rmdir a mount point", rmdir(d), unix.EBUSY)
	expectErrno(t, "rename a mount point", rename(d, join(dir, "other")), unix.EBUSY)
	mustMkdir(t, join(dir, "target"))
	expectErrno(t, "rename over a mount point", rename(join(dir, "target"), d), unix.EBUSY)
	expectErrno(t, "unlink a mount point", unlink(d), unix.EISDIR)
	umount()
	if err := rmdir(d); err != nil {
		t.Errorf("rmdir after the unmount: %v", err)
	}
}
