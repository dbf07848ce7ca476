package fs

import (
	"fmt"
	"testing"
)

func TestDirBatch(t *testing.T) {
	for _, tc := range []struct {
		size uint32
		plus bool
		want int
	}{
		{4096, true, 4096/minDirPlusEntrySize + 1},
		{4096, false, 4096/minDirEntrySize + 1},
		{0, true, 8},
		{1 << 20, false, readDirBatch},
	} {
		t.Run(fmt.Sprintf("%d-%v", tc.size, tc.plus), func(t *testing.T) {
			if got := dirBatch(tc.size, tc.plus); got != tc.want {
				t.Errorf("dirBatch(%d, %v) = %d, want %d", tc.size, tc.plus, got, tc.want)
			}
		})
	}
}
