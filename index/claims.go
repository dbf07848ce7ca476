package index

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
)

// Claims. A relink keeps the entry's version (relinkOrphansTx), so one
// entry version can name several children: the file it was made with, and
// files linked there again by devices that found the name naming nothing
// (its child deleted there, or no version at all). Each (version, child)
// pair is a claim, kept in entry_claims whichever device made it and in
// whatever order the records arrive; a version that names nothing is kept
// too, with an empty child. A name is settled (settleEntryTx) from its
// versions that no other supersedes and the claims on each, and from which
// files are live and which are directories here: a function of the set, so
// every device that has seen the same records and the same deletions
// settles it the same way, a directory keeps the name against a file made
// concurrently even where the file came later, and a file that dies or
// comes back hands the name on or takes it again. The version held
// (dentry_versions) is the winner; claims on superseded versions are
// dropped. A claim made here by a relink is sent even if the relink loses
// before its batch is sealed (relink_claims): it stays a claim here. A
// file linked again under a conflict name that then holds a name of its
// own again keeps that one only (dropSpareRelinksTx).

// addClaimTx records that the entry (pfid, name) at version v names child
// ("" for a version that names nothing: it is one of the name's versions
// too, and may supersede others).
func addClaimTx(tx *sql.Tx, pfid string, name []byte, v version, child string) error {
	if _, err := tx.Exec(`INSERT OR IGNORE INTO entry_claims(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, ?, ?, ?, ?)`,
		pfid, name, v.vv.encode(), v.hlc, v.dev, child); err != nil {
		return fmt.Errorf("entry claim: %w", err)
	}
	return nil
}

// entryCand is one version of a name not superseded by another, with the
// child it settles on from its claims.
type entryCand struct {
	v      version
	vvs    string // v.vv encoded, as stored
	child  string // the live child with the largest file ID, else one not known here, else a deleted one
	ino    uint64 // the child's inode, if live
	dir    bool   // the child is a live directory
	claims []string
}

// entryCandsTx returns the versions of the entry (pfid, name) that no other
// known version dominates, each settled on a child, and, if prune, drops
// the claims of the superseded ones.
func entryCandsTx(tx *sql.Tx, pfid string, name []byte, prune bool) ([]*entryCand, error) {
	rows, err := tx.Query(`SELECT c.vv, c.hlc, c.author, c.child,
		coalesce((SELECT i.ino FROM inodes i WHERE i.file_id=c.child AND i.state!=?1), 0),
		coalesce((SELECT (i.mode & 61440)=16384 FROM inodes i WHERE i.file_id=c.child AND i.state!=?1), 0),
		EXISTS(SELECT 1 FROM inodes i WHERE i.file_id=c.child) OR EXISTS(SELECT 1 FROM tombstones t WHERE t.file_id=c.child)
		FROM entry_claims c WHERE c.parent_fid=?2 AND c.name=?3`, StateTombstoned, pfid, name)
	if err != nil {
		return nil, fmt.Errorf("settle entry: %w", err)
	}
	type claim struct {
		child string
		ino   uint64
		dir   bool
		known bool
	}
	byVer := map[string]*entryCand{}
	var order []string
	claimsOf := map[string][]claim{}
	for rows.Next() {
		var vvs, dev string
		var hlc int64
		var c claim
		if err := rows.Scan(&vvs, &hlc, &dev, &c.child, &c.ino, &c.dir, &c.known); err != nil {
			rows.Close()
			return nil, fmt.Errorf("settle entry: %w", err)
		}
		k := fmt.Sprintf("%s\x00%d\x00%s", vvs, hlc, dev)
		if byVer[k] == nil {
			byVer[k] = &entryCand{v: version{parseVV(vvs), hlc, dev}, vvs: vvs}
			order = append(order, k)
		}
		if c.child != "" {
			claimsOf[k] = append(claimsOf[k], c)
		}
	}
	rows.Close()
	var out []*entryCand
	for _, k := range order {
		a := byVer[k]
		dominated := false
		for _, k2 := range order {
			if k2 != k && a.v.vv.Compare(byVer[k2].v.vv) == Before {
				dominated = true
				break
			}
		}
		if dominated && prune {
			if _, err := tx.Exec("DELETE FROM entry_claims WHERE parent_fid=? AND name=? AND vv=? AND hlc=? AND author=?", pfid, name, a.vvs, a.v.hlc, a.v.dev); err != nil {
				return nil, fmt.Errorf("settle entry: %w", err)
			}
		}
		if dominated {
			continue
		}
		var live, unknown, dead claim
		for _, c := range claimsOf[k] {
			a.claims = append(a.claims, c.child)
			switch {
			case c.ino != 0:
				if c.child > live.child {
					live = c
				}
			case !c.known:
				unknown.child = max(unknown.child, c.child)
			default:
				dead.child = max(dead.child, c.child)
			}
		}
		switch {
		case live.child != "":
			a.child, a.ino, a.dir = live.child, live.ino, live.dir
		case unknown.child != "":
			a.child = unknown.child
		default:
			// Kept, though it names nothing: a relink of it not yet sent
			// still carries the claim (dentryRecordTx).
			a.child = dead.child
		}
		out = append(out, a)
	}
	return out, nil
}

