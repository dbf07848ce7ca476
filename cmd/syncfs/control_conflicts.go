package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"time"

	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

// The control API of conflicts: POST /v1/conflicts/list lists them,
// /v1/conflicts/resolve settles one, /v1/conflicts/policy changes the
// store's conflict policy.

// conflictsRequest is the body of every conflicts call.
type conflictsRequest struct {
	Ino    uint64 `json:"ino,omitempty"`    // resolve: st_ino of PATH on the mount
	Path   string `json:"path,omitempty"`   // as the user gave it, for messages
	Keep   string `json:"keep,omitempty"`   // resolve: mine, theirs or both
	Policy string `json:"policy,omitempty"` // policy: copy or newest
}

// conflictsReply is the answer of /v1/conflicts/list and /policy. Paths in
// Conflicts are from the mount's root.
type conflictsReply struct {
	Mountpoint string           `json:"mountpoint"`
	Policy     string           `json:"policy"`
	Conflicts  []index.Conflict `json:"conflicts"`
}

// resolveReply is the answer of /v1/conflicts/resolve. Remove, if set, is
// a conflict copy (absolute path) the command removes through the mount,
// so that the kernel learns of it as of any unlink; Rename, if set, is a
// rename (from, to: absolute paths) it makes through the mount likewise.
type resolveReply struct {
	Message string   `json:"message"`
	Remove  string   `json:"remove,omitempty"`
	Rename  []string `json:"rename,omitempty"`
}

// The values of resolve --keep.
const (
	keepMine   = "mine"
	keepTheirs = "theirs"
	keepBoth   = "both"
)

