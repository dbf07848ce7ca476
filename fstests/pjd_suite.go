package fstests

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Groups returns the pjdfstest-style suite, one group per system call (or
// family), in the order RunGroups runs them.
func Groups() []Group {
	return []Group{
		chmodGroup, chownGroup, openGroup, linkGroup, unlinkGroup, symlinkGroup,
		accessGroup, mkdirGroup, rmdirGroup, mkfifoGroup, mknodGroup, renameGroup,
		truncateGroup, utimensatGroup, xattrGroup, aclsGroup, lseekGroup,
	}
}

// RunGroups runs every group of Groups as a subtest of t named after it,
// each in a directory of its own from dir, and logs one summary line of
// passed and failed assertions per group, then the totals. It returns the
// summaries, in order.
func RunGroups(t *testing.T, dir func(t *testing.T) string) []GroupSummary {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Errorf("the pjdfstest-style groups need root (they switch users per step); euid is %d", os.Geteuid())
		return nil
	}
	var sums []GroupSummary
	for _, g := range Groups() {
		t.Run(g.Name, func(t *testing.T) {
			sums = append(sums, RunGroup(t, dir(t), g))
		})
	}
	t.Log(FormatSummaries(sums))
	return sums
}

// FormatSummaries formats one line per group, "chmod: 57 passed, 0
// failed", and a total line.
func FormatSummaries(sums []GroupSummary) string {
	var b strings.Builder
	var p, f int
	for _, s := range sums {
		fmt.Fprintf(&b, "%-12s %4d passed, %d failed", s.Group+":", s.Passed, s.Failed)
		if len(s.FailedScripts) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(s.FailedScripts, "; "))
		}
		b.WriteByte('\n')
		p += s.Passed
		f += s.Failed
	}
	fmt.Fprintf(&b, "%-12s %4d passed, %d failed", "total:", p, f)
	return b.String()
}
