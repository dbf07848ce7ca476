package fs

import (
	"testing"

	"github.com/syncfs/syncfs/fstests"
)

// TestMountGroups runs the pjdfstest-style groups through a mount, as
// several users (the mount has allow_other, as `syncfs mount --allow-other`
// makes it), and logs a passed/failed line per group.
func TestMountGroups(t *testing.T) {
	mnt, idx := mountTest(t)
	fstests.RunGroups(t, fstests.Subdirs(mnt))
	problems, err := idx.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("index integrity after the groups: %v %v", problems, err)
	}
}

// TestMountPosixtest runs go-fuse's posixtest cases through a mount.
func TestMountPosixtest(t *testing.T) {
	mnt, _ := mountTest(t)
	fstests.RunPosixtest(t, fstests.Subdirs(mnt))
}

// TestMountApps runs real tools on the mount: git, tar and diff, sqlite3
// with concurrent writers, rsync there and back, and a Go build whose
// cache is on the mount.
func TestMountApps(t *testing.T) {
	mnt, idx := mountTest(t)
	fstests.RunApps(t, fstests.Subdirs(mnt))
	problems, err := idx.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("index integrity after the applications: %v %v", problems, err)
	}
}
