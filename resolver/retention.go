package resolver

import (
	"fmt"
	"sort"
	"time"
)

// snapInfo is what the retention policy looks at in a snapshot.
type snapInfo struct {
	ID   string
	Time time.Time
}

// keepSnapshots applies the keep-last/daily/weekly rules the way restic's
// forget does: a snapshot is kept if any rule keeps it; keep-daily D keeps
// the newest snapshot of each of the D newest days that have one (weekly:
// ISO weeks). With no rule set every snapshot is kept.
func keepSnapshots(snaps []snapInfo, last, daily, weekly int) map[string]bool {
	keep := map[string]bool{}
	sorted := append([]snapInfo(nil), snaps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })
	if last <= 0 && daily <= 0 && weekly <= 0 {
		for _, s := range sorted {
			keep[s.ID] = true
		}
		return keep
	}
	for i, s := range sorted {
		if i < last {
			keep[s.ID] = true
		}
	}
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for _, s := range sorted {
			if len(seen) >= n {
				return
			}
			k := key(s.Time.UTC())
			if !seen[k] {
				seen[k] = true
				keep[s.ID] = true
			}
		}
	}
	bucket(daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	return keep
}
