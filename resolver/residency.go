package resolver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/internal/killpoint"
)

// Residency control: the pinner fetches pinned files, the evictor keeps the
// cache within its byte budget, and Pin, Unpin and Evict serve the CLI.
//
// The pinner and the evictor are two loops started by Run. Neither holds a
// lock across I/O; residency.mu is a leaf lock (taken after Engine.mu never,
// and nothing is taken while it is held). Both stop when Run's context ends.

const (
	// pinStep is how much of a pinned file one Ensure call fetches, so that
	// a huge file shows progress and stops promptly when asked.
	pinStep = 8 << 20
	// pinBatch is how many pinned files one pinner round takes.
	pinBatch = 64
	// pinParallel is how many pinned files are fetched at once.
	pinParallel = 2
	// accessSaveEvery bounds how often the cache's access log (and its
	// running usage total) is written.
	accessSaveEvery = time.Minute
	// reconcileEvery is how often the cache's running usage total is set
	// again from a walk of its directory, for what it cannot see (content
	// written through a handle that went quiet and then wrote again).
	reconcileEvery = time.Hour
)

// residency is the engine's state for pinning and eviction.
type residency struct {
	kickPin   chan struct{}
	kickEvict chan struct{}

	// mu protects the following; it is a leaf lock.
	mu         sync.Mutex
	used       int64     // cache bytes on disk at the last evictor round
	measured   bool      // used has been measured
	evicted    int64     // files evicted by the budget so far
	freed      int64     // bytes they took
	pinErr     string    // the last pinned file that failed to fetch, and why
	lastSave   time.Time // when the access log was last saved
	unevicting int64     // bytes that could not be freed at the last round (Staged, pinned, open)
	diskFull   bool      // the cache disk was full at the last round
}

func newResidency() residency {
	return residency{kickPin: make(chan struct{}, 1), kickEvict: make(chan struct{}, 1)}
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// runResidency runs the pinner and the evictor until ctx ends, and saves
// the cache's access log on the way out.
func (e *Engine) runResidency(ctx context.Context) {
	if err := e.reconcileCache(ctx, time.Now()); err != nil && ctx.Err() == nil {
		e.log.Warn("measure the cache", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		e.loop(ctx, "pin", e.opts.EvictInterval, e.res.kickPin, e.pinRound)
	}()
	go func() {
		defer wg.Done()
		e.loop(ctx, "evict", e.opts.EvictInterval, e.res.kickEvict, func(ctx context.Context) (bool, error) {
			_, err := e.EnforceBudget(ctx)
			return false, err
		})
	}()
	// Files applied from other devices may land in a pinned tree: the
	// change feed wakes the pinner.
	changes := e.idx.Changes()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-changes:
				if !ok {
					return
				}
				kick(e.res.kickPin)
			}
		}
	}()
	wg.Wait()
	if err := e.cache.SaveAccess(); err != nil {
		e.log.Warn("save cache access log", "err", err)
	}
}

