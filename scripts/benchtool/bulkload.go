package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
	"golang.org/x/sync/errgroup"
)

// scaleLayout is the tree the scale workload loads: files spread perDir to
// a leaf directory, leaves fanout to a directory above them, as many
// levels as that takes. 1,000,000 files at 100 and 100 are d00/d00/f000
// to d99/d99/f099.
type scaleLayout struct {
	files  int
	perDir int
	fanout int
	depth  int // directory levels above the files
	leaves int
}

func newScaleLayout(files, perDir, fanout int) scaleLayout {
	l := scaleLayout{files: files, perDir: perDir, fanout: fanout, depth: 1}
	l.leaves = (files + perDir - 1) / perDir
	for reach := fanout; reach < l.leaves; reach *= fanout {
		l.depth++
	}
	return l
}

// dirName and fileName are the names at index i of a directory level and
// of a leaf, zero-padded so that ls sorts them in creation order.
func (l scaleLayout) dirName(i int) string {
	return fmt.Sprintf("d%0*d", len(strconv.Itoa(l.fanout-1)), i)
}

func (l scaleLayout) fileName(i int) string {
	return fmt.Sprintf("f%0*d", len(strconv.Itoa(l.perDir-1)), i)
}

// levels returns, for each directory level from the top, the directories
// on it as indexes of their parent on the level above (-1: the root), in
// creation order. Leaf i's path is the base-fanout digits of i.
func (l scaleLayout) levels() [][]int {
	out := make([][]int, l.depth)
	for d := range l.depth {
		// Directories on level d: the distinct prefixes of d+1 digits.
		span := 1
		for range l.depth - d - 1 {
			span *= l.fanout
		}
		n := (l.leaves + span - 1) / span
		for i := range n {
			parent := -1
			if d > 0 {
				parent = i / l.fanout
			}
			out[d] = append(out[d], parent)
		}
	}
	return out
}

// leafFiles returns how many files leaf i holds.
func (l scaleLayout) leafFiles(i int) int {
	return min(l.perDir, l.files-i*l.perDir)
}

// runBulkload implements "benchtool bulkload".
func runBulkload(args []string, w io.Writer) error {
	fl := flag.NewFlagSet("bulkload", flag.ContinueOnError)
	store := fl.String("store", "", "local store directory, made by syncfs init (passphrase in SYNCFS_PASSPHRASE)")
	cacheDir := fl.String("cache", "", "cache directory for the new device (created; must hold no index yet)")
	plain := fl.String("dir", "", "instead of -store and -cache: make the same tree as plain files under this directory")
	files := fl.Int("files", 100000, "number of empty files")
	perDir := fl.Int("per-dir", 100, "files per leaf directory")
	fanout := fl.Int("fanout", 100, "directories per directory above the leaves")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the load to this file")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("bulkload flags: %w", errUsage)
	}
	if *files <= 0 || *perDir <= 0 || *fanout < 2 {
		return fmt.Errorf("bulkload needs a positive -files and -per-dir and a -fanout of 2 or more: %w", errUsage)
	}
	l := newScaleLayout(*files, *perDir, *fanout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bulkload: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bulkload: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var err error
	switch {
	case *plain != "" && *store == "" && *cacheDir == "":
		err = loadPlain(ctx, *plain, l)
	case *plain == "" && *store != "" && *cacheDir != "":
		pass := os.Getenv("SYNCFS_PASSPHRASE")
		if pass == "" {
			return fmt.Errorf("bulkload: set SYNCFS_PASSPHRASE to the store's passphrase: %w", errUsage)
		}
		err = loadDevice(ctx, *store, *cacheDir, []byte(pass), l)
	default:
		return fmt.Errorf("bulkload needs -store and -cache, or -dir alone: %w", errUsage)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "loaded %d files in %d directories in %.1fs\n", l.files, l.dirCount(), time.Since(start).Seconds())
	return nil
}

// dirCount returns how many directories the layout makes.
func (l scaleLayout) dirCount() int {
	n := 0
	for _, lv := range l.levels() {
		n += len(lv)
	}
	return n
}