func (d *daemon) handleConflicts(w http.ResponseWriter, r *http.Request) {
	var req conflictsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeFailure(w, usageError{fmt.Errorf("bad request: %w", err)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	core := conflictsCore{eng: d.eng, idx: d.idx, mnt: d.mnt}
	var out any
	var err error
	switch r.PathValue("op") {
	case "list":
		out, err = core.list(ctx)
	case "resolve":
		out, err = core.resolve(ctx, req)
	case "policy":
		if err = d.eng.SetConflictPolicy(ctx, req.Policy); err == nil {
			out, err = core.list(ctx)
		}
		if errors.Is(err, index.ErrInvalid) {
			err = exitCodeError{exitUsage, fmt.Sprintf("conflict policy %q: want copy or newest", req.Policy)}
		}
	default:
		err = usageError{fmt.Errorf("unknown conflicts call %q", r.PathValue("op"))}
	}
	if err != nil {
		writeFailure(w, err)
		return
	}
	json.NewEncoder(w).Encode(out)
}

// conflictsCore lists and settles conflicts through a mount's engine and
// index.
type conflictsCore struct {
	eng *resolver.Engine
	idx *index.DB
	mnt string
}

func (c conflictsCore) list(ctx context.Context) (conflictsReply, error) {
	cs, err := c.idx.Conflicts(ctx)
	if err != nil {
		return conflictsReply{}, err
	}
	p, err := c.idx.ConflictPolicy()
	if err != nil {
		return conflictsReply{}, err
	}
	if cs == nil {
		cs = []index.Conflict{}
	}
	return conflictsReply{Mountpoint: c.mnt, Policy: p, Conflicts: cs}, nil
}

// abs returns a path from the mount's root as an absolute path.
func (c conflictsCore) abs(p string) string { return path.Join(c.mnt, p) }

// resolve settles the conflict req.Ino takes part in (see the resolve
// command's help for what each --keep does). Nothing it does loses data:
// what is replaced or removed stays in the file's versions.
func (c conflictsCore) resolve(ctx context.Context, req conflictsRequest) (resolveReply, error) {
	switch req.Keep {
	case keepMine, keepTheirs, keepBoth:
	default:
		return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("--keep %q: want mine, theirs or both", req.Keep)}
	}
	all, err := c.idx.ConflictsOf(ctx, req.Ino)
	if errors.Is(err, index.ErrNoConflict) {
		if a, aerr := c.idx.GetAttr(req.Ino); aerr == nil && a.IsDir() {
			return resolveReply{}, exitCodeError{exitUsage, req.Path + " is a directory: give a conflict copy or the file it came from"}
		}
		return resolveReply{}, exitCodeError{exitUsage, req.Path + " is not a conflict copy and has none (syncfs conflicts MOUNTPOINT lists them)"}
	}
	if err != nil {
		return resolveReply{}, err
	}
	var names, cs []index.Conflict
	for _, x := range all {
		if x.Kind == index.KindName {
			if x.CopyIno == req.Ino {
				return c.resolveName(ctx, req, x) // PATH has the conflict name
			}
			names = append(names, x)
		} else {
			cs = append(cs, x)
		}
	}
	if len(names) > 0 {
		if len(names) == 1 && len(cs) == 0 {
			return c.resolveName(ctx, req, names[0])
		}
		return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s takes part in %d conflicts: give the conflict copy or the file under the conflict name to settle one (syncfs conflicts MOUNTPOINT lists them)", req.Path, len(all))}
	}
	var copies, kept []index.Conflict
	for _, x := range cs {
		if x.CopyIno == req.Ino {
			return c.resolveCopy(ctx, req, x) // PATH is the copy
		}
		if x.CopyIno != 0 {
			copies = append(copies, x)
		} else {
			kept = append(kept, x)
		}
	}
	switch {
	case len(copies) == 1 && len(kept) == 0:
		return c.resolveCopy(ctx, req, copies[0])
	case len(copies) == 0:
		return c.resolveKept(ctx, req, kept)
	}
	return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s has %d conflict copies and %d losing versions: name the copy to settle (syncfs conflicts MOUNTPOINT lists them)", req.Path, len(copies), len(kept))}
}

// resolveName settles a name conflict: x.CopyIno was linked again under a
// conflict name after losing the name x.OrigPath, which x.OrigIno holds
// now (0: nothing does). mine keeps what holds the name and removes the
// other; theirs gives the name to the other, replacing what holds it;
// both keeps the conflict name as a name of its own. A directory is
// never removed or replaced this way.
func (c conflictsCore) resolveName(ctx context.Context, req conflictsRequest, x index.Conflict) (resolveReply, error) {
	copyPath, namePath := c.abs(x.CopyPath), c.abs(x.OrigPath)
	loser, err := c.idx.GetAttr(x.CopyIno)
	if err != nil {
		return resolveReply{}, err
	}
	switch req.Keep {
	case keepBoth:
		dir, name, err := c.idx.FirstName(x.CopyIno)
		if err != nil {
			return resolveReply{}, err
		}
		if err := c.idx.KeepConflictName(dir, name); err != nil {
			return resolveReply{}, err
		}
		return resolveReply{Message: fmt.Sprintf("kept both: %s stays as it is and is no longer listed", copyPath)}, nil
	case keepMine:
		if x.OrigIno == 0 {
			return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("nothing holds %s now: --keep theirs gives %s that name, --keep both keeps it as it is", namePath, copyPath)}
		}
		if loser.IsDir() {
			return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s is a directory: --keep mine would remove it and all it holds; remove it yourself if you mean to, or --keep both", copyPath)}
		}
		if _, err := c.synced(ctx, x.CopyIno, copyPath); err != nil {
			return resolveReply{}, err
		}
		return resolveReply{Message: fmt.Sprintf("kept %s; removing %s (its content stays in syncfs versions %s)", namePath, copyPath, namePath), Remove: copyPath}, nil
	}
	// theirs
	if loser.IsDir() {
		return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s is a directory: --keep theirs does not move directories; rename it yourself, or --keep both", copyPath)}
	}
	if x.OrigIno == 0 {
		return resolveReply{Message: fmt.Sprintf("%s takes its name back: %s", copyPath, namePath), Rename: []string{copyPath, namePath}}, nil
	}
	holder, err := c.idx.GetAttr(x.OrigIno)
	if err != nil {
		return resolveReply{}, err
	}
	if holder.IsDir() {
		return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s is a directory: --keep theirs would replace it and all it holds; move it away yourself first, or --keep both", namePath)}
	}
	if _, err := c.synced(ctx, x.OrigIno, namePath); err != nil {
		return resolveReply{}, err
	}
	return resolveReply{Message: fmt.Sprintf("%s takes the name %s (the file it replaces stays in syncfs versions %s)", copyPath, namePath, namePath), Rename: []string{copyPath, namePath}}, nil
}