// reconcileCache sets the cache's running usage total from a walk of its
// directory, if it needs one: after a daemon that did not stop cleanly (the
// total may be off), or when the last walk is older than reconcileEvery.
// After an unclean stop the same walk sweeps orphans (sweepOrphans).
func (e *Engine) reconcileCache(ctx context.Context, since time.Time) error {
	_, known := e.cache.Used()
	unclean := e.cache.Unclean()
	if known && !unclean && time.Since(e.cache.LastWalk()) < reconcileEvery {
		return nil
	}
	var visit func([]cache.File) error
	if unclean {
		visit = func(files []cache.File) error { return e.sweepOrphans(ctx, files, since) }
	}
	start := time.Now()
	used, err := e.cache.ReconcileUsage(ctx, visit)
	if err != nil {
		return err
	}
	e.log.Info("measured the cache", "bytes", used, "swept", unclean, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// sweepOrphans removes, of one batch of a cache walk, the cache files that
// the index no longer knows (not a current version, not in the trash): what
// a crash left between an eviction's commit of Absent and its removal of
// the file. The batch is listed before the index is read, and a cache file
// is created only after its index row is committed, so nothing listed can
// be newer than what the index then says. A file opened since `since` is
// kept: an open handle may still read an old version.
func (e *Engine) sweepOrphans(ctx context.Context, files []cache.File, since time.Time) error {
	keys := make([]index.CacheKey, len(files))
	for i, f := range files {
		keys[i] = index.CacheKey{Ino: f.Key.Ino, Cver: f.Key.Cver}
	}
	known, err := e.idx.KnownKeys(ctx, keys)
	if err != nil {
		return err
	}
	var orphans []cache.File
	for i, f := range files {
		if !known[i] {
			orphans = append(orphans, f)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	okeys := make([]cache.Key, len(orphans))
	for i, f := range orphans {
		okeys[i] = f.Key
	}
	uses := e.cache.LastUses(okeys)
	for i, f := range orphans {
		if !uses[i].IsZero() && !uses[i].Before(since) {
			continue
		}
		if err := e.cache.Remove(f.Key); err != nil {
			return err
		}
		e.log.Info("removed a cache file the index no longer knows (left by a crash)", "key", f.Key.String(), "bytes", f.Bytes)
	}
	return nil
}

// pinRound pins what arrived in pinned trees, then fetches pinned Absent
// files, a batch at a time.
func (e *Engine) pinRound(ctx context.Context) (bool, error) {
	if _, err := e.idx.InheritPins(); err != nil {
		return false, err
	}
	todo, err := e.idx.PinnedAbsent(pinBatch)
	if err != nil || len(todo) == 0 {
		return false, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pinParallel)
	var mu sync.Mutex
	var errs []error
	fetched := 0
	for _, p := range todo {
		g.Go(func() error {
			err := e.fetchWhole(gctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				fetched++
			}
			return nil
		})
	}
	g.Wait()
	if fetched > 0 {
		kick(e.res.kickEvict)
	}
	if err := errors.Join(errs...); err != nil {
		e.res.mu.Lock()
		e.res.pinErr = err.Error()
		e.res.mu.Unlock()
		// Keep going while some files come: one damaged file must not
		// hold back the rest of the tree.
		return fetched > 0, err
	}
	e.res.mu.Lock()
	e.res.pinErr = ""
	e.res.mu.Unlock()
	return len(todo) == pinBatch, nil
}

// fetchWhole fetches all of a pinned file's content and marks it Resident.
func (e *Engine) fetchWhole(ctx context.Context, p index.PinFetch) error {
	key := cache.Key{Ino: p.Ino, Cver: p.Cver}
	done := p.Size == 0
	for off := int64(0); !done; off += pinStep {
		var err error
		if done, err = e.cache.Ensure(ctx, key, p.Size, off, pinStep); err != nil {
			if errors.Is(err, index.ErrNotExist) {
				return nil // replaced or deleted meanwhile; the next round sees the new version
			}
			return fmt.Errorf("fetch pinned inode %d: %w", p.Ino, err)
		}
		if off+pinStep >= p.Size && !done {
			return fmt.Errorf("fetch pinned inode %d: content incomplete after a full pass", p.Ino)
		}
	}
	if err := e.idx.MarkResident(p.Ino, p.Cver); err != nil {
		return err
	}
	e.cache.Forget(key)
	return nil
}

// EvictReport says what one round of the evictor did.
type EvictReport struct {
	Budget  int64 // the budget (0: none)
	Before  int64 // cache bytes on disk before the round
	After   int64 // and after
	Evicted int   // files freed
}

// EnforceBudget runs one evictor round now: while the cache holds more
// bytes than its budget, or its disk is full, it frees the least recently
// used content that may go (Resident or partly fetched, not pinned, not
// open). Staged content is never freed: if it alone exceeds the budget, the
// cache stays over it and Residency says so.
func (e *Engine) EnforceBudget(ctx context.Context) (EvictReport, error) {
	defer e.maybeSaveAccess()
	rep := EvictReport{Budget: e.opts.CacheBudget}
	// The cache's running total, not a walk of its directory: a walk runs
	// only when the total is not trusted or is due again.
	used, known := e.cache.RefreshUsage()
	if !known || time.Since(e.cache.LastWalk()) >= reconcileEvery {
		var err error
		if used, err = e.cache.ReconcileUsage(ctx, nil); err != nil {
			return rep, err
		}
	}
	rep.Before, rep.After = used, used
	short := e.diskShort()
	if rep.Budget <= 0 && short == 0 {
		e.noteUsage(used, 0)
		return rep, nil
	}
	over := func() bool { return (rep.Budget > 0 && rep.After > rep.Budget) || rep.Before-rep.After < short }
	if !over() {
		e.noteUsage(rep.After, 0)
		return rep, nil
	}
	// A file created in a pinned directory since the pinner last ran is
	// pinned before it can be chosen.
	if _, err := e.idx.InheritPins(); err != nil {
		return rep, err
	}
	victims, err := e.evictionOrder()
	if err != nil {
		return rep, err
	}
	for _, v := range victims {
		if !over() || ctx.Err() != nil {
			break
		}
		old, err := e.idx.MarkAbsent(v.Ino)
		switch {
		case errors.Is(err, index.ErrBusy), errors.Is(err, index.ErrPinned), errors.Is(err, index.ErrIllegalTransition), errors.Is(err, index.ErrNotExist):
			continue // opened, pinned, written or deleted since the candidates were listed
		case err != nil:
			return rep, err
		}
		// The index says Absent; the cache file is still there.
		killpoint.Reach(killpoint.PointEvictMiddle)
		before, _ := e.cache.Used()
		if err := e.cache.Remove(cache.Key{Ino: old.Ino, Cver: old.Cver}); err != nil {
			return rep, err
		}
		after, _ := e.cache.Used()
		rep.After -= before - after
		if old.Cver != v.Cver {
			// Another version was current by then; its file is the one freed.
			continue
		}
		rep.Evicted++
		e.res.mu.Lock()
		e.res.evicted++
		e.res.freed += before - after
		e.res.mu.Unlock()
	}
	var unevicting int64
	if rep.Budget > 0 {
		unevicting = max(rep.After-rep.Budget, 0)
	}
	if unevicting > 0 {
		e.log.Warn("cache over budget: the rest is staged, pinned or open", "budget", rep.Budget, "used", rep.After)
	}
	if short > rep.Before-rep.After {
		e.log.Warn("cache disk full: what is left is staged, pinned or open", "freed", rep.Before-rep.After, "wanted", short)
	}
	e.noteUsage(rep.After, unevicting)
	return rep, nil
}

// evictionOrder returns the cache keys the evictor may free, least recently
// used first. A key's last use comes from the cache's access log; a
// Resident file the log does not know (its entry lost in a crash) is
// stat'ed for its cache file's modification time. An Absent file the log
// does not know has no fetched ranges, as far as the cache remembers: it is
// left out, so that a round over a tree of a million Absent files does not
// stat each.
func (e *Engine) evictionOrder() ([]cache.Key, error) {
	cands, err := e.idx.EvictionCandidates()
	if err != nil {
		return nil, err
	}
	type victim struct {
		key  cache.Key
		used time.Time
	}
	keys := make([]cache.Key, len(cands))
	for i, c := range cands {
		keys[i] = cache.Key{Ino: c.Key.Ino, Cver: c.Key.Cver}
	}
	uses := e.cache.LastUses(keys) // one pass over the saved log for all
	vs := make([]victim, 0, len(cands))
	for i, c := range cands {
		k, t := keys[i], uses[i]
		if t.IsZero() {
			if c.State != index.StateResident {
				continue
			}
			fi, err := os.Stat(e.cache.Path(k))
			if err != nil {
				continue // no cache file: nothing to free
			}
			t = fi.ModTime()
		}
		vs = append(vs, victim{key: k, used: t})
	}
	slices.SortFunc(vs, func(a, b victim) int { return a.used.Compare(b.used) })
	out := make([]cache.Key, len(vs))
	for i, v := range vs {
		out[i] = v.key
	}
	return out, nil
}

// diskLow is the free space below which the cache disk counts as full.
const diskLow = 1 << 20

// diskShort watches the cache disk. When it is full it releases the
// cache's reserve, so that the index can commit what frees space (an
// unlink, the journal batch that purges it, an eviction), wakes the
// uploader, empties the trash, and returns how many bytes of content to
// evict so that the reserve can be taken again with room to spare. When
// there is room again it takes the reserve back.
func (e *Engine) diskShort() int64 {
	free, err := e.cache.DiskFree()
	if err != nil {
		e.log.Warn("measure the cache disk", "err", err)
		return 0
	}
	reserve := e.cache.Reserve()
	if free >= diskLow {
		if free >= 2*reserve+diskLow {
			if err := e.cache.TakeReserve(); err != nil {
				e.log.Warn("take the cache reserve", "err", err)
			}
		}
		e.res.mu.Lock()
		e.res.diskFull = false
		e.res.mu.Unlock()
		return 0
	}
	e.res.mu.Lock()
	first := !e.res.diskFull
	e.res.diskFull = true
	e.res.mu.Unlock()
	if held, _ := e.cache.ReserveHeld(); held {
		if err := e.cache.ReleaseReserve(); err != nil {
			e.log.Warn("release the cache reserve", "err", err)
		}
	}
	if first {
		e.log.Error("cache disk full: writes fail with ENOSPC until space is freed; evicting synced content and uploading what is staged", "free", free)
	}
	kick(e.kickUpload)
	if err := e.emptyTrash(); err != nil {
		e.log.Warn("empty the cache trash", "err", err)
	}
	return 2*reserve + diskLow - free
}

func (e *Engine) noteUsage(used, over int64) {
	e.res.mu.Lock()
	defer e.res.mu.Unlock()
	e.res.used, e.res.measured, e.res.unevicting = used, true, over
}

func (e *Engine) maybeSaveAccess() {
	e.res.mu.Lock()
	due := time.Since(e.res.lastSave) >= accessSaveEvery
	if due {
		e.res.lastSave = time.Now()
	}
	e.res.mu.Unlock()
	if due {
		if err := e.cache.SaveAccess(); err != nil {
			e.log.Warn("save cache access log", "err", err)
		}
		if err := e.cache.SaveUsage(); err != nil {
			e.log.Warn("save cache usage", "err", err)
		}
	}
}

// ResidencyStatus is the cache budget and pinning state, for status.
type ResidencyStatus struct {
	Budget       int64  // bytes; 0 means no limit
	Used         int64  // cache bytes on disk at the last evictor round
	OverBudget   bool   // the last round could not get under the budget
	Evicted      int64  // files freed by the budget since start
	EvictedBytes int64  //
	PinError     string `json:",omitempty"` // why the last pinned fetch failed
	DiskFull     bool   // the cache disk was full at the last evictor round
}

// Residency reports the cache budget and pinning state.
func (e *Engine) Residency() ResidencyStatus {
	e.res.mu.Lock()
	defer e.res.mu.Unlock()
	return ResidencyStatus{Budget: e.opts.CacheBudget, Used: e.res.used, OverBudget: e.res.unevicting > 0,
		Evicted: e.res.evicted, EvictedBytes: e.res.freed, PinError: e.res.pinErr, DiskFull: e.res.diskFull}
}

// Pin pins (pinned true) or unpins each root and everything below it. The
// pinner starts fetching at once; unpinned content becomes evictable.
func (e *Engine) Pin(roots []uint64, pinned bool) (index.PinResult, error) {
	res, err := e.idx.SetPinned(roots, pinned)
	if err != nil {
		return res, err
	}
	if pinned {
		kick(e.res.kickPin)
	} else {
		kick(e.res.kickEvict)
	}
	return res, nil
}

// PinBacklog returns how many pinned files, of how many bytes, are still to
// fetch (below roots, or anywhere if roots is empty), and why the last fetch
// failed (if it did).
func (e *Engine) PinBacklog(ctx context.Context, roots []uint64) (files int, bytes int64, lastErr string, err error) {
	if len(roots) == 0 {
		files, bytes, err = e.idx.PinBacklog()
	} else {
		files, bytes, err = e.idx.PinBacklogUnder(ctx, roots)
	}
	e.res.mu.Lock()
	lastErr = e.res.pinErr
	e.res.mu.Unlock()
	return files, bytes, lastErr, err
}

// Refusal names a file Evict would not free, and why.
type Refusal struct {
	Root   uint64 // the root it was found under
	Path   string // relative to the root; "" for the root itself
	Reason string
}

// EvictResult says what Evict did.
type EvictResult struct {
	Evicted int   // files whose content was freed
	Bytes   int64 // their size
	Absent  int   // files that had no local content already
	Refused []Refusal
}

// Evict frees the local content of every regular file at or below each
// root now: the index says Absent first, then the cache file goes. Staged
// files (changes not yet uploaded), pinned files and open files are refused
// and named; everything else is freed.
func (e *Engine) Evict(ctx context.Context, roots []uint64) (EvictResult, error) {
	var res EvictResult
	refs, err := e.idx.FilesUnder(ctx, roots)
	if err != nil {
		return res, err
	}
	seen := map[uint64]bool{}
	for _, r := range refs {
		a := r.Attr
		if !a.IsRegular() || seen[a.Ino] {
			continue
		}
		seen[a.Ino] = true
		refuse := func(why string) { res.Refused = append(res.Refused, Refusal{Root: r.Root, Path: r.Path, Reason: why}) }
		switch {
		case a.State == index.StateStaged:
			refuse("has changes not yet uploaded (staged); run syncfs sync first")
			continue
		case a.Pinned:
			refuse("pinned; unpin it first")
			continue
		case r.Open:
			refuse("open; close it first")
			continue
		case a.State == index.StateAbsent:
			if p, err := e.cache.Present(cache.Key{Ino: a.Ino, Cver: a.Cver}); err != nil || len(p) == 0 {
				res.Absent++
				continue
			}
		case a.State != index.StateResident:
			continue
		}
		old, err := e.idx.MarkAbsent(a.Ino)
		switch {
		case errors.Is(err, index.ErrIllegalTransition):
			refuse("has changes not yet uploaded (staged); run syncfs sync first")
			continue
		case errors.Is(err, index.ErrPinned):
			refuse("pinned; unpin it first")
			continue
		case errors.Is(err, index.ErrBusy):
			refuse("open; close it first")
			continue
		case errors.Is(err, index.ErrNotExist):
			continue
		case err != nil:
			return res, err
		}
		// The index says Absent; the cache file is still there.
		killpoint.Reach(killpoint.PointEvictMiddle)
		if err := e.cache.Remove(cache.Key{Ino: old.Ino, Cver: old.Cver}); err != nil {
			return res, err
		}
		res.Evicted++
		if a.State == index.StateResident {
			res.Bytes += a.Size
		}
	}
	return res, nil
}
