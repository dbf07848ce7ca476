package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
)

// Conflicts as the user sees them, and the store's conflict policy.
//
// A conflict copy (conflict.go) is recorded in the conflict_copies table
// with the file it was made from (its original) and the losing version's
// device and time; its journal records carry the original's file ID
// (FileRecord.ConflictOf), so that every device can list it, whichever
// device made it. A copy settled by hand and kept as it is (resolve
// --keep both) is marked resolved by a new version of the copy
// (FileRecord.Resolved), which every device applies.
//
// Under the "newest" policy no copy is made: the winner keeps the name and
// the losing version stays only in the file's history (versions). Such a
// loser is found in the history (see keptLosers) and listed until a newer
// version of the file (an edit, or a resolve on any device) has seen it.

// Conflict policies, as the store's config names them.
const (
	PolicyCopy   = "copy"   // a losing version is kept as a conflict copy
	PolicyNewest = "newest" // a losing version is kept only in the file's versions
)

// ErrNoConflict reports a file that is neither a conflict copy nor the
// original of one (nor, under "newest", a file with a losing version).
var ErrNoConflict = errors.New("not in a conflict")

// ConflictSide is one version of a conflict: the device that made it and
// when (hybrid time, nanoseconds since the epoch).
type ConflictSide struct {
	Device string `json:"device"`
	HLC    int64  `json:"hlc"`
}

// Conflict is one conflict not yet settled by hand.
type Conflict struct {
	// Kind is KindContent or KindName (conflictnames.go: then the copy is
	// the file linked again under a conflict name, the original what
	// holds the name it lost, and OrigPath that name even when free).
	Kind string `json:"kind"`
	// What says in a few words what clashed, for a name conflict.
	What string `json:"what,omitempty"`
	// CopyIno, CopyID and CopyPath name the conflict copy; all zero for a
	// loser kept only in the original's versions (policy "newest").
	CopyIno  uint64 `json:"copy_ino,omitempty"`
	CopyID   string `json:"copy_id,omitempty"`
	CopyPath string `json:"copy_path,omitempty"`
	// OrigID is the file the losing version is a version of; OrigIno and
	// OrigPath are zero when that file is gone here.
	OrigID   string `json:"orig_id"`
	OrigIno  uint64 `json:"orig_ino,omitempty"`
	OrigPath string `json:"orig_path,omitempty"`
	// Loser is the losing version; Winner the version the original holds
	// now (nil when it is gone).
	Loser  ConflictSide  `json:"loser"`
	Winner *ConflictSide `json:"winner,omitempty"`
	// LoserVV is the losing vector of a loser kept only in versions.
	LoserVV VV `json:"loser_vv,omitempty"`
}

// SetConflictPolicy sets how concurrent content versions are settled from
// now on: PolicyCopy or PolicyNewest. It is kept in the index, so that it
// holds across restarts until the store's config says otherwise.
func (db *DB) SetConflictPolicy(policy string) error {
	if policy != PolicyCopy && policy != PolicyNewest {
		return fmt.Errorf("conflict policy %q: want %s or %s: %w", policy, PolicyCopy, PolicyNewest, ErrInvalid)
	}
	return db.SetMeta("conflict_policy", []byte(policy))
}

// ConflictPolicy returns the policy in force (PolicyCopy if none was set).
func (db *DB) ConflictPolicy() (string, error) {
	v, err := db.Meta("conflict_policy")
	if err != nil || len(v) == 0 {
		return PolicyCopy, err
	}
	return string(v), nil
}

// conflictTx is what the helpers here need of a write transaction.
type conflictTx interface {
	Exec(query string, args ...any) (sql.Result, error)
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
}

// newestTx reports whether the policy in force is PolicyNewest.
func newestTx(tx conflictTx) (bool, error) {
	var v []byte
	err := tx.QueryRow("SELECT value FROM meta WHERE key='conflict_policy'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("conflict policy: %w", err)
	}
	return string(v) == PolicyNewest, nil
}

// noteCopyTx records that copyID is a conflict copy of origID whose losing
// version is loser. The first note of the loser stays (later versions of
// the copy are edits of it); resolved, once set, stays set.
func noteCopyTx(tx conflictTx, copyID, origID string, loser version, resolved bool) error {
	if _, err := tx.Exec(`INSERT INTO conflict_copies(file_id, orig_id, resolved, loser_hlc, loser_author) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(file_id) DO UPDATE SET orig_id=CASE WHEN excluded.orig_id!='' THEN excluded.orig_id ELSE orig_id END,
		resolved=max(resolved, excluded.resolved)`, copyID, origID, resolved, loser.hlc, loser.dev); err != nil {
		return fmt.Errorf("note conflict copy %s: %w", copyID, err)
	}
	return nil
}

