package fstests

import "testing"

// TestGroupsLocal runs the pjdfstest-style groups on the kernel's own file
// system: the oracle every mount is held to.
func TestGroupsLocal(t *testing.T) {
	RunGroups(t, func(t *testing.T) string { return t.TempDir() })
}

// TestPosixtestLocal runs go-fuse's posixtest cases on the kernel's own
// file system.
func TestPosixtestLocal(t *testing.T) {
	RunPosixtest(t, func(t *testing.T) string { return t.TempDir() })
}

// TestAppsLocal runs the application checks on the kernel's own file
// system.
func TestAppsLocal(t *testing.T) {
	RunApps(t, func(t *testing.T) string { return t.TempDir() })
}
