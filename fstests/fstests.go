package fstests

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// All maps each check's name to the check. It is a fixed table, not a
// registry: callers read it and never change it, and a new check is a new
// line here.
var All = map[string]func(t *testing.T, dir string){
	"AppendWrite":          AppendWrite,
	"AtimeRelatime":        AtimeRelatime,
	"DirectIO":             DirectIO,
	"ExecTextBusy":         ExecTextBusy,
	"Locks":                Locks,
	"MmapShared":           MmapShared,
	"ReaddirSeek":          ReaddirSeek,
	"RmdirMountpoint":      RmdirMountpoint,
	"SparseLarge":          SparseLarge,
	"Statfs":               Statfs,
	"SyncCalls":            SyncCalls,
	"ChmodModes":           ChmodModes,
	"CreateReadWrite":      CreateReadWrite,
	"HardLinks":            HardLinks,
	"LargeFileRoundTrip":   LargeFileRoundTrip,
	"ManyFilesReaddir":     ManyFilesReaddir,
	"MkdirReaddir":         MkdirReaddir,
	"MtimeUpdates":         MtimeUpdates,
	"NameTooLong":          NameTooLong,
	"OpenErrors":           OpenErrors,
	"OpenExcl":             OpenExcl,
	"RenameAcrossDirs":     RenameAcrossDirs,
	"RenameDirOverDir":     RenameDirOverDir,
	"RenameErrors":         RenameErrors,
	"RenameFileOverFile":   RenameFileOverFile,
	"Rmdir":                Rmdir,
	"StatLinkCounts":       StatLinkCounts,
	"SymlinkReadlink":      SymlinkReadlink,
	"TruncateGrow":         TruncateGrow,
	"TruncateShrink":       TruncateShrink,
	"Unlink":               Unlink,
	"UnlinkedOpenFile":     UnlinkedOpenFile,
	"UtimesNano":           UtimesNano,
	"WriteRandomOffsets":   WriteRandomOffsets,
	"WriteVisibleAcrossFD": WriteVisibleAcrossFD,
}

// Names returns the names of the checks in All, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(All))
}

// RunAll runs every check in All as a subtest of t named after the check, in
// sorted order. dir is called inside each subtest and must return a fresh,
// empty directory on the file system under test.
func RunAll(t *testing.T, dir func(t *testing.T) string) {
	t.Helper()
	for _, name := range Names() {
		check := All[name]
		t.Run(name, func(t *testing.T) {
			check(t, dir(t))
		})
	}
}

// Subdirs returns a dir function for RunAll that makes a fresh directory,
// named after the running test, under root (a mount point, say). The
// directory and everything in it are removed when the check ends, and a
// failed removal fails the check: on a mount, deleting a tree is part of
// what is tested.
func Subdirs(root string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		dir, err := os.MkdirTemp(root, safeName(t.Name())+"-")
		if err != nil {
			t.Fatalf("make check directory: %v", err)
		}
		t.Cleanup(func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("remove check directory: %v", err)
			}
		})
		return dir
	}
}

// safeName turns a test name ("TestMount/HardLinks") into one path element
// short enough to leave room for the names the checks create inside it.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, name)
	const maxLen = 64
	if len(name) > maxLen {
		name = name[len(name)-maxLen:]
	}
	return name
}
