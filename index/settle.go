package index

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"
)

// Settling names: the versions of one entry (settleNameTx), what a live
// file's names are (settleLinksTx), and two directories of one name
// merging (mergeDirTx). See the rules at the top of conflict.go.

// settleLinksTx links a live file where entry versions name it, so that
// its names follow from the entry versions alone, whatever order they
// came in: every entry with a version of its own that names it (a
// directory: the latest such entry that does not put it below itself, if
// it has no such name yet); failing that, one entry a relink made (the
// first by directory and name). Once it has a name of its own, links made
// by relinks go. It reports whether the file has a name.
func (db *DB) settleLinksTx(tx *sql.Tx, o orphan, st *applyState) (bool, error) {
	dir := o.mode&syscall.S_IFMT == syscall.S_IFDIR
	type link struct {
		parent uint64
		pfid   string
		name   []byte
		v      version
		reg    bool // an entry version names the file there
	}
	scan := func(q string, args ...any) ([]link, error) {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", o.fid, err)
		}
		defer rows.Close()
		var out []link
		for rows.Next() {
			var l link
			var vvs string
			if err := rows.Scan(&l.parent, &l.pfid, &l.name, &vvs, &l.v.hlc, &l.v.dev, &l.reg); err != nil {
				return nil, fmt.Errorf("link %s: %w", o.fid, err)
			}
			l.v.vv = parseVV(vvs)
			out = append(out, l)
		}
		return out, rows.Err()
	}
	// A link counts as the file's own when the entry's version names it;
	// otherwise (no version, or one that names nothing) it is a relink.
	cur, err := scan(`SELECT d.parent, p.file_id, d.name, CASE WHEN v.child=?2 THEN v.vv ELSE '{}' END, coalesce(v.hlc, 0), coalesce(v.author, ''), coalesce(v.child=?2, 0) FROM dentries d
		JOIN inodes p ON p.ino=d.parent LEFT JOIN dentry_versions v ON v.parent_fid=p.file_id AND v.name=d.name
		WHERE d.ino=?1 ORDER BY p.file_id, d.name`, o.ino, o.fid)
	if err != nil {
		return false, err
	}
	own := false
	for _, l := range cur {
		own = own || len(l.v.vv) > 0
	}
	add := func(l link) error {
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", l.parent, l.name, o.ino); err != nil {
			return fmt.Errorf("link %s: %w", o.fid, err)
		}
		st.touched[l.parent] = true
		st.changes = append(st.changes, Change{Parent: l.parent, Name: string(l.name)})
		return nil
	}
	drop := func(l link) error {
		if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", l.parent, l.name); err != nil {
			return fmt.Errorf("link %s: %w", o.fid, err)
		}
		st.touched[l.parent] = true
		st.changes = append(st.changes, Change{Parent: l.parent, Name: string(l.name)})
		return nil
	}
	named, err := scan(`SELECT p.ino, v.parent_fid, v.name, v.vv, v.hlc, v.author, 1 FROM dentry_versions v JOIN inodes p ON p.file_id=v.parent_fid
		WHERE v.child=? AND v.name!=x'' AND p.state!=? AND (p.mode & 61440)=16384
		AND NOT EXISTS(SELECT 1 FROM dentries d WHERE d.parent=p.ino AND d.name=v.name)
		ORDER BY v.parent_fid, v.name`, o.fid, StateTombstoned)
	if err != nil {
		return false, err
	}
	var relinks []link
	if !dir || !own {
		var best *link
		for i := range named {
			l := named[i]
			if len(l.v.vv) == 0 {
				relinks = append(relinks, l)
				continue
			}
			if !dir {
				if err := add(l); err != nil {
					return false, err
				}
				own = true
				continue
			}
			if db.checkNotAncestor(tx, o.ino, l.parent) == nil && (best == nil || entryLater(l.v, o.fid, best.v, o.fid)) {
				best = &named[i]
			}
		}
		if best != nil {
			if err := add(*best); err != nil {
				return false, err
			}
			own = true
		}
	}
	if own {
		for _, l := range cur {
			if len(l.v.vv) == 0 {
				if err := drop(l); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	// Only relinks: the first of those an entry version names, linked or
	// not, whatever order they came in; failing that, the first link
	// derived here.
	var first *link
	for i := range relinks {
		l := &relinks[i]
		if dir && db.checkNotAncestor(tx, o.ino, l.parent) != nil {
			continue
		}
		if first == nil || l.pfid+"/"+string(l.name) < first.pfid+"/"+string(first.name) {
			first = l
		}
	}
	kept := false
	for _, l := range cur {
		better := first == nil && !kept
		if first != nil && l.reg {
			better = !first.reg || l.pfid+"/"+string(l.name) < first.pfid+"/"+string(first.name)
		}
		if better {
			if kept {
				if err := drop(*first); err != nil {
					return false, err
				}
			}
			first, kept = &l, true
			continue
		}
		if err := drop(l); err != nil {
			return false, err
		}
	}
	if first != nil && !kept {
		return true, add(*first)
	}
	return kept, nil
}

// mergedIntoTx returns the directory fid was merged into (following
// merges of merges), or fid itself. A merge is kept as an entry version
// with an empty name under the merged directory, naming the winner: no
// path component is empty, and checkpoints carry entry versions.
func mergedIntoTx(tx *sql.Tx, fid string) (string, error) {
	if fid == "" || fid == RootFileID {
		return fid, nil
	}
	for i := 0; i < 64; i++ {
		var into string
		err := tx.QueryRow("SELECT child FROM dentry_versions WHERE parent_fid=? AND name=x''", fid).Scan(&into)
		if errors.Is(err, sql.ErrNoRows) || err == nil && into == "" {
			return fid, nil
		}
		if err != nil {
			return "", fmt.Errorf("merged directory %s: %w", fid, err)
		}
		fid = into
	}
	return "", fmt.Errorf("merged directory %s: chain too long: %w", fid, ErrInvalid)
}

// isDirFileTx reports whether fid is a directory, as far as this index
// knows it (its inode, else its latest recorded version).
func isDirFileTx(tx *sql.Tx, fid string) (bool, error) {
	var mode uint32
	err := tx.QueryRow("SELECT mode FROM inodes WHERE file_id=?", fid).Scan(&mode)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRow("SELECT mode FROM history WHERE file_id=? ORDER BY hlc DESC LIMIT 1", fid).Scan(&mode)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("type of %s: %w", fid, err)
	}
	return mode&syscall.S_IFMT == syscall.S_IFDIR, nil
}

// entryWinsTx reports whether entry version a (naming achild) beats b
// (naming bchild) for one name: between concurrent versions naming a
// directory and a non-directory, the directory; otherwise the later
// (entryLater).
func entryWinsTx(tx *sql.Tx, a version, achild string, b version, bchild string, concurrent bool) (bool, error) {
	if concurrent && achild != "" && bchild != "" && achild != bchild {
		ad, err := isDirFileTx(tx, achild)
		if err != nil {
			return false, err
		}
		bd, err := isDirFileTx(tx, bchild)
		if err != nil {
			return false, err
		}
		if ad != bd {
			return ad, nil
		}
	}
	return entryLater(a, achild, b, bchild), nil
}

// bothDirsTx reports whether inodes a and b are both live directories.
func bothDirsTx(tx *sql.Tx, a, b uint64) (bool, error) {
	if a == 0 || b == 0 || a == b {
		return false, nil
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM inodes WHERE ino IN (?, ?) AND (mode & 61440)=16384 AND state!=?", a, b, StateTombstoned).Scan(&n); err != nil {
		return false, fmt.Errorf("apply entry: %w", err)
	}
	return n == 2, nil
}

// mergeDirTx merges directory from into directory into: two directories
// made under one name on two devices, into being the one whose entry
// won. Every entry version under from moves under into and is settled
// there against into's entry of the same name by the usual rules (a
// non-directory that loses gets a conflict name, two directories merge
// again); from is remembered as merged into into, so that versions of
// from and entries under it that arrive later (from devices that had not
// seen the merge) are applied to into; and from goes, without a deletion:
// every device derives the same merge from the same two entries.
func (db *DB) mergeDirTx(tx *sql.Tx, from, into uint64, st *applyState) error {
	var ffid, ifid string
	if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", from).Scan(&ffid); err != nil {
		return fmt.Errorf("merge directory %d: %w", from, err)
	}
	if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", into).Scan(&ifid); err != nil {
		return fmt.Errorf("merge directory %d: %w", into, err)
	}
	if ffid == RootFileID {
		return nil
	}
	if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc, author, child) VALUES(?, x'', '{}', 0, '', ?)
		ON CONFLICT(parent_fid, name) DO UPDATE SET child=excluded.child`, ffid, ifid); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	// Directories merged into from earlier now lead to into.
	if _, err := tx.Exec("UPDATE dentry_versions SET child=? WHERE name=x'' AND child=?", ifid, ffid); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	rows, err := tx.Query("SELECT parent, name FROM dentries WHERE ino=?", from)
	if err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	var gone []Change
	for rows.Next() {
		var c Change
		var name []byte
		if err := rows.Scan(&c.Parent, &name); err != nil {
			rows.Close()
			return fmt.Errorf("merge directory %s: %w", ffid, err)
		}
		c.Name = string(name)
		gone = append(gone, c)
	}
	rows.Close()
	if _, err := tx.Exec("DELETE FROM dentries WHERE ino=?", from); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	for _, c := range gone {
		st.touched[c.Parent] = true
	}
	st.changes = append(st.changes, gone...)

	rows, err = tx.Query("SELECT name, vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name!=x'' ORDER BY name", ffid)
	if err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	var ents []DentryRecord
	for rows.Next() {
		var d DentryRecord
		var vvs string
		if err := rows.Scan(&d.Name, &vvs, &d.HLC, &d.Dev, &d.Child); err != nil {
			rows.Close()
			return fmt.Errorf("merge directory %s: %w", ffid, err)
		}
		d.Parent, d.VV = ifid, parseVV(vvs)
		ents = append(ents, d)
	}
	rows.Close()
	if _, err := tx.Exec("DELETE FROM dentry_versions WHERE parent_fid=? AND name!=x''", ffid); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	// Its children lose their names in from; each entry then settles in into.
	crows, err := tx.Query("SELECT ino, name FROM dentries WHERE parent=?", from)
	if err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	for crows.Next() {
		var ino uint64
		var name []byte
		if err := crows.Scan(&ino, &name); err != nil {
			crows.Close()
			return fmt.Errorf("merge directory %s: %w", ffid, err)
		}
		st.touched[ino] = true
		st.changes = append(st.changes, Change{Parent: from, Name: string(name)})
	}
	crows.Close()
	if _, err := tx.Exec("DELETE FROM dentries WHERE parent=?", from); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	if _, err := tx.Exec("UPDATE inodes SET home_parent=? WHERE home_parent=?", ifid, ffid); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	for i := range ents {
		d := &ents[i]
		key := "d:" + ffid + ":" + hex.EncodeToString(d.Name)
		res, err := tx.Exec("DELETE FROM outbox WHERE key=?", key)
		if err != nil {
			return fmt.Errorf("merge directory %s: %w", ffid, err)
		}
		if err := db.applyDentryTx(tx, d.Dev, d, st); err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			// A local change not sent yet: it is sent as into's entry.
			if err := db.queueDentry(tx, into, ifid, d.Name); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec("UPDATE inodes SET nlink=0, state=? WHERE ino=?", StateTombstoned, from); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", from)); err != nil {
		return fmt.Errorf("merge directory %s: %w", ffid, err)
	}
	st.touched[into] = true
	st.changes = append(st.changes, Change{Ino: from}, Change{Ino: into})
	return db.purgeTx(tx, from)
}

// applyMergeRecordTx applies a merge as a checkpoint carries it (an entry
// version with an empty name): the directory d.Parent was merged into
// d.Child.
func (db *DB) applyMergeRecordTx(tx *sql.Tx, d *DentryRecord, st *applyState) error {
	into, err := mergedIntoTx(tx, d.Child)
	if err != nil || into == "" || into == d.Parent {
		return err
	}
	var from, to uint64
	var fstate, tstate State
	ferr := tx.QueryRow("SELECT ino, state FROM inodes WHERE file_id=? AND (mode & 61440)=16384", d.Parent).Scan(&from, &fstate)
	terr := tx.QueryRow("SELECT ino, state FROM inodes WHERE file_id=? AND (mode & 61440)=16384", into).Scan(&to, &tstate)
	if ferr == nil && terr == nil && fstate != StateTombstoned && tstate != StateTombstoned {
		return db.mergeDirTx(tx, from, to, st)
	}
	for _, err := range []error{ferr, terr} {
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("apply merge: %w", err)
		}
	}
	if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc, author, child) VALUES(?, x'', '{}', 0, '', ?)
		ON CONFLICT(parent_fid, name) DO UPDATE SET child=excluded.child`, d.Parent, into); err != nil {
		return fmt.Errorf("apply merge: %w", err)
	}
	return nil
}

