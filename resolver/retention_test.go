package resolver

import (
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestKeepSnapshots(t *testing.T) {
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // a Monday
	var snaps []snapInfo
	// Two snapshots a day for 20 days, the newest first in ID order.
	for d := 0; d < 20; d++ {
		for h := 0; h < 2; h++ {
			at := base.Add(-time.Duration(d)*24*time.Hour - time.Duration(h)*6*time.Hour)
			snaps = append(snaps, snapInfo{ID: at.Format("0102-15"), Time: at})
		}
	}
	ids := func(m map[string]bool) []string {
		var out []string
		for id := range m {
			out = append(out, id)
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		name                string
		last, daily, weekly int
		want                []string
	}{
		{"none keeps all", 0, 0, 0, nil},
		{"last 3", 3, 0, 0, []string{"1122-12", "1123-06", "1123-12"}},
		{"daily 2", 0, 2, 0, []string{"1122-12", "1123-12"}},
		{"weekly 2", 0, 0, 2, []string{"1122-12", "1123-12"}},
		{"weekly 3", 0, 0, 3, []string{"1115-12", "1122-12", "1123-12"}},
		{"last 1 and daily 2", 1, 2, 0, []string{"1122-12", "1123-12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(keepSnapshots(snaps, tc.last, tc.daily, tc.weekly))
			if tc.want == nil {
				if len(got) != len(snaps) {
					t.Fatalf("kept %d of %d", len(got), len(snaps))
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
		})
	}
}
