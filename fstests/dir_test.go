package fstests

import (
	"os"
	"testing"
)

// TestDir runs the whole suite (the named checks, go-fuse's posixtest
// cases and the pjdfstest-style groups, and with FSTESTS_APPS=1 the
// application checks) against the directory FSTESTS_DIR names: a syncfs
// mount made by hand, or any other file system. Without FSTESTS_DIR there
// is nothing to test, and it says so.
func TestDir(t *testing.T) {
	root := os.Getenv("FSTESTS_DIR")
	if root == "" {
		t.Skip("FSTESTS_DIR is not set")
	}
	t.Run("checks", func(t *testing.T) { RunAll(t, Subdirs(root)) })
	t.Run("posixtest", func(t *testing.T) { RunPosixtest(t, Subdirs(root)) })
	t.Run("groups", func(t *testing.T) { RunGroups(t, Subdirs(root)) })
	if os.Getenv("FSTESTS_APPS") != "" {
		t.Run("apps", func(t *testing.T) { RunApps(t, Subdirs(root)) })
	}
}
