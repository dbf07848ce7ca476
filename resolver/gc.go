package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// Garbage collection runs in epochs (DESIGN.md, "Garbage collection"). A
// prune pass that finds objects nothing references lists them in gc/<epoch>
// (marked); a later pass deletes those still unreferenced once every device
// that is not idle or retired has acknowledged the epoch in its
// devices/<device> record (swept).
//
// A device acknowledges an epoch only when nothing it uploaded before it saw
// the epoch is waiting for a journal batch: its uploader rounds are
// serialised, so at the start of a round every earlier round's chunks are
// named in a sent batch, which the sweep reads. After seeing the epoch, the
// device does not name a chunk the epoch lists until the epoch is swept: a
// file whose content needs one stays Staged (deferred) and goes up after
// the sweep, when the chunk is stored again if it was deleted. That rule
// closes the race a store without conditional deletes leaves open between a
// device finding a chunk present and the sweep deleting it.

// ErrChunkGone reports content whose chunks are missing from the store, or
// listed for deletion by a garbage-collection pass that has not finished:
// such content may not be named by a new version or snapshot.
var ErrChunkGone = errors.New("content no longer in the store (removed by prune)")

// ErrDeviceRetired reports a device that `syncfs device forget` retired: it
// may not upload, since the garbage collector no longer waits for it.
var ErrDeviceRetired = errors.New("this device was retired with `syncfs device forget`")

// errDeferred is a Staged file whose content needs a chunk an unfinished GC
// epoch lists: it waits for the sweep.
var errDeferred = errors.New("content waits for a garbage-collection pass to finish")

const gcPrefix = "gc/"

func gcName(epoch uint64) string { return fmt.Sprintf("%s%020d", gcPrefix, epoch) }

// gcRecord is the plaintext of gc/<epoch>.
type gcRecord struct {
	Format int       `json:"format"`
	Epoch  uint64    `json:"epoch"`
	Marked time.Time `json:"marked"`
	// Cutoff is the version-retention point of the pass, in hybrid-clock
	// nanoseconds: a file version superseded before it is not kept. 0:
	// every version is kept.
	Cutoff int64 `json:"cutoff,omitempty"`
	// Candidates are the object names (chunks/..., trees/...) the pass
	// found unreferenced.
	Candidates []string  `json:"candidates"`
	Swept      time.Time `json:"swept,omitzero"`
	Deleted    int       `json:"deleted,omitempty"`
}

func (g *gcRecord) swept() bool { return !g.Swept.IsZero() }

// deviceRecord is the plaintext of devices/<device>.
type deviceRecord struct {
	Device     string    `json:"device"`
	Registered time.Time `json:"registered"`
	Updated    time.Time `json:"updated,omitzero"`
	Host       string    `json:"host,omitempty"`
	// GCSeen is the newest GC epoch the device has acknowledged.
	GCSeen uint64 `json:"gc_seen,omitempty"`
	// Idle says the device holds nothing in flight: it unmounted cleanly
	// with nothing to upload, or it was a one-off command. An idle device
	// reads the GC epochs again before it uploads anything.
	Idle bool `json:"idle,omitempty"`
	// Retired: forgotten for good; the collector does not wait for it.
	Retired bool `json:"retired,omitempty"`
}

func readDeviceRecord(ctx context.Context, repo *Repo, device string) (deviceRecord, error) {
	sealed, err := blobstore.GetAll(ctx, repo.Store, deviceName(device), 1<<20)
	if err != nil {
		return deviceRecord{}, err
	}
	body, err := repo.Keys.Open(crypto.KindDevice, device, sealed)
	if err != nil {
		return deviceRecord{}, fmt.Errorf("device record %s: %w: %w", device, ErrDamaged, err)
	}
	var r deviceRecord
	if err := json.Unmarshal(body, &r); err != nil || r.Device != device {
		return deviceRecord{}, fmt.Errorf("device record %s: %w", device, ErrDamaged)
	}
	return r, nil
}