// entryWinner picks the version a name settles on among versions none of
// which supersedes another: the later one (later), unless it names a live
// file that is not a directory while another names a live directory: then
// the later of those (the directory keeps the name against a file made
// concurrently). A function of the set, so the order versions arrive in
// does not matter.
func entryWinner(cands []*entryCand) *entryCand {
	var w, d *entryCand
	for _, c := range cands {
		if w == nil || later(c.v, w.v) {
			w = c
		}
		if c.dir && (d == nil || later(c.v, d.v)) {
			d = c
		}
	}
	if w != nil && w.ino != 0 && !w.dir && d != nil {
		return d
	}
	return w
}

// settleEntryTx settles the entry (pfid, name): its own version and child
// (settleKeyTx), then the name in the directory it shows in. Where other
// directories are merged into that one (merge.go), the entries of one name
// in each are settled together, like versions of one name: the winner
// among their winners (entryWinner) is linked, and the live children of
// the others are left to be linked again under a conflict name, or, two
// directories, to merge.
func (db *DB) settleEntryTx(tx *sql.Tx, pfid string, name []byte, st *applyState) error {
	w, cands, err := db.settleKeyTx(tx, pfid, name)
	if err != nil || w == nil {
		return err
	}
	efid, parent, err := effDirTx(tx, pfid)
	if err != nil || parent == 0 {
		return err // the directory is not here
	}
	group, err := mergeGroupTx(tx, efid)
	if err != nil {
		return err
	}
	if len(group) > 1 {
		winners := []*entryCand{w}
		keyWinner := map[string]*entryCand{pfid: w}
		for _, f := range group {
			if f == pfid {
				continue
			}
			fw, fc, err := db.settleKeyTx(tx, f, name)
			if err != nil {
				return err
			}
			if fw != nil {
				winners = append(winners, fw)
				cands = append(cands, fc...)
				keyWinner[f] = fw
			}
		}
		w = entryWinner(winners)
		for f, kw := range keyWinner {
			if err := db.mergedOutboxTx(tx, f, name, kw, w, parent); err != nil {
				return err
			}
		}
	}
	key := efid + "\x00" + string(name)
	for _, c := range cands {
		for _, ch := range c.claims {
			if ch == w.child {
				continue
			}
			// What lost here before and does not now is not kept as lost.
			var ino uint64
			if err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=? AND state!=?", ch, StateTombstoned).Scan(&ino); err == nil {
				if l, ok := st.lost[ino]; ok && l.key == key {
					delete(st.lost, ino)
				}
				if m, ok := st.merge[ino]; ok && m.key == key {
					delete(st.merge, ino)
				}
			}
		}
	}
	merging := map[string]string{}
	for _, c := range cands {
		if c == w || c.ino == 0 || c.child == w.child {
			continue
		}
		// A live child of a losing version: linked again elsewhere, under
		// a name made from this version (the latest, if it lost at
		// several names), or merged into the winner, two directories.
		if l, ok := st.lost[c.ino]; !ok || l.key == key || later(c.v, l.v) {
			st.lost[c.ino] = lostAt{key: key, v: c.v}
		}
		if c.dir && w.dir {
			st.merge[c.ino] = mergeAt{key: key, into: w.child, pfid: efid, name: name}
			merging[c.child] = w.child
		}
		st.touched[c.ino] = true
	}
	if err := db.checkMergesTx(tx, group, name, merging, st); err != nil {
		return err
	}
	return db.linkEntryTx(tx, parent, name, w.ino, w.v, st)
}

