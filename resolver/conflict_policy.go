package resolver

import (
	"context"
	"fmt"
	"time"

	"github.com/syncfs/syncfs/index"
)

// The conflict policy is per store, in its config object: "copy" keeps a
// losing version as a conflict copy, "newest" only in the file's versions
// (index/conflicts.go). Changing it rewrites the config with a new MAC,
// as a config change (config_change.go); running engines read it again at a pull round at most every
// policyInterval, so that polling does not double the requests a quiet
// store gets.

// policyInterval is how often a running engine reads the store's config
// again for its conflict policy.
const policyInterval = 30 * time.Second

// SetConflictPolicy changes the store's conflict policy ("copy" or
// "newest") as a config change (config_change.go): the config is read
// again first, so that nothing else in it goes back to what repo was opened
// with, and a change made by another device in the meantime gives
// ErrConfigChanged instead of being overwritten. repo's copy of the config
// is updated to what the store holds afterwards.
func SetConflictPolicy(ctx context.Context, repo *Repo, policy string) error {
	if policy != index.PolicyCopy && policy != index.PolicyNewest {
		return fmt.Errorf("conflict policy %q: want %s or %s: %w", policy, index.PolicyCopy, index.PolicyNewest, index.ErrInvalid)
	}
	return changeConfig(ctx, repo, func(c *Config) bool {
		if policyOf(*c) == policy {
			return false
		}
		c.Conflict = policy
		return true
	}, nil)
}

// readVerifiedConfig reads the store's config object and checks it with
// repo's keys: the same store, the same format, an intact MAC.
func readVerifiedConfig(ctx context.Context, repo *Repo) (Config, error) {
	b, err := ReadConfig(ctx, repo.Store)
	if err != nil {
		return Config{}, err
	}
	return verifyConfigBytes(repo, b)
}

// policyOf returns a config's conflict policy; configs that name none
// mean the default.
func policyOf(cfg Config) string {
	if cfg.Conflict == "" {
		return index.PolicyCopy
	}
	return cfg.Conflict
}

// SetConflictPolicy changes the store's conflict policy (see the
// package-level SetConflictPolicy) and applies it here at once; other
// devices pick it up at a pull round within policyInterval, or when they
// mount again.
func (e *Engine) SetConflictPolicy(ctx context.Context, policy string) error {
	e.pullMu.Lock()
	defer e.pullMu.Unlock()
	r := *e.repo // the engine's repo is shared: change a copy
	if err := SetConflictPolicy(ctx, &r, policy); err != nil {
		return err
	}
	e.policyAt = time.Now()
	return e.idx.SetConflictPolicy(policyOf(r.Config))
}

// refreshPolicy reads the store's conflict policy again if policyInterval
// has passed since the last read, and applies it to the index. Callers
// hold pullMu.
func (e *Engine) refreshPolicy(ctx context.Context) error {
	if !e.policyAt.IsZero() && time.Since(e.policyAt) < e.policyEvery {
		return nil
	}
	cfg, err := readVerifiedConfig(ctx, e.repo)
	if err != nil {
		return fmt.Errorf("read conflict policy: %w", err)
	}
	e.policyAt = time.Now()
	return e.idx.SetConflictPolicy(policyOf(cfg))
}

// supersededAt returns when version i of a file (of n, with vectors vv
// and hybrid times hlc) was superseded: the earliest time of a version
// whose vector dominates its own, one made after seeing it. Retention
// counts from there. A version that nothing has seen yet is not
// superseded, whatever came after it in time: the current one, and a
// loser kept only in versions under "newest", which was never current
// where the winner is and must stay restorable until a version that has
// seen it exists (and then for the retention period).
func supersededAt(n int, vv func(int) index.VV, hlc func(int) int64, i int) (int64, bool) {
	at, found := int64(0), false
	for j := 0; j < n; j++ {
		if j == i || vv(i).Compare(vv(j)) != index.Before {
			continue
		}
		if t := hlc(j); !found || t < at {
			at, found = t, true
		}
	}
	return at, found
}

// keepVersion is the retention rule of checkpoints and listings: version
// i of vers is kept unless it was superseded before cutoff (0: keep all).
func keepVersion(vers []index.Version, i int, cutoff int64) bool {
	if cutoff == 0 {
		return true
	}
	at, ok := supersededAt(len(vers), func(j int) index.VV { return vers[j].VV }, func(j int) int64 { return vers[j].HLC }, i)
	return !ok || at >= cutoff
}
