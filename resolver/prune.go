package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// PruneOptions say what a prune keeps. Snapshots are kept if any of the
// KeepLast/KeepDaily/KeepWeekly rules keeps them (when none is set, every
// snapshot is kept); file versions superseded longer ago than KeepWithin
// are dropped (negative: every version is kept).
type PruneOptions struct {
	KeepLast   int
	KeepDaily  int
	KeepWeekly int
	KeepWithin time.Duration
	// DryRun reports what would go and changes nothing.
	DryRun bool
	// Wait, if positive, is how long to wait after marking for every live
	// device to acknowledge the new epoch, so that one run can also sweep.
	Wait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, if set, hears what the pass is doing.
	Progress func(msg string)
}

// PruneReport is what a prune did (or, dry, would do).
type PruneReport struct {
	SnapshotsKept    int
	SnapshotsDeleted []string // IDs
	// Swept is the epoch whose unreferenced objects were deleted (0: none).
	Swept        uint64
	Deleted      int
	DeletedBytes int64
	// Marked is the epoch that listed unreferenced objects for a later
	// sweep (0: none); Candidates and CandidateBytes are what it listed.
	Marked         uint64
	Candidates     int
	CandidateBytes int64
	// Waiting names the devices a pending epoch still waits for.
	Waiting []string
	// Referenced and Stored are the objects still referenced and all
	// chunk and tree objects in the store before the pass, in bytes.
	ReferencedBytes int64
	StoredBytes     int64
	// Checkpoint is the checkpoint written; JournalsDeleted the batches
	// it covers that were deleted.
	Checkpoint      string
	JournalsDeleted int
}

// Prune applies the retention policy, sweeps an epoch every live device
// has acknowledged and marks a new one (see gc.go). It is safe with other
// devices mounted and at any crash point: marking only writes gc/<epoch>;
// a sweep deletes only objects a fresh scan finds unreferenced and records
// the sweep after the deletes, so a killed sweep is finished by the next.
//
// Then it writes a checkpoint of the current tree (with the versions still
// inside retention) and deletes the journal batches it covers.
func Prune(ctx context.Context, repo *Repo, o PruneOptions) (*PruneReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	sc := &pruneScan{}
	defer sc.close()
	rep, err := prunePass(ctx, repo, o, say, sc)
	if err != nil || o.DryRun {
		return rep, err
	}
	err = checkpointAndTrim(ctx, repo, o, rep, say, sc)
	return rep, err
}

// pruneScan keeps the tree the newest reference scan of a run rebuilt, so
// that the checkpoint at the end is written from it rather than from a
// third replay of the store.
type pruneScan struct{ view *View }

func (sc *pruneScan) keep(v *View) {
	sc.close()
	sc.view = v
}

func (sc *pruneScan) close() {
	if sc.view != nil {
		sc.view.Close()
		sc.view = nil
	}
}

// checkpointAndTrim writes a checkpoint and deletes the batches it covers.
func checkpointAndTrim(ctx context.Context, repo *Repo, o PruneOptions, rep *PruneReport, say func(string, ...any), sc *pruneScan) error {
	cutoff, err := newestCutoff(ctx, repo)
	if err != nil {
		return err
	}
	if sc.view == nil { // nothing scanned this run (an epoch still waits)
		v, err := OpenView(ctx, repo, ViewOptions{})
		if err != nil {
			return err
		}
		sc.keep(v)
	}
	v := sc.view
	keep := func(vers []index.Version, i int) bool { return keepVersion(vers, i, cutoff) }
	rec, err := writeCheckpoint(ctx, repo, v.Index, o.Now(), keep)
	if err != nil {
		return err
	}
	rep.Checkpoint = rec.ID
	n, err := trimJournals(ctx, repo, rec)
	rep.JournalsDeleted = n
	if err != nil {
		return err
	}
	say("checkpoint %s: %d files, %d versions; %d journal batches it covers deleted", rec.ID, rec.Files, rec.History, n)
	return nil
}

