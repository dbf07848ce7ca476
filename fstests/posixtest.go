package fstests

import (
	"maps"
	"slices"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixtestSkipped names go-fuse's posixtest cases that cannot pass on the
// kernel's own file systems, and why; every other case runs.
var posixtestSkipped = map[string]string{
	"FcntlFlockLocksFile": "takes two POSIX locks in one process and expects them to conflict, which the kernel never does (go-fuse skips it too); Locks checks conflicts between two lock owners",
	"OpenSymlinkRace":     "tells a followed symlink by the device number, which on a local directory is the device of /etc/passwd as well (go-fuse skips it too)",
}

// RunPosixtest runs go-fuse's posixtest cases (github.com/hanwen/go-fuse/v2/posixtest),
// each as a subtest named after it in a directory of its own from dir, in
// sorted order, except the ones posixtestSkipped names.
func RunPosixtest(t *testing.T, dir func(t *testing.T) string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(posixtest.All)) {
		if _, skip := posixtestSkipped[name]; skip {
			continue
		}
		check := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			check(t, dir(t))
		})
	}
}