// loadPlain makes the layout's tree with ordinary system calls under dir,
// the raw target's copy of what loadDevice makes.
func loadPlain(ctx context.Context, dir string, l scaleLayout) error {
	var parents []string
	for _, lv := range l.levels() {
		var here []string
		for i, p := range lv {
			base := dir
			if p >= 0 {
				base = parents[p]
			}
			d := filepath.Join(base, l.dirName(i%l.fanout))
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("bulkload: %w", err)
			}
			here = append(here, d)
		}
		parents = here
	}
	for leaf, d := range parents {
		if err := ctx.Err(); err != nil {
			return err
		}
		for j := range l.leafFiles(leaf) {
			f, err := os.OpenFile(filepath.Join(d, l.fileName(j)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("bulkload: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("bulkload: %w", err)
			}
		}
	}
	return nil
}

// createBatch is how many entries one index transaction makes: an
// uploader round takes 64 files, and a batch that a round or two drain keeps
// the queue, which every round reads from its oldest row, short.
const createBatch = 64

// loadAhead is how many batches the loader makes before the uploader has
// drained the earlier ones.
const loadAhead = 2

// loadDevice makes a new device of the store in cacheDir, as syncfs mount
// would, and gives it the layout's tree through the real write path: the
// index creates each entry (in batches of createBatch per transaction
// rather than one), the file's empty cache file is made as a create through
// the mount makes it, and the uploader's own rounds seal and send the
// journal after each batch. At the end the checkpoint a mounted device
// would have written is written, and the device is left idle as after an
// unmount: syncfs mount --cache-dir cacheDir then starts as usual.
func loadDevice(ctx context.Context, storeDir, cacheDir string, pass []byte, l scaleLayout) (err error) {
	if _, err := os.Stat(filepath.Join(cacheDir, "index.db")); err == nil {
		return fmt.Errorf("bulkload: %s already holds a device's index: %w", cacheDir, errUsage)
	}
	s, err := local.Open(storeDir, local.Options{})
	if err != nil {
		return fmt.Errorf("bulkload: open store: %w", err)
	}
	repo, err := resolver.Open(ctx, s, pass)
	if err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	// The same index settings and metadata as syncfs mount's.
	idx, err := index.Open(filepath.Join(cacheDir, "index.db"), index.Options{RootUID: uint32(os.Getuid()), RootGID: uint32(os.Getgid()), RootMode: 0o755})
	if err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	defer func() {
		if cerr := idx.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bulkload: %w", cerr)
		}
	}()
	if err := idx.SetMeta("store_id", []byte(repo.Config.StoreID)); err != nil {
		return err
	}
	if err := idx.SetMeta("config", repo.ConfigBytes); err != nil {
		return err
	}
	c, err := cache.New(cacheDir, nil)
	if err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng := resolver.New(repo, idx, c, resolver.Options{Logger: log, CheckpointEvery: resolver.DefaultCheckpointEvery})
	if err := eng.RegisterDevice(ctx); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	b := newDeviceLoader(idx, c, eng, l.files+l.dirCount())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.upload(gctx) })
	g.Go(func() error { return b.makeCacheFiles(gctx) })
	g.Go(func() error { return b.feed(gctx, l) })
	if err := g.Wait(); err != nil {
		return err
	}
	// Whatever the rounds left (nothing, normally), then the journal
	// state a mounted device leaves behind.
	if err := eng.Flush(ctx, nil); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	b.progress(true)
	fmt.Fprintln(os.Stderr, "bulkload: writing the checkpoint")
	if err := eng.CheckpointIfDue(ctx); err != nil {
		return fmt.Errorf("bulkload: checkpoint: %w", err)
	}
	if err := eng.SetIdle(ctx, false); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("bulkload: %w", err)
	}
	return nil
}

