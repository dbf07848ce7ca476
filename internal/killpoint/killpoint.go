package killpoint

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// EnvVar names the environment variable that holds the plan, "point:n".
const EnvVar = "SYNCFS_TEST_KILLPOINT"

// The points the code reaches. Tests name them in EnvVar.
const (
	// PointChunkStored is reached after a chunk is in the store and before
	// any journal entry naming it has been sealed.
	PointChunkStored = "chunk-stored"
	// PointJournalStored is reached after a journal batch is in the store
	// and before the index records it as sent.
	PointJournalStored = "journal-stored"
	// PointFetchMiddle is reached in the middle of a fetch: some of the
	// fetched bytes are in the cache file, not yet synced nor recorded as
	// present.
	PointFetchMiddle = "fetch-middle"
	// PointEvictMiddle is reached in the middle of an eviction: the index
	// says Absent, the cache file is not yet removed.
	PointEvictMiddle = "evict-middle"
	// PointPullApplied is reached after the puller applied one journal
	// batch of another device (index committed), before the next.
	PointPullApplied = "pull-applied"
)

// ErrBadPlan reports an EnvVar value that is not "point:n" with n >= 1.
var ErrBadPlan = errors.New("bad kill point plan")

// Plan kills the process at the n-th Reach of one point.
type Plan struct {
	point string
	at    int64
	kill  func()

	reached atomic.Int64 // times point was reached
}

// Parse reads a plan, "point:n", which calls kill at the n-th Reach of
// point. A nil kill means SIGKILL to this process.
func Parse(s string, kill func()) (*Plan, error) {
	name, count, ok := strings.Cut(s, ":")
	if !ok {
		name, count = s, "1"
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if name == "" || err != nil || n < 1 {
		return nil, fmt.Errorf("%w: %q (want point:n, n >= 1)", ErrBadPlan, s)
	}
	if kill == nil {
		kill = killSelf
	}
	return &Plan{point: name, at: n, kill: kill}, nil
}

// Reach counts one arrival at point and kills at the planned one.
func (p *Plan) Reach(point string) {
	if p == nil || point != p.point {
		return
	}
	if p.reached.Add(1) == p.at {
		p.kill()
	}
}

func killSelf() {
	// Say so on stderr (the daemon's log), so that a test can tell the
	// point was reached from a death for another reason.
	fmt.Fprintf(os.Stderr, "killpoint: %s reached; killing the process\n", os.Getenv(EnvVar))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; never run past the point
}

// fromEnv is the process's plan, read once from EnvVar: nil when the
// variable is unset, or set to something Parse rejects (then it says so on
// stderr once, and no point kills).
var fromEnv = sync.OnceValue(func() *Plan {
	s := os.Getenv(EnvVar)
	if s == "" {
		return nil
	}
	p, err := Parse(s, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "killpoint: %v; ignored\n", err)
		return nil
	}
	return p
})

// Reach kills the process if the plan in EnvVar names point and this is
// its n-th arrival there; otherwise it does nothing.
func Reach(point string) { fromEnv().Reach(point) }
