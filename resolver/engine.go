package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// Options configure an Engine.
type Options struct {
	// PollInterval is how often other devices' journals are pulled.
	PollInterval time.Duration
	// UploadInterval is how often the uploader looks for work unasked.
	UploadInterval time.Duration
	// UploadQuiet is how long the uploader waits for local changes to
	// pause before a round it starts unasked (default 250ms; negative: no
	// wait), and UploadMaxDefer the most it waits in all (default 5s). A
	// burst of changes (tar, git, a build) then gets the CPU and the index
	// to itself and is uploaded in a few large batches right after it, not
	// in a round each second that competes with it.
	UploadQuiet    time.Duration
	UploadMaxDefer time.Duration
	// FlushInterval is how often pending size/mtime changes of open files
	// are committed to the index.
	FlushInterval time.Duration
	// Parallel is how many chunk uploads run at once.
	Parallel int
	// CacheBudget is the most bytes the cache may hold before the evictor
	// frees the least recently used content that may go; 0 means no limit.
	CacheBudget int64
	// EvictInterval is how often the budget is enforced and pinned files
	// are looked for, unasked.
	EvictInterval time.Duration
	Logger        *slog.Logger
	// OnBatch, if set, sees every journal batch the puller applies: the
	// garbage collector reads all versions while rebuilding a View.
	OnBatch func(device string, seq uint64, recs []index.Record)
	// CheckpointEvery is how many journal batches past the newest
	// checkpoint make a mounted device write one; 0: never (Views, tests).
	CheckpointEvery int
}

// Engine runs the uploader, puller and janitor for one mounted store.
type Engine struct {
	repo   *Repo
	idx    *index.DB
	cache  *cache.Cache
	opts   Options
	log    *slog.Logger
	device string
	codec  codec

	kickUpload chan struct{}
	kickPull   chan struct{}

	stats engineStats
	res   residency // pinner and evictor state (residency.go)

	// chunkBufs holds largest-chunk buffers between files (uploadContent).
	chunkBufs sync.Pool

	uploadMu sync.Mutex // held for one uploader round
	pullMu   sync.Mutex // held for one puller round

	// pullMu protects the following (conflict_policy.go).
	policyAt    time.Time     // when the store's conflict policy was last read
	policyEvery time.Duration // how often it is read again

	// mu protects the following. Lock order: uploadMu or pullMu before mu.
	mu         sync.Mutex
	lastErr    string            // the last error of any loop, for status
	lastErrAt  time.Time         //
	reachable  bool              // the last store call succeeded
	stopped    error             // uploading stopped for good (device clash)
	gc         gcState           // GC epochs seen and acknowledged (gc.go)
	checkpoint *checkpointRecord // the newest checkpoint read (checkpoint.go)

	checkpointing atomic.Bool // a periodic checkpoint is being written
}

type engineStats struct {
	bytesUp   atomic.Int64
	bytesDown atomic.Int64
	batches   atomic.Int64
}

func (s *engineStats) addUp(n int64)   { s.bytesUp.Add(n) }
func (s *engineStats) addDown(n int64) { s.bytesDown.Add(n) }

// New returns an engine over an opened store, an index and a cache. It also
// becomes the cache's fetcher.
func New(repo *Repo, idx *index.DB, c *cache.Cache, opts Options) *Engine {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.UploadInterval <= 0 {
		opts.UploadInterval = time.Second
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Second
	}
	if opts.UploadQuiet == 0 {
		opts.UploadQuiet = 250 * time.Millisecond
	}
	if opts.UploadMaxDefer <= 0 {
		opts.UploadMaxDefer = 5 * time.Second
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.EvictInterval <= 0 {
		opts.EvictInterval = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		repo: repo, idx: idx, cache: c, opts: opts, log: opts.Logger,
		device:     idx.Device(),
		kickUpload: make(chan struct{}, 1),
		kickPull:   make(chan struct{}, 1),
		reachable:  true,
		res:        newResidency(),

		policyEvery: policyInterval,
	}
	c.SetFetcher(e)
	if err := idx.SetConflictPolicy(policyOf(repo.Config)); err != nil {
		e.log.Error("conflict policy", "err", err)
	}
	// Before anything serves the index: writes a crash kept from being
	// committed are in the cache files of Staged files.
	e.recoverStagedSizes()
	return e
}

// Run runs the background loops until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); e.runResidency(ctx) }()
	go func() { defer wg.Done(); e.loop(ctx, "upload", e.opts.UploadInterval, e.kickUpload, e.uploadWhenQuiet) }()
	go func() { defer wg.Done(); e.loop(ctx, "pull", e.opts.PollInterval, e.kickPull, e.pull) }()
	go func() {
		defer wg.Done()
		e.loop(ctx, "janitor", e.opts.FlushInterval, nil, func(ctx context.Context) (bool, error) {
			return false, errors.Join(e.idx.FlushAll(), e.emptyTrash())
		})
	}()
	wg.Wait()
}

// loop runs step on a timer and when kicked, backing off exponentially
// (to a minute) while it fails, and again at once while it finds work.
func (e *Engine) loop(ctx context.Context, name string, every time.Duration, kick <-chan struct{}, step func(context.Context) (bool, error)) {
	delay := every
	for {
		more, err := step(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			e.noteErr(name, err)
			delay = min(max(delay*2, every), time.Minute)
		case more:
			delay = 0
		default:
			e.noteOK(name)
			delay = every
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-kick:
			t.Stop()
			delay = every
		case <-t.C:
		}
	}
}