func dirNode() index.NewNode {
	return index.NewNode{Mode: syscall.S_IFDIR | 0o755, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
}

func fileNode() index.NewNode {
	return index.NewNode{Mode: syscall.S_IFREG | 0o644, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
}

// deviceLoader gives one device's index the layout's tree in batches.
// Three goroutines overlap: feed makes the entries (the index's one writer
// is the bottleneck), upload runs uploader rounds, and makeCacheFiles makes
// the files' empty cache files. feed stays at most loadAhead batches ahead
// of what upload has drained, since every round reads the queue from its
// oldest row. Each returns when done or on the first error, which ends the
// others through their context (errgroup).
type deviceLoader struct {
	idx   *index.DB
	cache *cache.Cache
	eng   *resolver.Engine
	total int // files to make

	keys chan cache.Key // cache files to make; feed closes it when done
	kick chan struct{}  // feed made a batch (one pending kick is enough)

	// mu protects the following; cond signals a change to any of them.
	mu      sync.Mutex
	cond    *sync.Cond
	made    int   // batches made
	drained int   // batches made before the uploader's last idle round
	fed     bool  // feed has made every batch
	stopped error // why a goroutine stopped early (the others stop too)

	start    time.Time
	files    atomic.Int64 // files made so far
	lastSaid time.Time    // when upload last printed progress
}

func newDeviceLoader(idx *index.DB, c *cache.Cache, eng *resolver.Engine, total int) *deviceLoader {
	b := &deviceLoader{idx: idx, cache: c, eng: eng, total: total, keys: make(chan cache.Key, 4*createBatch),
		kick: make(chan struct{}, 1), start: time.Now(), lastSaid: time.Now()}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// stop records why a goroutine ended early and wakes feed, which may be
// waiting for the uploader; it returns err.
func (b *deviceLoader) stop(err error) error {
	b.mu.Lock()
	if b.stopped == nil {
		b.stopped = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	return err
}

// feed makes the layout's directories, a level at a time, then its files.
func (b *deviceLoader) feed(ctx context.Context, l scaleLayout) error {
	defer close(b.keys)
	var parents []uint64
	for _, lv := range l.levels() {
		var here []uint64
		var batch []index.NewEntry
		for i, p := range lv {
			parent := uint64(index.RootIno)
			if p >= 0 {
				parent = parents[p]
			}
			batch = append(batch, index.NewEntry{Parent: parent, Name: l.dirName(i % l.fanout), Node: dirNode()})
			if len(batch) == createBatch || i == len(lv)-1 {
				made, err := b.create(ctx, batch)
				if err != nil {
					return b.stop(err)
				}
				for _, a := range made {
					here = append(here, a.Ino)
				}
				batch = batch[:0]
			}
		}
		parents = here
	}
	var batch []index.NewEntry
	for leaf, dir := range parents {
		for j := range l.leafFiles(leaf) {
			batch = append(batch, index.NewEntry{Parent: dir, Name: l.fileName(j), Node: fileNode()})
			if len(batch) == createBatch {
				if _, err := b.create(ctx, batch); err != nil {
					return b.stop(err)
				}
				batch = batch[:0]
			}
		}
	}
	if _, err := b.create(ctx, batch); err != nil {
		return b.stop(err)
	}
	b.mu.Lock()
	b.fed = true
	b.mu.Unlock()
	kick(b.kick)
	return nil
}

// create makes one batch once the uploader is close enough behind, and
// hands its files' cache keys to makeCacheFiles.
func (b *deviceLoader) create(ctx context.Context, batch []index.NewEntry) ([]index.Attr, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	b.mu.Lock()
	for b.made-b.drained >= loadAhead && b.stopped == nil {
		b.cond.Wait()
	}
	stopped := b.stopped
	b.mu.Unlock()
	if stopped != nil {
		return nil, stopped
	}
	made, err := b.idx.CreateBatch(batch)
	if err != nil {
		return nil, fmt.Errorf("bulkload: %w", err)
	}
	b.mu.Lock()
	b.made++
	b.mu.Unlock()
	kick(b.kick)
	for _, a := range made {
		if !a.IsRegular() {
			continue
		}
		select {
		case b.keys <- cache.Key{Ino: a.Ino, Cver: a.Cver}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b.files.Add(int64(len(made)))
	return made, nil
}

// upload runs uploader rounds while there is work, until feed is done and
// the queue is empty.
func (b *deviceLoader) upload(ctx context.Context) error {
	for {
		b.mu.Lock()
		made, fed := b.made, b.fed
		b.mu.Unlock()
		if made == b.drained {
			if fed {
				return nil
			}
			select {
			case <-b.kick:
				continue
			case <-ctx.Done():
				return b.stop(ctx.Err())
			}
		}
		// Rounds until one finds nothing: every batch made before the
		// first is then in the store.
		for more := true; more; {
			var err error
			if more, err = b.eng.UploadRound(ctx); err != nil {
				return b.stop(fmt.Errorf("bulkload: upload: %w", err))
			}
		}
		b.mu.Lock()
		b.drained = made
		b.cond.Broadcast()
		b.mu.Unlock()
		b.progress(false)
	}
}

// makeCacheFiles makes each file's empty cache file, as a create through
// the mount does (and, as there, counts it as a use of the file).
func (b *deviceLoader) makeCacheFiles(ctx context.Context) error {
	for k := range b.keys {
		f, err := b.cache.Open(k, true)
		if err != nil {
			return b.stop(fmt.Errorf("bulkload: %w", err))
		}
		if err := f.Close(); err != nil {
			return b.stop(fmt.Errorf("bulkload: %w", err))
		}
	}
	return nil
}

// progress prints the files made so far to stderr every few seconds, and
// at the end.
func (b *deviceLoader) progress(final bool) {
	if !final && time.Since(b.lastSaid) < 5*time.Second {
		return
	}
	b.lastSaid = time.Now()
	secs := time.Since(b.start).Seconds()
	n := b.files.Load()
	fmt.Fprintf(os.Stderr, "bulkload: %d of %d entries made and uploaded in %.0fs (%.0f/s)\n", n, b.total, secs, float64(n)/max(secs, 1e-3))
}

// kick wakes whoever waits on ch, unless a wake-up is already pending.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