// mergedOutboxTx keeps a change made here to the entry (f, name), not yet
// sent, right where directories are merged: the outbox sends the version
// held with the child linked at the name (in parent, the directory f's
// entries are linked in), which may be another directory's. A version
// that names nothing is sent as such (no directory to look in); one that
// names a child that lost the name to another directory's entry is
// dropped (dropUnsentTx), like a version that loses before it is sent.
func (db *DB) mergedOutboxTx(tx *sql.Tx, f string, name []byte, kw, w *entryCand, parent uint64) error {
	key := "d:" + f + ":" + hex.EncodeToString(name)
	var pending bool
	if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM outbox WHERE key=?)", key).Scan(&pending); err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	switch {
	case !pending:
		return nil
	case kw.child == "":
		parent = 0
	case kw.child != w.child && kw.v.dev == db.device:
		if err := db.dropUnsentTx(tx, f, name, kw.vvs, kw.v.hlc, kw.v.dev); err != nil {
			return err
		}
		// The entry holds what is left of its versions, if any.
		cands, err := entryCandsTx(tx, f, name, false)
		if err != nil {
			return err
		}
		if nw := entryWinner(cands); nw != nil {
			_, err = tx.Exec("UPDATE dentry_versions SET vv=?, hlc=?, author=?, child=? WHERE parent_fid=? AND name=?",
				nw.vvs, nw.v.hlc, nw.v.dev, nw.child, f, name)
		} else {
			_, err = tx.Exec("DELETE FROM dentry_versions WHERE parent_fid=? AND name=?", f, name)
		}
		if err != nil {
			return fmt.Errorf("settle entry: %w", err)
		}
		return nil
	}
	if _, err := tx.Exec("UPDATE outbox SET parent=? WHERE key=?", parent, key); err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	return nil
}

// settleKeyTx decides which version and child the entry (pfid, name)
// settles on, from every version of it not superseded (entryCandsTx) and
// the claims on each: the winner (entryWinner), naming its live child with
// the largest file ID, else a child not known here yet (the name names
// nothing until it comes, but is taken), else none. It records the choice
// in dentry_versions and returns the winner and the versions (nil if the
// entry has no version here).
func (db *DB) settleKeyTx(tx *sql.Tx, pfid string, name []byte) (*entryCand, []*entryCand, error) {
	var vvs, dev, child string
	var hlc int64
	err := tx.QueryRow("SELECT vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name=?", pfid, name).Scan(&vvs, &hlc, &dev, &child)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("settle entry: %w", err)
	}
	// The version held (a local change made it with its child) is one
	// of the versions too.
	if err := addClaimTx(tx, pfid, name, version{parseVV(vvs), hlc, dev}, child); err != nil {
		return nil, nil, err
	}
	// While a version made here waits to be sent, what it supersedes is
	// kept: if it loses before it is sent, it is dropped (dropUnsentTx),
	// and what it superseded counts again, as it does elsewhere.
	var pending bool
	if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM outbox WHERE key=?)", "d:"+pfid+":"+hex.EncodeToString(name)).Scan(&pending); err != nil {
		return nil, nil, fmt.Errorf("settle entry: %w", err)
	}
	cands, err := entryCandsTx(tx, pfid, name, !pending)
	if err != nil {
		return nil, nil, err
	}
	w := entryWinner(cands)
	if w == nil {
		return nil, nil, nil
	}
	if w.vvs != vvs || w.v.hlc != hlc || w.v.dev != dev || w.child != child {
		if _, err := tx.Exec("UPDATE dentry_versions SET vv=?, hlc=?, author=?, child=? WHERE parent_fid=? AND name=?",
			w.vvs, w.v.hlc, w.v.dev, w.child, pfid, name); err != nil {
			return nil, nil, fmt.Errorf("settle entry: %w", err)
		}
	}
	if (w.vvs != vvs || w.v.hlc != hlc || w.v.dev != dev) && dev == db.device {
		if err := db.dropUnsentTx(tx, pfid, name, vvs, hlc, dev); err != nil {
			return nil, nil, err
		}
	}
	return w, cands, nil
}

