// Package fstests is syncfs's POSIX conformance suite: a table of named
// checks, in the manner of pjdfstest and go-fuse's posixtest, each of which
// takes a directory and exercises the file system that holds it.
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
// The suite expects what ext4 gives root or an ordinary user alike: it does
// not test permission denials, which root bypasses.
package fstests