// touchNamedUnderTx marks for settling the live files that entry versions
// under f name, when f is a directory that has just come (back): entries
// that arrived while it was gone here are linked now.
func touchNamedUnderTx(tx *sql.Tx, f *FileRecord, st *applyState) error {
	if f.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil
	}
	rows, err := tx.Query(`SELECT i.ino FROM dentry_versions v JOIN inodes i ON i.file_id=v.child
		WHERE v.parent_fid=? AND v.name!=x'' AND i.state!=?`, f.ID, StateTombstoned)
	if err != nil {
		return fmt.Errorf("entries under %s: %w", f.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ino uint64
		if err := rows.Scan(&ino); err != nil {
			return fmt.Errorf("entries under %s: %w", f.ID, err)
		}
		st.touched[ino] = true
	}
	return rows.Err()
}

// entryVer is one version of an entry: its version and the child it names.
type entryVer struct {
	v     version
	child string
}

// entryVers is a set of entry versions of one name.
type entryVers []entryVer

func (s entryVers) has(e entryVer) bool {
	for _, x := range s {
		if x.same(e) {
			return true
		}
	}
	return false
}

func (e entryVer) same(o entryVer) bool {
	return e.v.vv.String() == o.v.vv.String() && e.child == o.child
}

// settleNameTx adds version in to the versions of one name that no other
// has superseded: the register's cur (if have) and the losers. It returns
// the winner among them, the others (the new losers), and whether in
// changed anything (false: a version seen already, or superseded). Keeping
// every version not superseded, rather than the winner alone, makes the
// winner depend on the set of versions only: the rule is not a plain
// "latest wins" (a directory beats a file), so a winner alone would not
// do.
func settleNameTx(tx *sql.Tx, cur entryVer, have bool, losers entryVers, in entryVer) (entryVer, entryVers, bool, error) {
	var set entryVers
	if have {
		set = append(set, cur)
	}
	set = append(set, losers...)
	added := false
	for i, s := range set {
		switch in.v.vv.Compare(s.v.vv) {
		case Equal:
			// One version linked again with different children (see
			// relinkTx): the named child, then the larger, stands for it.
			if !entryLater(in.v, in.child, s.v, s.child) {
				return cur, losers, false, nil
			}
			set[i], added = in, true
		case Before:
			return cur, losers, false, nil
		}
	}
	if !added {
		kept := entryVers{in}
		for _, s := range set {
			if in.v.vv.Compare(s.v.vv) != After {
				kept = append(kept, s)
			}
		}
		set = kept
	}
	wi := 0
	for i := 1; i < len(set); i++ {
		wins, err := entryWinsTx(tx, set[i].v, set[i].child, set[wi].v, set[wi].child, true)
		if err != nil {
			return cur, losers, false, err
		}
		if wins {
			wi = i
		}
	}
	rest := append(append(entryVers{}, set[:wi]...), set[wi+1:]...)
	return set[wi], rest, true, nil
}