func prunePass(ctx context.Context, repo *Repo, o PruneOptions, say func(string, ...any), sc *pruneScan) (*PruneReport, error) {
	rep := &PruneReport{}
	if err := pruneSnapshots(ctx, repo, o, rep); err != nil {
		return rep, err
	}
	epochs, err := gcEpochs(ctx, repo)
	if err != nil {
		return rep, err
	}
	pending := uint64(0)
	for _, n := range epochs {
		g, err := readGC(ctx, repo, n)
		if err != nil {
			return rep, err
		}
		if g.swept() {
			continue
		}
		if done, err := sweepIfAcknowledged(ctx, repo, g, o, rep, say, sc); err != nil {
			return rep, err
		} else if !done {
			pending = n
		}
	}
	if pending != 0 {
		say("epoch %d waits for devices %s; nothing new marked", pending, strings.Join(rep.Waiting, ", "))
		return rep, nil
	}
	next := uint64(1)
	if len(epochs) > 0 {
		next = epochs[len(epochs)-1] + 1
	}
	g := &gcRecord{Epoch: next, Marked: o.Now().UTC()}
	if o.KeepWithin >= 0 {
		g.Cutoff = o.Now().Add(-o.KeepWithin).UnixNano()
	}
	say("scanning the store for unreferenced objects")
	refs, err := collectRefs(ctx, repo, g.Cutoff, sc)
	if err != nil {
		return rep, err
	}
	stored, err := listCollectable(ctx, repo)
	if err != nil {
		return rep, err
	}
	for _, info := range stored {
		rep.StoredBytes += info.Size
		if _, ok := refs[info.Name]; ok {
			rep.ReferencedBytes += info.Size
			continue
		}
		g.Candidates = append(g.Candidates, info.Name)
		rep.CandidateBytes += info.Size
	}
	rep.Candidates = len(g.Candidates)
	if len(g.Candidates) == 0 || o.DryRun {
		return rep, nil
	}
	if err := writeGC(ctx, repo, g); err != nil {
		return rep, err
	}
	rep.Marked = next
	say("epoch %d marks %d objects (%d bytes)", next, len(g.Candidates), rep.CandidateBytes)
	// Devices that are idle or retired need not see the epoch: with no
	// live device (a store used from one machine, unmounted) one run
	// marks and sweeps.
	deadline := time.Now().Add(o.Wait)
	for {
		rep.Waiting = nil
		done, err := sweepIfAcknowledged(ctx, repo, g, o, rep, say, sc)
		if err != nil || done {
			return rep, err
		}
		if !time.Now().Before(deadline) {
			say("epoch %d still waits for devices %s", next, strings.Join(rep.Waiting, ", "))
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sweepIfAcknowledged deletes the epoch's candidates that are still
// unreferenced, if every live device has seen the epoch; otherwise it
// names the devices in rep.Waiting and returns false.
func sweepIfAcknowledged(ctx context.Context, repo *Repo, g *gcRecord, o PruneOptions, rep *PruneReport, say func(string, ...any), sc *pruneScan) (bool, error) {
	waiting, err := devicesBehind(ctx, repo, g.Epoch)
	if err != nil {
		return false, err
	}
	if len(waiting) > 0 {
		rep.Waiting = waiting
		return false, nil
	}
	say("sweeping epoch %d", g.Epoch)
	refs, err := collectRefs(ctx, repo, g.Cutoff, sc)
	if err != nil {
		return false, err
	}
	sizes := map[string]int64{}
	stored, err := listCollectable(ctx, repo)
	if err != nil {
		return false, err
	}
	for _, info := range stored {
		sizes[info.Name] = info.Size
	}
	for _, name := range g.Candidates {
		size, present := sizes[name]
		if _, used := refs[name]; used || !present {
			continue
		}
		if !o.DryRun {
			if err := repo.Store.Delete(ctx, name); err != nil && !errors.Is(err, blobstore.ErrNotExist) {
				return false, fmt.Errorf("sweep epoch %d: %w", g.Epoch, err)
			}
		}
		rep.Deleted++
		rep.DeletedBytes += size
	}
	if o.DryRun {
		return true, nil
	}
	g.Swept, g.Deleted = o.Now().UTC(), rep.Deleted
	if err := writeGC(ctx, repo, g); err != nil {
		return false, err
	}
	rep.Swept = g.Epoch
	say("epoch %d swept: %d objects (%d bytes) deleted", g.Epoch, rep.Deleted, rep.DeletedBytes)
	return true, nil
}

// devicesBehind returns the live devices whose record does not yet
// acknowledge epoch. A damaged record counts as behind: the collector does
// not guess.
func devicesBehind(ctx context.Context, repo *Repo, epoch uint64) ([]string, error) {
	devs, err := listDevices(ctx, repo)
	if err != nil {
		return nil, err
	}
	var behind []string
	for _, d := range devs {
		r, err := readDeviceRecord(ctx, repo, d)
		if errors.Is(err, ErrDamaged) {
			behind = append(behind, d+" (damaged record)")
			continue
		}
		if err != nil {
			return nil, err
		}
		if !r.Retired && !r.Idle && r.GCSeen < epoch {
			behind = append(behind, d)
		}
	}
	return behind, nil
}

// listCollectable lists the objects garbage collection may delete: chunks,
// trees and checkpoint packs.
func listCollectable(ctx context.Context, repo *Repo) ([]blobstore.Info, error) {
	var out []blobstore.Info
	for _, prefix := range []string{chunksPrefix, treesPrefix, packsPrefix} {
		err := repo.Store.List(ctx, prefix, func(i blobstore.Info) error {
			out = append(out, i)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	return out, nil
}

// fileVersion is what the collector keeps of one version of a file.
type fileVersion struct {
	vv     index.VV
	hlc    int64
	chunks []string
}

// collectRefs returns the names of every chunk and tree still referenced:
// by the current tree (rebuilt from every journal, conflict copies
// included), by file versions superseded at or after cutoff (0: all; see
// supersededAt: a loser no version has seen yet counts as not
// superseded), and by every snapshot. Any object it cannot read makes it fail: a partial
// scan must never lead to a deletion. The rebuilt tree goes to sc.
func collectRefs(ctx context.Context, repo *Repo, cutoff int64, sc *pruneScan) (map[string]struct{}, error) {
	history := map[string][]fileVersion{}
	onBatch := func(device string, seq uint64, recs []index.Record) {
		for _, r := range recs {
			f := r.File
			if f == nil {
				continue
			}
			v := fileVersion{vv: f.VV, hlc: f.HLC}
			if f.Content != nil {
				for _, c := range f.Content.Chunks {
					v.chunks = append(v.chunks, chunkName(c.ID))
				}
			}
			history[f.ID] = append(history[f.ID], v)
		}
	}
	v, err := OpenView(ctx, repo, ViewOptions{Engine: Options{OnBatch: onBatch}})
	if err != nil {
		return nil, err
	}
	sc.keep(v)
	refs := map[string]struct{}{}
	uses, err := v.Index.ChunkUses(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range uses {
		refs[chunkName(u.ID)] = struct{}{}
	}
	for _, vers := range history {
		for i, ver := range vers {
			at, ok := supersededAt(len(vers), func(j int) index.VV { return vers[j].vv }, func(j int) int64 { return vers[j].hlc }, i)
			if cutoff != 0 && ok && at < cutoff {
				continue // superseded before the cutoff
			}
			for _, n := range ver.chunks {
				refs[n] = struct{}{}
			}
		}
	}
	if err := addSnapshotRefs(ctx, repo, refs); err != nil {
		return nil, err
	}
	if err := addCheckpointRefs(ctx, repo, refs); err != nil {
		return nil, err
	}
	return refs, nil
}
