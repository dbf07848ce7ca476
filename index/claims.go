package index

import (
	"database/sql"
	"errors"
	"fmt"
	"syscall"
)

// Claims. A relink keeps the entry's version (relinkOrphansTx), so one
// entry version can name several children: the file it was made with, and
// files linked there again by devices that found the name naming nothing
// (its child deleted there, or no version at all). Each (version, child)
// pair is a claim, kept in entry_claims whichever device made it and in
// whatever order the records arrive. The child a name names
// (dentry_versions.child, and the dentries row) is settled from the claims
// on its current version and which files are live here (settleEntryTx):
// a function of the set, so every device that has seen the same records
// and the same deletions settles it the same way, and a file that dies or
// comes back hands the name on or takes it again.

// addClaimTx records that the entry (pfid, name) at version v names child.
func addClaimTx(tx *sql.Tx, pfid string, name []byte, v version, child string) error {
	if child == "" {
		return nil
	}
	if _, err := tx.Exec(`INSERT OR IGNORE INTO entry_claims(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, ?, ?, ?, ?)`,
		pfid, name, v.vv.encode(), v.hlc, v.dev, child); err != nil {
		return fmt.Errorf("entry claim: %w", err)
	}
	return nil
}

// settleEntryTx decides which child the entry (pfid, name) names, from the
// claims on its current version: the live child with the largest file ID,
// else a child not known here yet (the name names nothing until it comes,
// but is taken), else none. It records the choice in dentry_versions and
// links it under parent (the directory's inode), unlinking what was there.
func (db *DB) settleEntryTx(tx *sql.Tx, parent uint64, pfid string, name []byte, st *applyState) error {
	var vvs, dev, child string
	var hlc int64
	err := tx.QueryRow("SELECT vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name=?", pfid, name).Scan(&vvs, &hlc, &dev, &child)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	v := version{parseVV(vvs), hlc, dev}
	// The child a local change made the version with is a claim too.
	if err := addClaimTx(tx, pfid, name, v, child); err != nil {
		return err
	}
	rows, err := tx.Query(`SELECT c.child,
		EXISTS(SELECT 1 FROM inodes i WHERE i.file_id=c.child AND i.state!=?),
		EXISTS(SELECT 1 FROM inodes i WHERE i.file_id=c.child) OR EXISTS(SELECT 1 FROM tombstones t WHERE t.file_id=c.child)
		FROM entry_claims c WHERE c.parent_fid=? AND c.name=? AND c.vv=? AND c.hlc=? AND c.author=?`,
		StateTombstoned, pfid, name, v.vv.encode(), hlc, dev)
	if err != nil {
		return fmt.Errorf("settle entry: %w", err)
	}
	var live, unknown, dead string
	for rows.Next() {
		var c string
		var isLive, known bool
		if err := rows.Scan(&c, &isLive, &known); err != nil {
			rows.Close()
			return fmt.Errorf("settle entry: %w", err)
		}
		switch {
		case isLive:
			live = max(live, c)
		case !known:
			unknown = max(unknown, c)
		default:
			dead = max(dead, c)
		}
	}
	rows.Close()
	best := live
	if best == "" {
		best = unknown
	}
	if best == "" {
		// Kept, though it names nothing: a relink of it not yet sent
		// still carries the claim (dentryRecordTx).
		best = dead
	}
	if best != child {
		if _, err := tx.Exec("UPDATE dentry_versions SET child=? WHERE parent_fid=? AND name=?", best, pfid, name); err != nil {
			return fmt.Errorf("settle entry: %w", err)
		}
	}
	var ino uint64
	if live != "" {
		if err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=? AND state!=?", live, StateTombstoned).Scan(&ino); err != nil {
			return fmt.Errorf("settle entry: %w", err)
		}
	}
	return db.linkEntryTx(tx, parent, name, ino, v, st)
}

// linkEntryTx makes the name (parent, name) link ino (none if 0), at entry
// version v: what was linked there is unlinked (and looked at again), and a
// directory keeps one name (oneDirNameTx).
func (db *DB) linkEntryTx(tx *sql.Tx, parent uint64, name []byte, ino uint64, v version, st *applyState) error {
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

// settleClaimsOfTx settles again every entry whose current version fid
// claims or names: fid was deleted, or came back, here.
func (db *DB) settleClaimsOfTx(tx *sql.Tx, fid string, st *applyState) error {
	rows, err := tx.Query(`SELECT v.parent_fid, v.name FROM dentry_versions v WHERE v.child=?1
		UNION SELECT v.parent_fid, v.name FROM entry_claims c JOIN dentry_versions v
			ON v.parent_fid=c.parent_fid AND v.name=c.name AND v.vv=c.vv AND v.hlc=c.hlc AND v.author=c.author
		WHERE c.child=?1`, fid)
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
		var parent uint64
		var mode uint32
		err := tx.QueryRow("SELECT ino, mode FROM inodes WHERE file_id=? AND state!=?", e.pfid, StateTombstoned).Scan(&parent, &mode)
		if errors.Is(err, sql.ErrNoRows) || err == nil && mode&syscall.S_IFMT != syscall.S_IFDIR {
			continue
		}
		if err != nil {
			return fmt.Errorf("settle claims of %s: %w", fid, err)
		}
		if err := db.settleEntryTx(tx, parent, e.pfid, e.name, st); err != nil {
			return err
		}
	}
	return nil
}
