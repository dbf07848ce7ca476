package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/syncfs/syncfs/cache"
)

// Default cache budget: a share of the cache disk, within bounds.
const (
	budgetShare = 4         // a quarter of what the cache may use on its disk
	budgetMin   = 256 << 20 // below this, eviction would only thrash
	budgetMax   = 50 << 30  // beyond this, ask for it with --cache-size
)

// parseSize reads a byte count written as 1234, 500K, 500M, 10G, 1.5T
// (binary units; an optional trailing "B" or "iB" is accepted). "0",
// "none" and "unlimited" mean no limit (0).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	switch t {
	case "NONE", "UNLIMITED":
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGTP", t[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional K, M, G, T or P suffix", s)
	}
	return int64(f * float64(mult)), nil
}

// defaultBudget is a quarter of what the cache could hold on its disk (its
// free space plus what it already uses), between budgetMin and budgetMax.
func defaultBudget(cacheDir string, used int64) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(cacheDir, &st); err != nil {
		return 0, fmt.Errorf("size the cache budget (use --cache-size): %w", err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < 0 {
		return 0, errors.New("size the cache budget: the cache disk reports no free space (use --cache-size)")
	}
	return min(max((free+used)/budgetShare, budgetMin), budgetMax), nil
}

// cacheBudget is --cache-size, or the default for the cache's disk.
func cacheBudget(flag, cacheDir string, c *cache.Cache) (int64, error) {
	if flag != "" {
		n, err := parseSize(flag)
		if err != nil {
			return 0, usageError{fmt.Errorf("--cache-size: %w", err)}
		}
		return n, nil
	}
	// The cache's running total, not a walk of its directory (which took
	// most of a mount with a million files). If the total is not trusted
	// yet (the last daemon did not stop cleanly), it is the last figure
	// saved: the budget is a quarter of the disk either way, and a wrong
	// guess of what the cache already holds moves it by a quarter of the
	// error.
	used, _ := c.Used()
	return defaultBudget(cacheDir, used)
}
