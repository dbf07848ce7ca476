package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/internal/killpoint"
)

// maxJournalObject bounds what one journal object may make us read.
const maxJournalObject = 256 << 20

// pullOnce applies every other device's new journal batches. A device whose
// batches cannot be fetched or opened holds back only its own watermark.
func (e *Engine) pullOnce(ctx context.Context) (bool, error) {
	if err := e.refreshGC(ctx); err != nil {
		return false, err
	}
	if err := e.refreshPolicy(ctx); err != nil {
		return false, err
	}
	var devices []string
	err := e.repo.Store.List(ctx, devicesPrefix, func(i blobstore.Info) error {
		d := strings.TrimPrefix(i.Name, devicesPrefix)
		if d != e.device && !strings.Contains(d, "/") {
			devices = append(devices, d)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("list devices: %w", err)
	}
	// The newest checkpoint, read only if some device's next batch is
	// missing (the usual end of a journal), and at most once a round.
	var cp *checkpointRecord
	var cpErr error
	cpRead, cpApplied := false, false
	checkpoint := func() (*checkpointRecord, error) {
		if !cpRead {
			cp, cpErr = e.checkpointFor(ctx)
			cpRead = true
		}
		return cp, cpErr
	}
	var errs []error
	for _, d := range devices {
		err := e.pullDevice(ctx, d, checkpoint)
		if errors.Is(err, errBehindCheckpoint) && !cpApplied {
			cpApplied = true
			if err = e.applyCheckpoint(ctx, cp); err == nil {
				err = e.pullDevice(ctx, d, checkpoint)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		e.maybeCheckpoint(ctx)
	}
	return false, errors.Join(errs...)
}

func (e *Engine) pullDevice(ctx context.Context, device string, checkpoint func() (*checkpointRecord, error)) error {
	wm, err := e.idx.Watermark(device)
	if err != nil {
		return err
	}
	for {
		seq := wm + 1
		body, err := blobstore.GetAll(ctx, e.repo.Store, journalName(device, seq), maxJournalObject)
		if errors.Is(err, blobstore.ErrNotExist) {
			cp, cerr := checkpoint()
			if cerr != nil {
				return fmt.Errorf("device %s: batch %d missing; %w", device, seq, cerr)
			}
			if cp != nil && cp.Positions[device] >= seq {
				return fmt.Errorf("device %s: %w", device, errBehindCheckpoint)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %w", journalName(device, seq), err)
		}
		recs, err := e.openJournal(device, seq, body)
		if err != nil {
			// Stop applying this device at this point; say so in status.
			e.idx.SetPullError(device, err.Error())
			return fmt.Errorf("device %s: applying stopped: %w", device, err)
		}
		if e.opts.OnBatch != nil {
			e.opts.OnBatch(device, seq, recs)
		}
		if err := e.idx.ApplyBatch(device, seq, recs); err != nil {
			return fmt.Errorf("apply %s: %w", journalName(device, seq), err)
		}
		killpoint.Reach(killpoint.PointPullApplied)
		wm = seq
	}
}
