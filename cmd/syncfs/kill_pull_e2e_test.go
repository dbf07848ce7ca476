package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncfs/syncfs/internal/killpoint"
)

// TestKillWhilePulling kills a second device's daemon after it applied the
// second of another device's batches, remounts it, and checks that it ends
// with every file (none lost, none applied twice) and a clean fsck.
func TestKillWhilePulling(t *testing.T) {
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "")
	// b pulls while mounted (its first pull, before mounting, finds
	// nothing): the second batch it applies kills it.
	mnt, cacheDir := newMountDirs(t)
	b := mountWithEnv(t, st, mnt, cacheDir, []string{killpoint.EnvVar + "=" + killpoint.PointPullApplied + ":2"}, "--poll", "200ms")
	pid := daemonPID(cacheDir)
	want := map[string][]byte{}
	for i := range 4 {
		name := fmt.Sprintf("batch%d.bin", i)
		want[name] = content(uint64(40+i), int64(10000*(i+1)))
		writeFiles(t, a, map[string][]byte{name: want[name]})
		mustSyncfs(t, nil, "sync", a.dir) // one batch each
	}
	if pid == 0 {
		t.Fatal("no daemon process found for the mount")
	}
	awaitDeath(t, b, pid, 30*time.Second)
	if log := readLog(cacheDir); !strings.Contains(log, "killpoint: "+killpoint.PointPullApplied) {
		t.Fatalf("the daemon died without reaching the point:\n%s", log)
	}
	b = mountAt(t, st, mnt, cacheDir)
	mustSyncfs(t, nil, "sync", b.dir)
	checkFsck(t, b, nil)
	checkFiles(t, b, want)
	b.unmount(t)
	a.unmount(t)
}