// noteRelinkTx records the claim the entry (pfid, name) now holds, just
// linked again (relinkTx), to be sent whatever becomes of the name before
// then (relink_claims). A relink onto a version made here and not sent
// yet (pending in the outbox, and not itself kept by a relink) is fresh:
// it goes if that version loses before it is sent (dropUnsentTx).
func (db *DB) noteRelinkTx(tx *sql.Tx, pfid string, name []byte) error {
	if _, err := tx.Exec(`INSERT OR IGNORE INTO relink_claims(parent_fid, name, vv, hlc, author, child, fresh)
		SELECT v.parent_fid, v.name, v.vv, v.hlc, v.author, v.child,
			coalesce((SELECT max(r.fresh) FROM relink_claims r WHERE r.parent_fid=v.parent_fid AND r.name=v.name AND r.vv=v.vv AND r.hlc=v.hlc AND r.author=v.author),
				v.author=?3 AND EXISTS(SELECT 1 FROM outbox o WHERE o.key=?4))
		FROM dentry_versions v WHERE v.parent_fid=?1 AND v.name=?2`,
		pfid, name, db.device, "d:"+pfid+":"+hex.EncodeToString(name)); err != nil {
		return fmt.Errorf("relink: %w", err)
	}
	return nil
}

// dropUnsentTx forgets the version (vvs, hlc, dev) of the entry (pfid,
// name), made here, if it lost before it was sent: it is never sent (the
// outbox sends the version held), so it is no longer one of the name's
// versions here either, as it never is elsewhere. Nothing of it is lost:
// its child has a record of its own and is linked again.
func (db *DB) dropUnsentTx(tx *sql.Tx, pfid string, name []byte, vvs string, hlc int64, dev string) error {
	var pending bool
	if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM outbox WHERE key=?)", "d:"+pfid+":"+hex.EncodeToString(name)).Scan(&pending); err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	if !pending {
		return nil
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", "d:"+pfid+":"+hex.EncodeToString(name)); err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	var sent bool
	if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM relink_claims WHERE parent_fid=? AND name=? AND vv=? AND hlc=? AND author=? AND fresh=0)",
		pfid, name, vvs, hlc, dev).Scan(&sent); err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	if sent {
		// What waited was a relink onto the version, which was sent
		// before: the version stays, and the relink is sent anyway.
		return nil
	}
	for _, q := range []string{"DELETE FROM entry_claims WHERE parent_fid=? AND name=? AND vv=? AND hlc=? AND author=?",
		"DELETE FROM relink_claims WHERE parent_fid=? AND name=? AND vv=? AND hlc=? AND author=?"} {
		if _, err := tx.Exec(q, pfid, name, vvs, hlc, dev); err != nil {
			return fmt.Errorf("settle entry: %w", err)
		}
	}
	return nil
}

// linkEntryTx makes the name (parent, name) link ino (none if 0), at entry
// version v: what was linked there is unlinked (and looked at again), and a
// directory keeps one name (oneDirNameTx).
func (db *DB) linkEntryTx(tx *sql.Tx, parent uint64, name []byte, ino uint64, v version, st *applyState) error {
	if parent == 0 {
		return nil // the directory is not here
	}
	var old uint64
	err := tx.QueryRow("SELECT ino FROM dentries WHERE parent=? AND name=?", parent, name).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("link entry: %w", err)
	}
	if old == ino {
		return nil
	}
	if ino != 0 {
		st.touched[ino] = true
		// A directory merged into another that wins a name of its own
		// stands on its own again.
		if err := db.unmergeTx(tx, ino, st); err != nil {
			return err
		}
		keep, err := db.oneDirNameTx(tx, ino, parent, name, v, st)
		if err != nil {
			return err
		}
		if !keep {
			ino = 0
		}
	}
	if old == ino {
		return nil
	}
	if old != 0 {
		if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", parent, name); err != nil {
			return fmt.Errorf("link entry: %w", err)
		}
		st.touched[old] = true
	}
	if ino != 0 {
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, name, ino); err != nil {
			return fmt.Errorf("link entry: %w", err)
		}
	}
	st.touched[parent] = true
	st.changes = append(st.changes, Change{Parent: parent, Name: string(name)})
	return nil
}