func writeDeviceRecord(ctx context.Context, repo *Repo, r deviceRecord) error {
	r.Updated = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed := repo.Keys.Seal(crypto.KindDevice, r.Device, b)
	if err := blobstore.PutBytes(ctx, repo.Store, deviceName(r.Device), sealed); err != nil {
		return fmt.Errorf("write device record %s: %w", r.Device, err)
	}
	return nil
}

// listDevices returns the IDs of every device with a record.
func listDevices(ctx context.Context, repo *Repo) ([]string, error) {
	var out []string
	err := repo.Store.List(ctx, devicesPrefix, func(i blobstore.Info) error {
		d := strings.TrimPrefix(i.Name, devicesPrefix)
		if !strings.Contains(d, "/") {
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// gcEpochs lists the epochs in the store, oldest first.
func gcEpochs(ctx context.Context, repo *Repo) ([]uint64, error) {
	var out []uint64
	err := repo.Store.List(ctx, gcPrefix, func(i blobstore.Info) error {
		n, err := strconv.ParseUint(strings.TrimPrefix(i.Name, gcPrefix), 10, 64)
		if err == nil && gcName(n) == i.Name {
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list gc epochs: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func readGC(ctx context.Context, repo *Repo, epoch uint64) (*gcRecord, error) {
	name := gcName(epoch)
	sealed, err := blobstore.GetAll(ctx, repo.Store, name, maxJournalObject)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	id := strconv.FormatUint(epoch, 10)
	body, err := repo.Keys.Open(crypto.KindGC, id, sealed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrDamaged, err)
	}
	var c codec
	plain, err := c.decompress(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var g gcRecord
	if err := json.Unmarshal(plain, &g); err != nil || g.Epoch != epoch {
		return nil, fmt.Errorf("%s: %w", name, ErrDamaged)
	}
	if g.Format != FormatVersion {
		return nil, fmt.Errorf("%s: %w: version %d", name, ErrUnknownFormat, g.Format)
	}
	return &g, nil
}

func writeGC(ctx context.Context, repo *Repo, g *gcRecord) error {
	g.Format = FormatVersion
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	var c codec
	sealed := repo.Keys.Seal(crypto.KindGC, strconv.FormatUint(g.Epoch, 10), c.compress(b))
	if err := blobstore.PutBytes(ctx, repo.Store, gcName(g.Epoch), sealed); err != nil {
		return fmt.Errorf("write %s: %w", gcName(g.Epoch), err)
	}
	return nil
}

// gcState is what an engine knows of the store's GC epochs. Guarded by
// Engine.mu.
type gcState struct {
	registered bool                 // our device record says we are live
	known      uint64               // newest epoch read
	acked      uint64               // newest epoch our record acknowledges
	records    map[uint64]*gcRecord // epochs read; candidates dropped once swept
	doomed     map[string]uint64    // object name -> unswept epoch listing it
	cutoff     int64                // newest retention cutoff of any epoch
	// resurrected: a restore named old chunks in a change not yet sent;
	// no epoch is acknowledged until the queue has drained.
	resurrected bool
	// checked is when our own record was last read for a retirement.
	checked time.Time
}

// RegisterDevice writes devices/<device> as live (not idle), so that other
// devices find this one's journal and the collector waits for it, and then
// reads the GC epochs, in that order: a collector that saw the record idle
// swept before we read the epochs, and one that sees it live waits for us.
func (e *Engine) RegisterDevice(ctx context.Context) error {
	rec, err := readDeviceRecord(ctx, e.repo, e.device)
	switch {
	case errors.Is(err, blobstore.ErrNotExist):
		rec = deviceRecord{Device: e.device, Registered: time.Now().UTC()}
	case err != nil:
		return fmt.Errorf("register device %s: %w", e.device, err)
	}
	if rec.Retired {
		e.stopUploads(fmt.Errorf("%w: uploading stopped; copy out anything not yet uploaded and mount with a new cache directory", ErrDeviceRetired))
		return nil
	}
	rec.Idle = false
	rec.Host, _ = os.Hostname()
	if err := writeDeviceRecord(ctx, e.repo, rec); err != nil {
		return err
	}
	e.mu.Lock()
	e.gc.acked = rec.GCSeen
	e.mu.Unlock()
	if err := e.refreshGC(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.gc.registered = true
	e.mu.Unlock()
	return nil
}

// SetIdle records that this device holds nothing in flight (on a clean
// unmount with an empty queue, or at the end of a one-off command), so the
// collector need not wait for it. retire also retires the device for good:
// one-off commands' devices never run again.
func (e *Engine) SetIdle(ctx context.Context, retire bool) error {
	e.uploadMu.Lock()
	defer e.uploadMu.Unlock()
	p, err := e.Pending()
	if err != nil {
		return err
	}
	if p.Files > 0 {
		return fmt.Errorf("%d changes still waiting: not idle", p.Files)
	}
	rec, err := readDeviceRecord(ctx, e.repo, e.device)
	if errors.Is(err, blobstore.ErrNotExist) {
		rec = deviceRecord{Device: e.device, Registered: time.Now().UTC()}
	} else if err != nil {
		return err
	}
	rec.Idle = true
	rec.Retired = rec.Retired || retire
	e.mu.Lock()
	rec.GCSeen = max(rec.GCSeen, e.gc.known)
	e.gc.registered = false // register again before the next upload
	e.mu.Unlock()
	return writeDeviceRecord(ctx, e.repo, rec)
}

// Retire marks this device retired and idle whatever it still holds: for
// a one-off command's device as it exits, since its scratch index (and so
// anything not sent) goes with it and nothing of it is in flight any more.
func (e *Engine) Retire(ctx context.Context) error {
	e.uploadMu.Lock()
	defer e.uploadMu.Unlock()
	rec, err := readDeviceRecord(ctx, e.repo, e.device)
	if errors.Is(err, blobstore.ErrNotExist) {
		rec = deviceRecord{Device: e.device, Registered: time.Now().UTC()}
	} else if err != nil {
		return err
	}
	rec.Idle, rec.Retired = true, true
	return writeDeviceRecord(ctx, e.repo, rec)
}

func (e *Engine) stopUploads(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped == nil {
		e.stopped = err
		e.log.Error("uploading stopped", "err", err)
	}
}

// refreshGC reads epochs it has not seen and forgets the candidates of
// epochs since swept.
func (e *Engine) refreshGC(ctx context.Context) error {
	epochs, err := gcEpochs(ctx, e.repo)
	if err != nil {
		return err
	}
	for _, n := range epochs {
		e.mu.Lock()
		have := e.gc.records[n]
		e.mu.Unlock()
		if have != nil && have.swept() {
			continue
		}
		g, err := readGC(ctx, e.repo, n)
		if err != nil {
			return err
		}
		e.mu.Lock()
		if e.gc.records == nil {
			e.gc.records, e.gc.doomed = map[uint64]*gcRecord{}, map[string]uint64{}
		}
		if g.swept() {
			for _, name := range g.Candidates {
				if e.gc.doomed[name] == n {
					delete(e.gc.doomed, name)
				}
			}
			g.Candidates = nil
		} else if have == nil {
			for _, name := range g.Candidates {
				e.gc.doomed[name] = n
			}
		}
		e.gc.records[n] = g
		e.gc.known = max(e.gc.known, n)
		e.gc.cutoff = max(e.gc.cutoff, g.Cutoff)
		e.mu.Unlock()
	}
	return nil
}

// gcBeforeUpload runs at the start of an uploader round, after unsent
// batches went out: it registers the device if that has not happened (an
// offline mount) and acknowledges the newest epoch seen before the round.
func (e *Engine) gcBeforeUpload(ctx context.Context) error {
	e.mu.Lock()
	registered := e.gc.registered
	e.mu.Unlock()
	if !registered {
		if err := e.RegisterDevice(ctx); err != nil {
			return err
		}
	}
	e.mu.Lock()
	known, acked, resurrected := e.gc.known, e.gc.acked, e.gc.resurrected
	recheck := time.Since(e.gc.checked) > time.Minute
	if recheck {
		e.gc.checked = time.Now()
	}
	e.mu.Unlock()
	if recheck {
		// A forgotten device must stop, however little it uploads: the
		// collector no longer waits for it.
		rec, err := readDeviceRecord(ctx, e.repo, e.device)
		if err != nil && !errors.Is(err, blobstore.ErrNotExist) {
			return err
		}
		if rec.Retired {
			e.stopUploads(fmt.Errorf("%w: uploading stopped", ErrDeviceRetired))
			return nil
		}
	}
	if known <= acked {
		return nil
	}
	if resurrected {
		p, err := e.Pending()
		if err != nil || p.Files > 0 {
			return err // acknowledge once the restored versions are sent
		}
		e.mu.Lock()
		e.gc.resurrected = false
		e.mu.Unlock()
	}
	rec, err := readDeviceRecord(ctx, e.repo, e.device)
	if err != nil {
		return err
	}
	if rec.Retired {
		e.stopUploads(fmt.Errorf("%w: uploading stopped", ErrDeviceRetired))
		return nil
	}
	rec.GCSeen, rec.Idle = known, false
	if err := writeDeviceRecord(ctx, e.repo, rec); err != nil {
		return err
	}
	e.mu.Lock()
	e.gc.acked = known
	e.mu.Unlock()
	e.log.Info("acknowledged gc epoch", "epoch", known)
	return nil
}

// doomed reports whether an unswept epoch lists the object.
func (e *Engine) doomed(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.gc.doomed[name]
	return ok
}

// usableChunks checks that a new version may name these chunks: each is in
// the store and no unfinished GC pass has listed it for deletion. From then
// until the change is sent, no epoch is acknowledged.
func (e *Engine) usableChunks(ctx context.Context, refs []index.ChunkRef) error {
	if err := e.refreshGC(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.gc.resurrected = true
	e.mu.Unlock()
	for _, r := range refs {
		name := chunkName(r.ID)
		if e.doomed(name) {
			return fmt.Errorf("%w: %s is being deleted by a prune", ErrChunkGone, name)
		}
		if _, err := e.repo.Store.Stat(ctx, name); errors.Is(err, blobstore.ErrNotExist) {
			return fmt.Errorf("%w: %s is missing", ErrChunkGone, name)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// VersionCutoff returns the newest version-retention cutoff of any GC
// epoch seen (hybrid-clock nanoseconds; 0: all versions kept). A version
// superseded before it may have lost its content.
func (e *Engine) VersionCutoff() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gc.cutoff
}

// gcEpochNow returns the newest GC epoch in the store (0: none yet). A
// writer of a snapshot reads it before it reads the tree, and afterwards asks
// gcRacedSince whether a pass that began meanwhile may delete what it names.
func gcEpochNow(ctx context.Context, repo *Repo) (uint64, error) {
	epochs, err := gcEpochs(ctx, repo)
	if err != nil || len(epochs) == 0 {
		return 0, err
	}
	return epochs[len(epochs)-1], nil
}

// gcRacedSince reports whether a GC pass may delete any of the objects a
// new snapshot names, given by ID (chunk IDs and tree IDs in one set): one
// that began after epoch, or one not yet swept (an existing tree the writer
// found in place may be listed by it). The caller then withdraws what it
// wrote and retries.
func gcRacedSince(ctx context.Context, repo *Repo, epoch uint64, ids map[string]struct{}) (bool, error) {
	epochs, err := gcEpochs(ctx, repo)
	if err != nil {
		return false, err
	}
	for _, n := range epochs {
		g, err := readGC(ctx, repo, n)
		if err != nil {
			return false, err
		}
		if n <= epoch && g.swept() {
			continue
		}
		for _, name := range g.Candidates {
			if _, hit := ids[objectID(name)]; hit {
				return true, nil
			}
		}
	}
	return false, nil
}

// objectID returns the ID part of a chunk's or tree's object name.
func objectID(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}