func (e *Engine) noteErr(loop string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	msg := fmt.Sprintf("%s: %v", loop, err)
	if msg != e.lastErr {
		e.log.Error("sync error", "loop", loop, "err", err)
	}
	e.lastErr, e.lastErrAt = msg, time.Now()
	if blobstore.IsTransient(err) {
		e.reachable = false
	}
}

func (e *Engine) noteOK(loop string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Only the loops that talk to the store every round can tell that it
	// answers; the janitor, pinner and evictor may have had nothing to ask.
	if loop == "upload" || loop == "pull" {
		if !e.reachable {
			// The store is back: the uploader may be waiting out a
			// minute of backoff; let the queue drain now.
			kick(e.kickUpload)
		}
		e.reachable = true
	}
}

// KickPull asks the puller for a round now.
func (e *Engine) KickPull() {
	select {
	case e.kickPull <- struct{}{}:
	default:
	}
}

// Progress is the upload queue, for flush progress and status.
type Progress struct {
	Files int   // changes waiting for a journal batch
	Bytes int64 // bytes of Staged content waiting
}

// Pending returns what is still to upload.
func (e *Engine) Pending() (Progress, error) {
	s, err := e.idx.Stats()
	if err != nil {
		return Progress{}, err
	}
	return Progress{Files: s.Pending + s.Unsent, Bytes: s.PendingData}, nil
}

// Flush uploads everything Staged and waits until the queue is empty, or
// ctx ends. It does the uploading itself (serialised with the background
// loop), so it works whether or not Run is going. progress, if not nil, is
// called after each round.
func (e *Engine) Flush(ctx context.Context, progress func(Progress)) error {
	if err := e.idx.FlushAll(); err != nil {
		return err
	}
	wait := 50 * time.Millisecond
	for {
		p, err := e.Pending()
		if err != nil {
			return err
		}
		if progress != nil {
			progress(p)
		}
		if p.Files == 0 {
			return nil
		}
		if err := e.uploadStopped(); err != nil {
			return err
		}
		more, err := e.upload(ctx)
		if err != nil {
			e.noteErr("upload", err)
		}
		if err == nil && more {
			wait = 50 * time.Millisecond
			continue
		}
		// Nothing could go this round (store down, files open for
		// writing): wait a little, longer each time.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("flush: %d changes (%d bytes) still waiting: %w", p.Files, p.Bytes, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// uploadWhenQuiet is the uploader loop's round: it first waits until no
// local change has been queued for UploadQuiet, or UploadMaxDefer has
// passed. Flush and other callers that ask for a round go straight to
// upload.
func (e *Engine) uploadWhenQuiet(ctx context.Context) (bool, error) {
	if q := e.opts.UploadQuiet; q > 0 {
		deadline := time.Now().Add(e.opts.UploadMaxDefer)
		for {
			wait := q - time.Since(e.idx.LastLocalChange())
			if left := time.Until(deadline); wait > left {
				wait = left
			}
			if wait <= 0 {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, ctx.Err()
			case <-t.C:
			}
		}
	}
	return e.upload(ctx)
}

// upload runs one uploader round; rounds never overlap.
func (e *Engine) upload(ctx context.Context) (bool, error) {
	e.uploadMu.Lock()
	defer e.uploadMu.Unlock()
	return e.uploadOnce(ctx)
}

// pull runs one puller round; rounds never overlap.
func (e *Engine) pull(ctx context.Context) (bool, error) {
	e.pullMu.Lock()
	defer e.pullMu.Unlock()
	return e.pullOnce(ctx)
}

// Pull applies other devices' new changes now.
func (e *Engine) Pull(ctx context.Context) error {
	_, err := e.pull(ctx)
	return err
}

// Sync pulls other devices' changes now and uploads local ones.
func (e *Engine) Sync(ctx context.Context) error {
	if _, err := e.pull(ctx); err != nil {
		return err
	}
	return e.Flush(ctx, nil)
}

func (e *Engine) uploadStopped() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopped
}

// Status is the engine's view for `syncfs status`.
type Status struct {
	Device    string
	StoreID   string
	Reachable bool
	LastError string
	LastErrAt time.Time `json:",omitzero"`
	Stopped   string    `json:",omitempty"`
	BytesUp   int64
	BytesDown int64
	Batches   int64
}

// Status reports the engine's state.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{Device: e.device, StoreID: e.repo.Config.StoreID, Reachable: e.reachable, LastError: e.lastErr, LastErrAt: e.lastErrAt,
		BytesUp: e.stats.bytesUp.Load(), BytesDown: e.stats.bytesDown.Load(), Batches: e.stats.batches.Load()}
	if e.stopped != nil {
		s.Stopped = e.stopped.Error()
	}
	return s
}

func (e *Engine) emptyTrash() error {
	keys, err := e.idx.Trash(256)
	if err != nil || len(keys) == 0 {
		return err
	}
	for _, k := range keys {
		if err := e.cache.Remove(cache.Key{Ino: k.Ino, Cver: k.Cver}); err != nil {
			return err
		}
	}
	return e.idx.EmptyTrash(keys)
}