// settleClaimsOfTx settles again every entry one of whose versions fid
// claims or names: fid was deleted, or came back, here.
func (db *DB) settleClaimsOfTx(tx *sql.Tx, fid string, st *applyState) error {
	rows, err := tx.Query(`SELECT v.parent_fid, v.name FROM dentry_versions v WHERE v.child=?1
		UNION SELECT c.parent_fid, c.name FROM entry_claims c WHERE c.child=?1`, fid)
	if err != nil {
		return fmt.Errorf("settle claims of %s: %w", fid, err)
	}
	type ent struct {
		pfid string
		name []byte
	}
	var ents []ent
	for rows.Next() {
		var e ent
		if err := rows.Scan(&e.pfid, &e.name); err != nil {
			rows.Close()
			return fmt.Errorf("settle claims of %s: %w", fid, err)
		}
		ents = append(ents, e)
	}
	rows.Close()
	for _, e := range ents {
		if err := db.settleEntryTx(tx, e.pfid, e.name, st); err != nil {
			return err
		}
	}
	return nil
}

// dropSpareRelinksTx unlinks, at the end of a batch, the spare relinks
// (dropSpareRelinksOfTx) of the files it touched.
func (db *DB) dropSpareRelinksTx(tx *sql.Tx, st *applyState) error {
	inos := make([]uint64, 0, len(st.touched))
	for ino := range st.touched {
		inos = append(inos, ino)
	}
	sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
	for _, ino := range inos {
		gone, err := dropSpareRelinksOfTx(tx, ino)
		if err != nil {
			return err
		}
		for _, l := range gone {
			st.touched[l.parent] = true
			st.changes = append(st.changes, Change{Parent: l.parent, Name: string(l.name)})
		}
	}
	return nil
}

// spareLink is a name dropSpareRelinksOfTx unlinked.
type spareLink struct {
	parent uint64
	name   []byte
}

// dropSpareRelinksOfTx unlinks the names that a relink with no version
// of its own (a conflict name, linked while the file had lost its name)
// gave the file ino, once the entry version its home holds names it again
// and it is linked at some other name than such a relink's: a device that
// saw the file lose its name before the change that gave it back keeps
// one name for it, like a device that saw them the other way round. The
// home and its entry, not the names linked: they come with the file's
// version and the entries' records, so every device that holds them
// agrees, whatever order it settled names in (where directories merge,
// names linked are settled late). It runs at the end of every batch and
// checkpoint applied, for the files touched, and for every version made
// here of a file with several names (bumpRowTx), whose home may have
// moved. The relink's entry still names the file: if the file loses its
// names again, it is linked there again (linkNamedTx). Left as they are:
// directories, which have one name, and conflict copies, whose home is
// that of the file each device made the copy from, so devices need not
// agree on it. It returns the names unlinked; the caller sets the link
// count.
func dropSpareRelinksOfTx(tx txn, ino uint64) ([]spareLink, error) {
	var home bool
	err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM dentry_versions v WHERE v.parent_fid=i.home_parent AND v.name=i.home_name
			AND v.child=i.file_id AND v.vv NOT IN ('{}', 'null'))
		FROM inodes i WHERE i.ino=? AND i.state!=? AND (i.mode & 61440)!=16384
			AND NOT EXISTS(SELECT 1 FROM conflict_copies c WHERE c.file_id=i.file_id)`, ino, StateTombstoned).Scan(&home)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !home {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spare relinks of %d: %w", ino, err)
	}
	rows, err := tx.Query(`SELECT d.parent, d.name, coalesce((SELECT v.vv IN ('{}', 'null') FROM dentry_versions v
			WHERE v.parent_fid=p.file_id AND v.name=d.name AND v.child=i.file_id), 0)
		FROM inodes i JOIN dentries d ON d.ino=i.ino JOIN inodes p ON p.ino=d.parent
		WHERE i.ino=? ORDER BY d.parent, d.name`, ino)
	if err != nil {
		return nil, fmt.Errorf("spare relinks of %d: %w", ino, err)
	}
	var spare []spareLink
	own := false // linked at a name other than a relink's
	for rows.Next() {
		var l spareLink
		var relink bool
		if err := rows.Scan(&l.parent, &l.name, &relink); err != nil {
			rows.Close()
			return nil, fmt.Errorf("spare relinks of %d: %w", ino, err)
		}
		if relink {
			spare = append(spare, l)
		} else {
			own = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("spare relinks of %d: %w", ino, err)
	}
	if !own {
		return nil, nil
	}
	for _, l := range spare {
		if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", l.parent, l.name); err != nil {
			return nil, fmt.Errorf("spare relinks of %d: %w", ino, err)
		}
	}
	return spare, nil
}
