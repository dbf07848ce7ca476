package resolver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// View is a store's tree rebuilt without a mount: a fresh index in a
// scratch directory that has applied every device's journal, with an engine
// over it that can fetch content and, for writing commands, upload as a
// device of its own. Commands given --store and no mount work through one.
type View struct {
	Engine *Engine
	Index  *index.DB
	Cache  *cache.Cache
	// PullErr is what stopped some device's journal from applying, with
	// ViewOptions.Partial.
	PullErr error
	dir     string
	owned   bool
}

// ViewOptions configure OpenView.
type ViewOptions struct {
	// Dir is the scratch directory for the index and cache; empty means a
	// new temporary directory, removed by Close.
	Dir string
	// Device is the view's own device ID, used if it writes; empty means a
	// random one.
	Device string
	Engine Options
	// Partial keeps the view when some device's journal cannot be read:
	// the error is in View.PullErr and the other devices are applied.
	Partial bool
}

// OpenView rebuilds the store's current tree by applying every device's
// journal into a fresh index. A device whose journal cannot be read is
// reported in the error together with the others' state applied; the caller
// decides whether a partial view will do (see View.PullErrors).
func OpenView(ctx context.Context, repo *Repo, o ViewOptions) (*View, error) {
	v := &View{dir: o.Dir}
	if v.dir == "" {
		d, err := os.MkdirTemp("", "syncfs-view-")
		if err != nil {
			return nil, fmt.Errorf("scratch directory: %w", err)
		}
		v.dir, v.owned = d, true
	}
	var err error
	if v.Index, err = index.Open(filepath.Join(v.dir, "index.db"), index.Options{Device: o.Device, RootMode: 0o755}); err != nil {
		v.Close()
		return nil, err
	}
	if v.Cache, err = cache.New(filepath.Join(v.dir, "cache"), nil); err != nil {
		v.Close()
		return nil, err
	}
	v.Engine = New(repo, v.Index, v.Cache, o.Engine)
	if err := v.Engine.Pull(ctx); err != nil && o.Partial && ctx.Err() == nil {
		v.PullErr = err
	} else if err != nil {
		v.Close()
		return nil, fmt.Errorf("read the store's journals: %w", err)
	}
	return v, nil
}

// Close closes the index and removes a temporary scratch directory.
func (v *View) Close() error {
	var err error
	if v.Index != nil {
		err = v.Index.Close()
	}
	if v.owned {
		if rerr := os.RemoveAll(v.dir); err == nil {
			err = rerr
		}
	}
	return err
}
