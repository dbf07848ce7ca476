// Package fstests is syncfs's POSIX conformance suite: a table of named
// checks, in the manner of pjdfstest and go-fuse's posixtest, each of which
// takes a directory and exercises the file system that holds it; go-fuse's
// posixtest cases themselves; pjdfstest-style groups of system call cases
// run as several users; and application checks (git, tar, sqlite3, rsync,
// the Go toolchain).
//
// # Terms
//
// A check is a func(t *testing.T, dir string) in [All]. It is given a fresh,
// empty directory, works only inside it, closes every descriptor it opens and
// may leave files behind (the caller removes the directory). A check never
// depends on another check having run, so any subset runs in any order.
//
// The oracle is ext4 on Linux: every errno and value a check expects is the
// one ext4 (and tmpfs, which agrees on all of them) gives, and local_test.go
// proves it by running the whole table on t.TempDir() in the same test run as
// any mount. When a check and a mount disagree, the mount is wrong unless the
// check also fails on the local file system.
//
// A dir function, func(t *testing.T) string, hands each check its directory.
// [RunAll] calls it once per check inside that check's subtest, so helpers
// such as t.TempDir and t.Cleanup bind to the check. [Subdirs] makes one under
// a given root.
//
// # Running the suite against a mount
//
// Mount the file system in the test (unmounting it in a t.Cleanup that is
// registered before the suite runs, so that it runs after every check's own
// cleanup), then hand RunAll a dir function that makes a fresh directory per
// check under the mount point:
//
//	func TestMountPOSIX(t *testing.T) {
//		mnt := mountForTest(t) // mounts on t.TempDir(), unmounts in t.Cleanup
//		fstests.RunAll(t, fstests.Subdirs(mnt))
//	}
//
// Subdirs removes each check's directory when the check ends and fails the
// check if that removal fails, so deleting a tree through the mount is tested
// too. To run one check: go test -run 'TestMountPOSIX/HardLinks'.
//
// The checks make plain system calls, with no FUSE knowledge, so they run
// just as well against a mount served by another process (a syncfs daemon
// started by the test), which also avoids the deadlocks a same-process FUSE
// server can hit when the Go runtime and the kernel wait on each other.
// Checks that use randomness log their seed when they fail; set
// FSTESTS_SEED to that number to replay the same operations.
//
// # Groups
//
// A [Group] gathers the cases for one system call, as pjdfstest's test
// directories do; its [Script]s are its test files. A script is a table of
// steps, one per line: the system call and its arguments, the user and
// groups to run it as, and the result it must give, an errno name or a
// value (see Script for the syntax). [RunGroups] runs [Groups] and logs a
// passed/failed line per group; a group's expected values are ext4's, and
// TestGroupsLocal proves them on t.TempDir().
//
// Steps run on threads of the test process: each step gets a fresh OS
// thread whose working directory is the script's directory, whose umask is
// its own and whose credentials are the step's user and groups. Linux keeps
// all three per thread once unshared, so no child process is needed, and
// the suite runs unchanged from any test binary against any directory, on
// a mount that allows other users (allow_other). It needs root.
//
// # Running inside a FUSE server's process
//
// A check never touches a mapping of a file without first faulting its
// pages in with madvise, and never lets the runtime start a program whose
// file or working directory is on the directory under test (a shell
// outside does that): a page fault in Go code, or a vfork child looking up
// its program, holds a thread the collector must stop, while the server
// that would let it go waits for the collector.
//
// # The whole suite against a directory
//
// TestDir runs everything against the directory FSTESTS_DIR names (the
// applications too with FSTESTS_APPS=1), for example a daemon's mount:
//
//	syncfs mount --store /tmp/store --allow-other /tmp/mnt
//	FSTESTS_DIR=/tmp/mnt go test ./fstests -run TestDir -v
package fstests