// losersTx returns the entry versions of (pfid, name) that lost to a
// concurrent one and are not superseded: by a later version, or by the
// register's version cur (a local change of the name supersedes the
// losers it dominates without looking at them).
func losersTx(tx *sql.Tx, pfid string, name []byte, cur VV) (entryVers, error) {
	rows, err := tx.Query("SELECT vv, hlc, author, child FROM dentry_losers WHERE parent_fid=? AND name=? ORDER BY vv", pfid, name)
	if err != nil {
		return nil, fmt.Errorf("losing entries: %w", err)
	}
	defer rows.Close()
	var out entryVers
	for rows.Next() {
		var e entryVer
		var vvs string
		if err := rows.Scan(&vvs, &e.v.hlc, &e.v.dev, &e.child); err != nil {
			return nil, fmt.Errorf("losing entries: %w", err)
		}
		e.v.vv = parseVV(vvs)
		if o := e.v.vv.Compare(cur); o == Concurrent || o == After {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}

// putLosersTx sets the losing entry versions of (pfid, name).
func putLosersTx(tx *sql.Tx, pfid string, name []byte, losers entryVers) error {
	if _, err := tx.Exec("DELETE FROM dentry_losers WHERE parent_fid=? AND name=?", pfid, name); err != nil {
		return fmt.Errorf("losing entries: %w", err)
	}
	for _, l := range losers {
		if _, err := tx.Exec("INSERT OR REPLACE INTO dentry_losers(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, ?, ?, ?, ?)",
			pfid, name, l.v.vv.encode(), l.v.hlc, l.v.dev, l.child); err != nil {
			return fmt.Errorf("losing entries: %w", err)
		}
	}
	return nil
}

// lostChild is a live child whose entry lost its name to a concurrent one.
type lostChild struct {
	ino  uint64
	v    version
	pfid string // the name it lost
	name []byte
}

// loseTx settles the children that lost a name to the entry now naming
// winner: a directory losing to a directory is merged into it; anything
// else is linked again under a conflict name (relinkOrphansTx).
func (db *DB) loseTx(tx *sql.Tx, winner uint64, losing []lostChild, st *applyState) error {
	for _, l := range losing {
		if l.ino == winner {
			continue
		}
		both, err := bothDirsTx(tx, l.ino, winner)
		if err != nil {
			return err
		}
		if both {
			// Only a directory with no other name of its own merges: one
			// moved here from a name it keeps merely loses this one.
			var fid string
			var n int
			if err := tx.QueryRow(`SELECT i.file_id, (SELECT count(*) FROM dentry_versions v JOIN inodes p ON p.file_id=v.parent_fid
				WHERE v.child=i.file_id AND v.name!=x'' AND length(v.vv)>2 AND p.state!=?2 AND NOT (v.parent_fid=?3 AND v.name=?4))
				FROM inodes i WHERE i.ino=?1`, l.ino, StateTombstoned, l.pfid, l.name).Scan(&fid, &n); err != nil {
				return fmt.Errorf("apply entry: %w", err)
			}
			both = n == 0
		}
		if both {
			if err := db.mergeDirTx(tx, l.ino, winner, st); err != nil {
				return err
			}
			continue
		}
		st.lost[l.ino] = l.v
		st.touched[l.ino] = true
	}
	return nil
}

// relinkWinsTx reports whether linking fid at (pfid, name) with the name's
// version (as relinkTx does) would win among the name's versions: a
// version that lost to a concurrent one naming a directory may not name a
// file instead.
func relinkWinsTx(tx *sql.Tx, pfid string, name []byte, fid string) (bool, error) {
	var cur entryVer
	var vvs string
	err := tx.QueryRow("SELECT vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name=?", pfid, name).Scan(&vvs, &cur.v.hlc, &cur.v.dev, &cur.child)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("relink %s: %w", fid, err)
	}
	cur.v.vv = parseVV(vvs)
	losers, err := losersTx(tx, pfid, name, cur.v.vv)
	if err != nil || len(losers) == 0 {
		return err == nil, err
	}
	in := entryVer{cur.v, fid}
	win, _, changed, err := settleNameTx(tx, cur, true, losers, in)
	if err != nil {
		return false, err
	}
	return !changed && cur.child == fid || changed && win.same(in), nil
}