// noteCopyRecordTx records what a file record says of conflict copies.
func noteCopyRecordTx(tx conflictTx, f *FileRecord, v version) error {
	if f.ConflictOf == "" && !f.Resolved || f.Deleted {
		return nil
	}
	return noteCopyTx(tx, f.ID, f.ConflictOf, v, f.Resolved)
}

// copyOfTx returns what the index knows of fid as a conflict copy, for its
// records: the original's file ID ("" if not a copy) and whether it was
// resolved.
func copyOfTx(tx conflictTx, fid string) (string, bool, error) {
	var orig string
	var resolved bool
	err := tx.QueryRow("SELECT orig_id, resolved FROM conflict_copies WHERE file_id=?", fid).Scan(&orig, &resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("conflict copy %s: %w", fid, err)
	}
	return orig, resolved, nil
}

// Conflicts returns the conflicts not yet settled by hand: every live,
// unresolved conflict copy, every loser kept only in versions that the
// version its file holds has not seen, and every file linked again under
// a conflict name (conflictnames.go). They come sorted by path.
func (db *DB) Conflicts(ctx context.Context) ([]Conflict, error) {
	var out []Conflict
	// The losing version is the copy's first recorded version (its record
	// carries the loser's time and device), else the one noted when the
	// copy was made here: the same on every device once all have synced.
	rows, err := db.settled().QueryContext(ctx, `SELECT c.ino, c.file_id, cc.orig_id,
		coalesce((SELECT h.hlc FROM history h WHERE h.file_id=c.file_id ORDER BY h.hlc, h.author LIMIT 1), cc.loser_hlc),
		coalesce((SELECT h.author FROM history h WHERE h.file_id=c.file_id ORDER BY h.hlc, h.author LIMIT 1), cc.loser_author),
		c.hlc, c.author,
		coalesce(o.ino, 0), coalesce(o.hlc, 0), coalesce(o.author, ''), coalesce(o.nlink, 0)
		FROM conflict_copies cc JOIN inodes c ON c.file_id=cc.file_id LEFT JOIN inodes o ON o.file_id=cc.orig_id
		WHERE cc.resolved=0 AND cc.orig_id!='' AND c.nlink>0 AND c.state!=?`, StateTombstoned)
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	for rows.Next() {
		c := Conflict{Kind: KindContent}
		var chlc, whlc int64
		var cdev, wdev string
		var onlink int
		if err := rows.Scan(&c.CopyIno, &c.CopyID, &c.OrigID, &c.Loser.HLC, &c.Loser.Device, &chlc, &cdev, &c.OrigIno, &whlc, &wdev, &onlink); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		if c.Loser.HLC == 0 {
			// Noted without its version (an old record): the copy's own.
			c.Loser = ConflictSide{Device: cdev, HLC: chlc}
		}
		if onlink > 0 {
			c.Winner = &ConflictSide{Device: wdev, HLC: whlc}
		} else {
			c.OrigIno = 0
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	losers, err := db.keptLosers(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, losers...)
	for i := range out {
		c := &out[i]
		if c.CopyIno != 0 {
			if c.CopyPath, err = db.firstPath(c.CopyIno); err != nil {
				return nil, err
			}
		}
		if c.OrigIno != 0 {
			if c.OrigPath, err = db.firstPath(c.OrigIno); err != nil {
				return nil, err
			}
		}
	}
	names, err := db.nameConflicts(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, names...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.OrigPath != b.OrigPath {
			return a.OrigPath < b.OrigPath
		}
		if a.CopyPath != b.CopyPath {
			return a.CopyPath < b.CopyPath
		}
		return a.Loser.HLC < b.Loser.HLC
	})
	return out, nil
}

// keptLosers returns the losers kept only in versions: versions of a live
// regular file, in its recorded history, that are concurrent with the
// version it holds, newest of their line (no recorded version follows
// them), whose content the held version has not seen (it is neither the
// held content nor that of a version the held one follows), and that no
// conflict copy keeps. History is the same on every device that has
// applied the same batches, so every such device lists the same ones.
func (db *DB) keptLosers(ctx context.Context) ([]Conflict, error) {
	copied := map[string]bool{} // original file ID + loser time + loser device
	rows, err := db.settled().QueryContext(ctx, `SELECT cc.orig_id,
		coalesce((SELECT h.hlc FROM history h WHERE h.file_id=cc.file_id ORDER BY h.hlc, h.author LIMIT 1), cc.loser_hlc),
		coalesce((SELECT h.author FROM history h WHERE h.file_id=cc.file_id ORDER BY h.hlc, h.author LIMIT 1), cc.loser_author)
		FROM conflict_copies cc WHERE cc.orig_id!=''`)
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	for rows.Next() {
		var orig, dev string
		var hlc int64
		if err := rows.Scan(&orig, &hlc, &dev); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		copied[fmt.Sprintf("%s/%d/%s", orig, hlc, dev)] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}

	type held struct {
		ino     uint64
		fid     string
		vv      VV
		side    ConflictSide
		content []byte
	}
	var files []held
	rows, err = db.settled().QueryContext(ctx, `SELECT i.ino, i.file_id, i.base_vv, i.hlc, i.author, coalesce(i.content, x'') FROM inodes i
		WHERE i.nlink>0 AND i.state!=? AND (i.mode & 61440)=32768 AND (SELECT count(*) FROM history h WHERE h.file_id=i.file_id) > 1`, StateTombstoned)
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	for rows.Next() {
		var h held
		var vs string
		if err := rows.Scan(&h.ino, &h.fid, &vs, &h.side.HLC, &h.side.Device, &h.content); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		h.vv = parseVV(vs)
		files = append(files, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}

	type rec struct {
		vv      VV
		side    ConflictSide
		content []byte
		deleted bool
	}
	var out []Conflict
	for _, f := range files {
		hrows, err := db.settled().QueryContext(ctx, "SELECT vv, hlc, author, coalesce(content, x''), deleted FROM history WHERE file_id=?", f.fid)
		if err != nil {
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		var vers []rec
		for hrows.Next() {
			var r rec
			var vs string
			if err := hrows.Scan(&vs, &r.side.HLC, &r.side.Device, &r.content, &r.deleted); err != nil {
				hrows.Close()
				return nil, fmt.Errorf("list conflicts: %w", err)
			}
			r.vv = parseVV(vs)
			vers = append(vers, r)
		}
		hrows.Close()
		if err := hrows.Err(); err != nil {
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		seen := map[string]bool{string(f.content): true}
		for _, r := range vers {
			if o := r.vv.Compare(f.vv); o == Before || o == Equal {
				seen[string(r.content)] = true
			}
		}
		w := f.side
	next:
		for _, r := range vers {
			if r.deleted || len(r.content) == 0 || seen[string(r.content)] || r.vv.Compare(f.vv) != Concurrent ||
				copied[fmt.Sprintf("%s/%d/%s", f.fid, r.side.HLC, r.side.Device)] {
				continue
			}
			for _, o := range vers {
				if r.vv.Compare(o.vv) == Before {
					continue next // an older version of its line
				}
			}
			out = append(out, Conflict{Kind: KindContent, OrigID: f.fid, OrigIno: f.ino, Loser: r.side, Winner: &w, LoserVV: r.vv})
		}
	}
	return out, nil
}

// ConflictsOf returns the unsettled conflicts ino takes part in: as a
// conflict copy, or as the original of copies or of losers kept in its
// versions. None gives ErrNoConflict.
func (db *DB) ConflictsOf(ctx context.Context, ino uint64) ([]Conflict, error) {
	all, err := db.Conflicts(ctx)
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for _, c := range all {
		if c.CopyIno == ino || c.OrigIno == ino {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inode %d: %w", ino, ErrNoConflict)
	}
	return out, nil
}

// LoserVersion returns the recorded version a loser kept only in versions
// (Conflict.LoserVV set) stands for, with its content.
func (db *DB) LoserVersion(c Conflict) (Version, error) {
	row := db.settled().QueryRow("SELECT "+historyCols+" FROM history WHERE file_id=? AND deleted=0 AND (vv=? OR hlc=? AND author=?) ORDER BY vv=? DESC LIMIT 1",
		c.OrigID, c.LoserVV.encode(), c.Loser.HLC, c.Loser.Device, c.LoserVV.encode())
	v, err := scanVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, fmt.Errorf("losing version of %s: %w", c.OrigID, ErrNotExist)
	}
	if err != nil {
		return Version{}, fmt.Errorf("losing version of %s: %w", c.OrigID, err)
	}
	return v, nil
}

// MarkConflictResolved settles the conflict copy ino by keeping it as it
// is: a new version of the copy, marked resolved, is queued for the
// journal so that every device stops listing it.
func (db *DB) MarkConflictResolved(ino uint64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.withTx(func(tx *sql.Tx) error {
		var fid string
		var nlink int
		err := tx.QueryRow("SELECT file_id, nlink FROM inodes WHERE ino=?", ino).Scan(&fid, &nlink)
		if errors.Is(err, sql.ErrNoRows) || err == nil && nlink == 0 {
			return fmt.Errorf("resolve inode %d: %w", ino, ErrNotExist)
		}
		if err != nil {
			return fmt.Errorf("resolve inode %d: %w", ino, err)
		}
		res, err := tx.Exec("UPDATE conflict_copies SET resolved=1 WHERE file_id=? AND orig_id!=''", fid)
		if err != nil {
			return fmt.Errorf("resolve inode %d: %w", ino, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("resolve inode %d: not a conflict copy: %w", ino, ErrNoConflict)
		}
		return db.bumpFile(tx, ino, false)
	})
}

// Supersede makes a new version of the file ino as it is (same content and
// attributes): its vector then dominates every version merged into it, so
// losers kept only in its versions count as seen on every device. A file
// with unsynced content needs nothing: its next upload is such a version.
func (db *DB) Supersede(ino uint64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.withTx(func(tx *sql.Tx) error {
		var mode uint32
		var nlink int
		err := tx.QueryRow("SELECT mode, nlink FROM inodes WHERE ino=?", ino).Scan(&mode, &nlink)
		if errors.Is(err, sql.ErrNoRows) || err == nil && nlink == 0 {
			return fmt.Errorf("new version of inode %d: %w", ino, ErrNotExist)
		}
		if err != nil {
			return fmt.Errorf("new version of inode %d: %w", ino, err)
		}
		if mode&syscall.S_IFMT == syscall.S_IFDIR {
			return fmt.Errorf("new version of inode %d: %w", ino, ErrIsDir)
		}
		return db.bumpFile(tx, ino, false)
	})
}

// FirstName returns the first entry naming ino: its directory and name.
func (db *DB) FirstName(ino uint64) (uint64, string, error) {
	var parent uint64
	var name []byte
	err := db.settled().QueryRow("SELECT parent, name FROM dentries WHERE ino=? ORDER BY id LIMIT 1", ino).Scan(&parent, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("name of inode %d: %w", ino, ErrNotExist)
	}
	if err != nil {
		return 0, "", fmt.Errorf("name of inode %d: %w", ino, err)
	}
	return parent, string(name), nil
}

// firstPath returns the smallest of ino's paths: a file linked under two
// names shows the same one on every device (PathOf takes the oldest entry
// here, which differs between devices).
func (db *DB) firstPath(ino uint64) (string, error) {
	rows, err := db.settled().Query("SELECT parent, name FROM dentries WHERE ino=?", ino)
	if err != nil {
		return "", fmt.Errorf("path of %d: %w", ino, err)
	}
	type ent struct {
		parent uint64
		name   []byte
	}
	var ents []ent
	for rows.Next() {
		var e ent
		if err := rows.Scan(&e.parent, &e.name); err != nil {
			rows.Close()
			return "", fmt.Errorf("path of %d: %w", ino, err)
		}
		ents = append(ents, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("path of %d: %w", ino, err)
	}
	best := ""
	for _, e := range ents {
		dir, err := db.PathOf(e.parent)
		if err != nil {
			return "", err
		}
		p := strings.TrimSuffix(dir, "/") + "/" + string(e.name)
		if best == "" || p < best {
			best = p
		}
	}
	if best == "" {
		return "(unlinked)", nil
	}
	return best, nil
}

// deferMergeTx notes that the vector lost (under "newest") to ino's
// unsynced version is to be merged into ino's vector once that version is
// sealed (takeDeferredTx).
func deferMergeTx(tx conflictTx, ino uint64, lost VV) error {
	if _, err := tx.Exec("INSERT INTO pending_merges(ino, vv) VALUES(?, ?)", ino, lost.encode()); err != nil {
		return fmt.Errorf("note losing version of inode %d: %w", ino, err)
	}
	return nil
}

// takeDeferredTx merges the vectors deferred for ino into its vector (and,
// for a deletion, into its tombstone) and returns vv merged with them. A
// version sealed before the merge keeps the vector it had.
func takeDeferredTx(tx conflictTx, ino uint64, fid string, vv VV, deleted bool) (VV, error) {
	rows, err := tx.Query("SELECT vv FROM pending_merges WHERE ino=?", ino)
	if err != nil {
		return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
	}
	var add []VV
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
		}
		add = append(add, parseVV(s))
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(add) == 0 {
		return vv, err
	}
	var cur string
	if err := tx.QueryRow("SELECT vv FROM inodes WHERE ino=?", ino).Scan(&cur); err != nil {
		return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
	}
	merged := parseVV(cur)
	for _, w := range add {
		merged, vv = merged.Merge(w), vv.Merge(w)
	}
	if _, err := tx.Exec("UPDATE inodes SET vv=? WHERE ino=?", merged.encode(), ino); err != nil {
		return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
	}
	if _, err := tx.Exec("DELETE FROM pending_merges WHERE ino=?", ino); err != nil {
		return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
	}
	if deleted {
		if _, err := tx.Exec("UPDATE tombstones SET vv=? WHERE file_id=?", vv.encode(), fid); err != nil {
			return vv, fmt.Errorf("deferred vectors of inode %d: %w", ino, err)
		}
	}
	return vv, nil
}
