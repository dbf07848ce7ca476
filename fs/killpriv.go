package fs

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/syncfs/syncfs/index"
)

// Clearing set-user-ID and set-group-ID when a file changes.
//
// The mount asks for FUSE_HANDLE_KILLPRIV_V2: the kernel then flags the
// writes, truncates, O_TRUNC opens and chowns that must clear the bits, and
// fs clears them, instead of the kernel asking for security.capability
// before every write (a GETXATTR round trip per write) and sending a SETATTR
// of the mode. The rule is the kernel's own (setattr_should_drop_suidgid):
// set-user-ID always goes; set-group-ID goes when group execute is set, or
// when the caller is neither in the file's group nor privileged. A caller
// with uid 0 counts as privileged (CAP_FSETID).

// killedMode returns mode without the set-ID bits that a change by caller
// must clear, for a non-directory owned by group gid.
func killedMode(mode, gid uint32, caller fuse.Caller) uint32 {
	m := mode &^ syscall.S_ISUID
	if mode&syscall.S_ISGID != 0 {
		if mode&syscall.S_IXGRP != 0 || (caller.Uid != 0 && !inGroup(caller, gid)) {
			m &^= syscall.S_ISGID
		}
	}
	return m
}

// inGroup reports whether caller's process is in group gid: its primary
// group, or one of its supplementary groups (from /proc, as the kernel has
// no other way to tell a FUSE server).
func inGroup(caller fuse.Caller, gid uint32) bool {
	if caller.Gid == gid {
		return true
	}
	groups, err := supplementaryGroups(caller.Pid)
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}

// supplementaryGroups reads the Groups line of /proc/PID/status.
func supplementaryGroups(pid uint32) ([]uint32, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, field := range strings.Fields(rest) {
			g, err := strconv.ParseUint(field, 10, 32)
			if err != nil {
				return nil, err
			}
			out = append(out, uint32(g))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no Groups line for pid %d", pid)
}

// killSuidgid clears the set-ID bits of ino that a change by caller must
// clear; it costs one index read when there are none.
func (fsys *FS) killSuidgid(ino uint64, caller fuse.Caller) error {
	a, err := fsys.idx.GetAttr(ino)
	if err != nil || a.IsDir() || a.Mode&(syscall.S_ISUID|syscall.S_ISGID) == 0 {
		return err
	}
	mode := killedMode(a.Mode&0o7777, a.GID, caller)
	if mode == a.Mode&0o7777 {
		return nil
	}
	_, err = fsys.idx.SetAttr(ino, index.SetAttrIn{Mode: &mode})
	return err
}
