package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/syncfs/syncfs/resolver"
)

// handleSnapshot runs POST /v1/snapshot/{op} (body: snapshotRequest),
// streaming snapshotLines as JSON, the last with Done set.
func (d *daemon) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	var req snapshotRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "snapshot: bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	req.Op = r.PathValue("op")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex // emit may be called from the operation's goroutines
	emit := func(l snapshotLine) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	err := runSnapshotOp(r.Context(), d.repo, d.createSnapshot, req, emit)
	done := snapshotLine{Done: true}
	if err != nil {
		done.Error = err.Error()
	}
	emit(done)
}

// createSnapshot snapshots the mount's tree: it uploads what is pending
// first (for at most req.Wait), so that the snapshot holds the latest
// content; files still not uploaded then are in it as last uploaded, or
// left out if never uploaded (the result lists both).
func (d *daemon) createSnapshot(ctx context.Context, req snapshotRequest, emit func(snapshotLine)) (*resolver.Created, error) {
	wait := req.Wait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, wait)
	err := d.eng.Flush(fctx, nil)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		emit(snapshotLine{Warning: "not everything could be uploaded first: " + err.Error()})
	}
	return resolver.CreateSnapshot(ctx, d.repo, d.idx, resolver.SnapshotOptions{Name: req.Name})
}

// scheduledSnapshotName labels the snapshots --snapshot-every takes.
const scheduledSnapshotName = "scheduled"

// startSnapshotSchedule starts taking a snapshot every interval (none if
// it is 0) until ctx ends; the channel closes when the last one is done.
func (d *daemon) startSnapshotSchedule(ctx context.Context, every time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if every > 0 {
			d.runSnapshotSchedule(ctx, every)
		}
	}()
	return done
}

// runSnapshotSchedule takes a snapshot every interval until ctx ends,
// logging each result; a failure waits for the next turn.
func (d *daemon) runSnapshotSchedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req := snapshotRequest{Op: "create", Name: scheduledSnapshotName, Wait: max(every/2, time.Second)}
		c, err := d.createSnapshot(ctx, req, func(l snapshotLine) {
			if l.Warning != "" {
				d.log.Warn("scheduled snapshot", "warning", l.Warning)
			}
		})
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return
		case err != nil:
			d.log.Error("scheduled snapshot failed", "err", err)
		default:
			d.log.Info("scheduled snapshot", "id", c.Snapshot.ID, "files", c.Snapshot.Files, "bytes", c.Snapshot.Bytes,
				"stale", len(c.Stale), "skipped", len(c.Skipped))
		}
	}
}
