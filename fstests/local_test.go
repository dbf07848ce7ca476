package fstests

import "testing"

// TestLocal runs every check on the kernel's own file system (t.TempDir,
// ext4 or tmpfs on the machines we use), which proves the checks' expected
// values before any mount is held to them.
func TestLocal(t *testing.T) {
	RunAll(t, func(t *testing.T) string { return t.TempDir() })
}

// TestSubdirs runs every check through Subdirs, the helper mount tests use,
// so that its per-check directory and its cleanup are tested too.
func TestSubdirs(t *testing.T) {
	RunAll(t, Subdirs(t.TempDir()))
}
