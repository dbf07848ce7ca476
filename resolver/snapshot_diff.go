package resolver

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"syscall"

	"github.com/syncfs/syncfs/index"
)

// Change kinds in a snapshot diff.
const (
	ChangeAdded    = "+"
	ChangeRemoved  = "-"
	ChangeModified = "M"
)

// What a modification changed, in the order a diff lists them.
const (
	DiffType    = "type"
	DiffContent = "content"
	DiffMode    = "mode"
	DiffOwner   = "owner"
	DiffTimes   = "times"
	DiffXattrs  = "xattrs"
	DiffTarget  = "target"
	DiffDevice  = "device"
)

// Change is one path that differs between two snapshots.
type Change struct {
	Path string   `json:"path"`
	Kind string   `json:"kind"`           // ChangeAdded, ChangeRemoved or ChangeModified
	What []string `json:"what,omitempty"` // for ChangeModified: Diff* values
}

// DiffSnapshots lists what changed from a to b, in path order: every path
// added or removed (below an added or removed directory too) and every path
// whose record changed, with what changed. Directories whose trees are
// identical are not read.
func DiffSnapshots(ctx context.Context, repo *Repo, a, b Snapshot) ([]Change, error) {
	d := &differ{repo: repo, out: []Change{}}
	if what := recordChanges(&a.Root, &b.Root); len(what) > 0 {
		d.out = append(d.out, Change{Path: "/", Kind: ChangeModified, What: what})
	}
	if err := d.trees(ctx, a.Tree, b.Tree, "/"); err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", a.ID, b.ID, err)
	}
	return d.out, nil
}

type differ struct {
	repo  *Repo
	codec codec
	out   []Change
}

func (d *differ) trees(ctx context.Context, aID, bID, path string) error {
	if aID == bID {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var at, bt *Tree
	var err error
	if aID != "" {
		if at, err = readTree(ctx, d.repo, &d.codec, aID); err != nil {
			return err
		}
	} else {
		at = &Tree{}
	}
	if bID != "" {
		if bt, err = readTree(ctx, d.repo, &d.codec, bID); err != nil {
			return err
		}
	} else {
		bt = &Tree{}
	}
	i, j := 0, 0
	for i < len(at.Entries) || j < len(bt.Entries) {
		var c int
		switch {
		case i == len(at.Entries):
			c = 1
		case j == len(bt.Entries):
			c = -1
		default:
			c = bytes.Compare(at.Entries[i].Name, bt.Entries[j].Name)
		}
		switch {
		case c < 0:
			e := &at.Entries[i]
			p := joinPath(path, e.Name)
			d.out = append(d.out, Change{Path: p, Kind: ChangeRemoved})
			if err := d.trees(ctx, e.Tree, "", p); err != nil {
				return err
			}
			i++
		case c > 0:
			e := &bt.Entries[j]
			p := joinPath(path, e.Name)
			d.out = append(d.out, Change{Path: p, Kind: ChangeAdded})
			if err := d.trees(ctx, "", e.Tree, p); err != nil {
				return err
			}
			j++
		default:
			ea, eb := &at.Entries[i], &bt.Entries[j]
			p := joinPath(path, ea.Name)
			if what := recordChanges(&ea.File, &eb.File); len(what) > 0 {
				d.out = append(d.out, Change{Path: p, Kind: ChangeModified, What: what})
			}
			if err := d.trees(ctx, ea.Tree, eb.Tree, p); err != nil {
				return err
			}
			i++
			j++
		}
	}
	return nil
}

// recordChanges says what differs between two records of one path, as a
// user sees it: the change time and versions are not compared.
func recordChanges(a, b *index.FileRecord) []string {
	var what []string
	if a.Mode&syscall.S_IFMT != b.Mode&syscall.S_IFMT {
		return []string{DiffType}
	}
	if !sameContent(a.Content, b.Content) {
		what = append(what, DiffContent)
	}
	if a.Mode != b.Mode {
		what = append(what, DiffMode)
	}
	if a.UID != b.UID || a.GID != b.GID {
		what = append(what, DiffOwner)
	}
	if a.Mtime != b.Mtime {
		what = append(what, DiffTimes)
	}
	if !maps.EqualFunc(a.Xattrs, b.Xattrs, bytes.Equal) {
		what = append(what, DiffXattrs)
	}
	if !bytes.Equal(a.Target, b.Target) {
		what = append(what, DiffTarget)
	}
	if a.Rdev != b.Rdev {
		what = append(what, DiffDevice)
	}
	return what
}

func sameContent(a, b *index.Content) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Size == b.Size && bytes.Equal(a.Inline, b.Inline) && slices.Equal(a.Chunks, b.Chunks)
}
