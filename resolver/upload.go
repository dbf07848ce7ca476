package resolver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/internal/killpoint"
	"github.com/syncfs/syncfs/resolver/chunker"
	"golang.org/x/sync/errgroup"
)

// maxBatchRecords bounds one journal batch.
const maxBatchRecords = 512

// uploadOnce sends unsent batches, then uploads a round of Staged files and
// seals and sends the next batch. more reports that work remains.
func (e *Engine) uploadOnce(ctx context.Context) (more bool, err error) {
	if err := e.uploadStopped(); err != nil {
		return false, nil
	}
	unsent, err := e.idx.UnsentJournal()
	if err != nil {
		return false, err
	}
	for _, b := range unsent {
		if err := e.sendBatch(ctx, b); err != nil {
			return false, err
		}
	}
	// Every earlier round's chunks are now named in a sent batch.
	if err := e.gcBeforeUpload(ctx); err != nil {
		return false, err
	}
	if err := e.uploadStopped(); err != nil {
		return false, nil
	}
	ups, err := e.idx.StagedUploads(64)
	if err != nil {
		return false, err
	}
	uploaded := make(map[uint64]index.Uploaded, len(ups))
	var mu sync.Mutex
	one := func(ctx context.Context, u index.Upload) error {
		c, err := e.uploadContent(ctx, u)
		if errors.Is(err, os.ErrNotExist) {
			return nil // purged meanwhile
		}
		if errors.Is(err, errDeferred) {
			e.log.Info("upload deferred until a prune finishes", "ino", u.Ino, "err", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("upload inode %d: %w", u.Ino, err)
		}
		mu.Lock()
		uploaded[u.Ino] = index.Uploaded{Wgen: u.Wgen, Content: c}
		mu.Unlock()
		return nil
	}
	// Files smaller than a chunk several at a time: each is one small
	// object whose put waits on the store (a sync, on a local store), and
	// one after another they held a tree of small files to a few hundred
	// a second. Larger files go one at a time, each with its chunks in
	// parallel, which bounds the chunk buffers held at once.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Parallel)
	for _, u := range ups {
		if u.Size < int64(e.repo.Config.Chunker.Min) {
			g.Go(func() error { return one(gctx, u) })
		}
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	for _, u := range ups {
		if u.Size >= int64(e.repo.Config.Chunker.Min) {
			if err := one(ctx, u); err != nil {
				return false, err
			}
		}
	}
	b, err := e.idx.SealBatch(maxBatchRecords, uploaded, e.sealJournal)
	if err != nil {
		return false, err
	}
	if b.Seq == 0 {
		return false, nil
	}
	if err := e.sendBatch(ctx, b); err != nil {
		return false, err
	}
	// A batch went: there may be more, and the next round (cheap when the
	// queue is empty) finds out. Counting the queue here instead scanned
	// every inode after each batch, a quarter of the daemon's CPU while a
	// tree was being created.
	return true, nil
}

// sendBatch stores a sealed batch with create-if-absent. The same bytes
// already there mean a resend after a crash; other bytes mean another
// process writes this device's journal, and uploading stops for good.
func (e *Engine) sendBatch(ctx context.Context, b index.JournalBatch) error {
	name := journalName(e.device, b.Seq)
	err := e.repo.Store.PutIfAbsent(ctx, name, bytes.NewReader(b.Body), int64(len(b.Body)))
	if errors.Is(err, blobstore.ErrExist) {
		have, gerr := blobstore.GetAll(ctx, e.repo.Store, name, maxJournalObject)
		if errors.Is(gerr, blobstore.ErrTooLarge) {
			have, gerr = nil, nil // certainly not our bytes
		}
		if gerr != nil {
			return fmt.Errorf("check journal %s: %w", name, gerr)
		}
		if !bytes.Equal(have, b.Body) {
			stop := fmt.Errorf("%w: %s already holds different bytes; uploading stopped (was this cache directory copied from another machine?)", ErrDeviceClash, name)
			e.mu.Lock()
			e.stopped = stop
			e.mu.Unlock()
			e.log.Error("uploading stopped", "err", stop)
			return stop
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("store journal %s: %w", name, err)
	}
	// In the store; the index does not yet know it was sent.
	killpoint.Reach(killpoint.PointJournalStored)
	e.stats.batches.Add(1)
	e.stats.addUp(int64(len(b.Body)))
	return e.idx.MarkSent(b.Seq)
}

// uploadContent reads a Staged file's cache file and stores it: inline if
// small, else as chunks, several in flight at once.
func (e *Engine) uploadContent(ctx context.Context, u index.Upload) (index.Content, error) {
	f, err := os.Open(e.cache.Path(cache.Key{Ino: u.Ino, Cver: u.Cver}))
	if errors.Is(err, os.ErrNotExist) && u.Size == 0 {
		return index.Content{Size: 0, Inline: []byte{}}, nil
	}
	if err != nil {
		return index.Content{}, err
	}
	defer f.Close()
	r := io.LimitReader(f, u.Size)
	if u.Size <= int64(e.repo.Config.InlineMax) {
		b, err := io.ReadAll(r)
		if err != nil {
			return index.Content{}, err
		}
		if int64(len(b)) != u.Size {
			// The cache file is shorter than the index says: a sparse tail.
			b = append(b, make([]byte, u.Size-int64(len(b)))...)
		}
		return index.Content{Size: u.Size, Inline: b}, nil
	}
	ch := chunker.New(&zeroPad{r: r, n: u.Size}, e.repo.Keys.ChunkerKey(), e.repo.Config.Chunker)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Parallel)
	// Chunk buffers that hold the largest chunk this file can have, reused
	// once a chunk is stored: the chunker then never grows one (that
	// copying was a quarter of the uploader's CPU). Full-size ones come
	// from the engine's pool, so that a stream of small files does not
	// allocate and clear a largest-chunk buffer each (that was a fifth of
	// the daemon's CPU while tar extracted a source tree).
	bufSize := int64(e.repo.Config.Chunker.Max)
	pooled := u.Size >= bufSize
	bufSize = min(bufSize, u.Size)
	bufs := make(chan []byte, e.opts.Parallel+1)
	getBuf := func() []byte {
		select {
		case b := <-bufs:
			return b
		default:
		}
		if pooled {
			if b, ok := e.chunkBufs.Get().(*[]byte); ok && int64(cap(*b)) >= bufSize {
				return (*b)[:0]
			}
		}
		return make([]byte, 0, bufSize)
	}
	if pooled {
		defer func() {
			for {
				select {
				case b := <-bufs:
					e.chunkBufs.Put(&b)
				default:
					return
				}
			}
		}()
	}
	var refs []index.ChunkRef
	var total int64
	for {
		c, err := ch.Next(getBuf())
		if err == io.EOF {
			break
		}
		if err != nil {
			g.Wait()
			return index.Content{}, err
		}
		id := e.repo.Keys.ChunkID(c.Data)
		if e.doomed(chunkName(id)) {
			g.Wait()
			return index.Content{}, fmt.Errorf("%w: chunk %s", errDeferred, id)
		}
		refs = append(refs, index.ChunkRef{ID: id, Len: int64(c.Length)})
		total += int64(c.Length)
		data := c.Data
		g.Go(func() error {
			err := e.putChunk(gctx, id, data)
			select {
			case bufs <- data[:0]:
			default:
			}
			if err != nil {
				return err
			}
			// Stored; no journal entry names it yet.
			killpoint.Reach(killpoint.PointChunkStored)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return index.Content{}, err
	}
	if total != u.Size {
		return index.Content{}, fmt.Errorf("read %d bytes of %d", total, u.Size)
	}
	return index.Content{Size: u.Size, Chunks: refs}, nil
}

// recoverStagedSizes runs before anything serves the index (New calls
// it): it gives each Staged file whose cache file is longer than the index
// says the cache file's size. Sizes of files being written are kept in
// memory and committed at fsync, close and on a timer, so a crash can leave
// bytes in the cache file past the committed size; DESIGN.md: after a crash
// "a Staged file's size and content come from its cache file". Uploading
// such a file at the old size would mark it Resident with a cache file
// longer than the file. Nothing else makes a cache file longer than its
// file (a truncate shortens both), and before the mount serves no writer
// can race with this.
func (e *Engine) recoverStagedSizes() {
	// Every Staged file, not only those waiting in the outbox: a file
	// whose change was sealed into a batch not yet sent is Staged too, and
	// becomes Resident when that batch is.
	// Only those: reading every file here was two thirds of a mount's
	// CPU with a million files, and most of its peak memory.
	staged, err := e.idx.StagedFiles(context.Background())
	if err != nil {
		e.log.Warn("check staged files after a crash", "err", err)
		return
	}
	for _, k := range staged {
		fi, err := os.Stat(e.cache.Path(cache.Key{Ino: k.Key.Ino, Cver: k.Key.Cver}))
		if err != nil || fi.Size() <= k.Size {
			continue
		}
		e.log.Info("staged file's cache file is longer than its size (writes not committed before a crash): taking its size", "ino", k.Key.Ino, "size", k.Size, "cache_size", fi.Size())
		e.idx.NoteWrite(k.Key.Ino, fi.Size(), fi.ModTime().UnixNano())
		if err := e.idx.Flush(k.Key.Ino); err != nil {
			e.log.Warn("commit size of a staged file", "ino", k.Key.Ino, "err", err)
		}
	}
}

// zeroPad reads r, then zeros up to n bytes in all: a cache file shorter
// than its size (a sparse tail after truncate) reads as zeros, like the file.
type zeroPad struct {
	r    io.Reader
	n    int64
	read int64
	eof  bool
}

func (z *zeroPad) Read(p []byte) (int, error) {
	if z.read >= z.n {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n-z.read {
		p = p[:z.n-z.read]
	}
	if !z.eof {
		n, err := z.r.Read(p)
		z.read += int64(n)
		if err == io.EOF {
			z.eof = true
			err = nil
		}
		return n, err
	}
	clear(p)
	z.read += int64(len(p))
	return len(p), nil
}