// resolveCopy settles a conflict kept as a copy.
func (c conflictsCore) resolveCopy(ctx context.Context, req conflictsRequest, x index.Conflict) (resolveReply, error) {
	copyPath := c.abs(x.CopyPath)
	if req.Keep == keepBoth {
		if err := c.idx.MarkConflictResolved(x.CopyIno); err != nil {
			return resolveReply{}, err
		}
		return resolveReply{Message: fmt.Sprintf("kept both: %s stays as it is and is no longer listed", copyPath)}, nil
	}
	if x.OrigIno == 0 {
		return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("the original of %s is gone here: --keep both keeps the copy (then rename it as you like)", copyPath)}
	}
	origPath := c.abs(x.OrigPath)
	if req.Keep == keepMine {
		return resolveReply{Message: fmt.Sprintf("kept %s; removing the copy %s (its content stays in syncfs versions)", origPath, copyPath), Remove: copyPath}, nil
	}
	// theirs: the copy's content becomes a new version of the original.
	a, err := c.synced(ctx, x.CopyIno, copyPath)
	if err != nil {
		return resolveReply{}, err
	}
	content, err := c.idx.ContentOf(a.Ino, a.Cver)
	if err != nil {
		return resolveReply{}, err
	}
	if _, err := c.eng.RestoreOver(ctx, x.OrigIno, index.Version{FileID: a.FileID, Mode: a.Mode, Size: a.Size, Mtime: a.Mtime, Content: &content}); err != nil {
		return resolveReply{}, describeVersionsErr(err, origPath)
	}
	return resolveReply{Message: fmt.Sprintf("%s now holds the copy's content (the replaced version stays in syncfs versions); removing the copy %s", origPath, copyPath), Remove: copyPath}, nil
}

// synced returns the attributes of ino once its content is uploaded: a
// Staged file is flushed first (within ctx).
func (c conflictsCore) synced(ctx context.Context, ino uint64, shown string) (index.Attr, error) {
	a, err := c.idx.GetAttr(ino)
	if err != nil || a.State != index.StateStaged {
		return a, err
	}
	if err := c.eng.Flush(ctx, nil); err != nil {
		return a, exitCodeError{exitError, fmt.Sprintf("%s has changes not yet uploaded (%v): close it or wait, then resolve again", shown, err)}
	}
	if a, err = c.idx.GetAttr(ino); err == nil && a.State == index.StateStaged {
		return a, exitCodeError{exitError, shown + " has changes not yet uploaded (open for writing?): close it, then resolve again"}
	}
	return a, err
}

// resolveKept settles losers kept only in the file's versions (policy
// newest): every choice ends with a version of the file that has seen them.
func (c conflictsCore) resolveKept(ctx context.Context, req conflictsRequest, kept []index.Conflict) (resolveReply, error) {
	x := kept[0]
	origPath := c.abs(x.OrigPath)
	switch req.Keep {
	case keepMine:
		if err := c.idx.Supersede(x.OrigIno); err != nil {
			return resolveReply{}, err
		}
		return resolveReply{Message: fmt.Sprintf("kept %s as it is; %d losing version(s) stay in syncfs versions", origPath, len(kept))}, nil
	case keepTheirs:
		if len(kept) > 1 {
			return resolveReply{}, exitCodeError{exitUsage, fmt.Sprintf("%s has %d losing versions: restore the one you want with syncfs restore --version N, or keep both", origPath, len(kept))}
		}
		v, err := c.idx.LoserVersion(x)
		if err != nil {
			return resolveReply{}, err
		}
		if _, err := c.eng.RestoreOver(ctx, x.OrigIno, v); err != nil {
			return resolveReply{}, describeVersionsErr(err, origPath)
		}
		return resolveReply{Message: fmt.Sprintf("%s now holds %s's version of %s (the replaced one stays in syncfs versions)", origPath, x.Loser.Device, time.Unix(0, x.Loser.HLC).UTC().Format(time.DateTime))}, nil
	}
	// both: each loser comes back as a file next to the original, named as
	// a conflict copy would be.
	dir, name, err := c.idx.FirstName(x.OrigIno)
	if err != nil {
		return resolveReply{}, err
	}
	orig, err := c.idx.GetAttr(x.OrigIno)
	if err != nil {
		return resolveReply{}, err
	}
	var made []string
	for _, k := range kept {
		v, err := c.idx.LoserVersion(k)
		if err != nil {
			return resolveReply{}, err
		}
		n := index.ConflictName(name, k.Loser.Device, k.Loser.HLC, false)
		node := index.NewNode{Mode: v.Mode & 0o7777, UID: orig.UID, GID: orig.GID}
		if _, err := c.eng.RestoreAsNew(ctx, dir, n, v, node); err != nil && !errors.Is(err, index.ErrExist) {
			return resolveReply{}, describeVersionsErr(err, n)
		}
		made = append(made, n)
	}
	if err := c.idx.Supersede(x.OrigIno); err != nil {
		return resolveReply{}, err
	}
	return resolveReply{Message: fmt.Sprintf("kept both: %s, and beside it %q", origPath, made)}, nil
}
