package index

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"
)

// TestCheckpointConvergence checks that a device that starts from a
// checkpoint and then applies the batches after it ends with the same
// tree as one that applied every batch: random runs of the convergence
// simulation, a checkpoint taken by an observer at a random step.
func TestCheckpointConvergence(t *testing.T) {
	first, n := convergeSeeds(t)
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			problem := runCheckpointConvergence(t, seed)
			if why, ok := knownCheckpointDivergent[seed]; ok && os.Getenv("SYNCFS_CONVERGE_SEED") == "" {
				if problem == "" {
					t.Fatalf("seed %d converges now: remove it from knownCheckpointDivergent", seed)
				}
				t.Skipf("known divergence (%s); replay with SYNCFS_CONVERGE_SEED=%d", why, seed)
			}
			if problem != "" {
				t.Fatalf("seed %d (replay with SYNCFS_CONVERGE_SEED=%d): %s", seed, seed, problem)
			}
		})
	}
}

// knownCheckpointDivergent lists seeds where the checkpoint does not
// reproduce its source. Seed 88's source holds one file under two conflict
// names, both entries relinked with empty vectors (the "relinked entries"
// class of TestRandomConvergence's known divergences); applying the
// checkpoint links it once.
var knownCheckpointDivergent = map[int64]string{
	88:  "one file relinked under two conflict names in the source",
	212: "two conflict copies of one version with different IDs; which takes the plain conflict name depends on order",
}

func runCheckpointConvergence(t *testing.T, seed int64) string {
	rng := rand.New(rand.NewSource(seed))
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	names := []string{"aaaa", "bbbb", "cccc"}[:2+rng.Intn(2)]
	all := newSimSeeded(t, clock, seed, append(names, "obsv", "boot", "full")...)
	devs, obs, boot, full := all[:len(names)], all[len(names)], all[len(names)+1], all[len(names)+2]
	m := &simModel{written: map[string]string{}, retired: map[string]bool{}}
	steps := 30 + rng.Intn(40)
	cpAt := rng.Intn(steps)
	for i := 0; i < steps; i++ {
		if i == cpAt {
			for _, d := range devs {
				obs.pull(d, -1)
			}
			cp, err := obs.db.ReadCheckpoint(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := boot.db.ApplyCheckpoint(cp); err != nil {
				t.Fatal(err)
			}
			// Applying it twice changes nothing.
			if err := boot.db.ApplyCheckpoint(cp); err != nil {
				t.Fatal(err)
			}
			if a, b := dumpTree(obs.tree()), dumpTree(boot.tree()); a != b {
				return fmt.Sprintf("the checkpoint applied differs from its source:\nsource:\n%s\napplied:\n%s", a, b)
			}
		}
		clock.advance(time.Duration(rng.Intn(3000)) * time.Millisecond)
		d := devs[rng.Intn(len(devs))]
		switch r := rng.Intn(10); {
		case r < 6:
			randomOp(t, rng, d, m)
		case r < 8:
			d.upload()
		default:
			if o := devs[rng.Intn(len(devs))]; o != d {
				d.pull(o, 1+rng.Intn(3))
			}
		}
	}
	settle(t, devs)
	for _, d := range devs {
		boot.pull(d, -1)
		obs.pull(d, -1)
		full.pull(d, -1)
	}
	// The observer applied the same batches as the checkpoint holds, in
	// the same order, and then the same batches as boot: the trees must be
	// equal. (A full replay in another order may differ where applying is
	// still order-dependent: the known divergences of TestRandomConvergence.)
	if a, b := dumpTree(obs.tree()), dumpTree(boot.tree()); a != b {
		if os.Getenv("SYNCFS_DEBUG") != "" {
			t.Log(debugAll(all))
		}
		return fmt.Sprintf("started from a checkpoint at step %d, the tree differs from the observer's:\nobserver:\n%s\nfrom checkpoint:\n%s", cpAt, a, b)
	}
	if p, err := boot.db.Integrity(t.Context()); err != nil || len(p) > 0 {
		return fmt.Sprintf("integrity after a checkpoint: %v %v", p, err)
	}
	return ""
}
