package index

import (
	"database/sql"
	"errors"
	"fmt"
	"syscall"
)

// Merges. Two directories made under one name on two devices merge: the
// one whose entry wins the name keeps it (settleEntryTx), and the other,
// left without a name, is merged into it (mergeDirTx) instead of being
// linked again under a conflict name. A merge is a view: the merged
// directory keeps its file ID and its entries (keyed by its file ID, as
// other devices name them), and they are linked in the directory it is
// merged into, settled there with that directory's entries of the same
// name like versions of one name (a file that loses gets a conflict name,
// two directories merge again). A merge is recorded in dir_merges, derived
// from the entries' versions like the names are: when the merged
// directory's entry no longer loses to the other directory (a later
// version supersedes it, or the other one is deleted), or it wins a name
// of its own, the merge is undone (unmergeTx) and its entries go back to
// it. Entries made here in the merged directory are the winner's.

// mergeAt is the directory a directory whose entry lost is to be merged
// into, and the name (its parent's file ID and name) it lost at.
type mergeAt struct {
	key  string // parent file ID, NUL, name: as lostAt's
	into string
	pfid string
	name []byte
}

// effDirTx returns the directory the entries of directory fid are linked
// in: fid itself, or the directory it is merged into (following merges of
// merges), and that directory's inode (0 if it is not a live directory
// here).
func effDirTx(tx txn, fid string) (string, uint64, error) {
	for i := 0; i < 64; i++ {
		var into string
		err := tx.QueryRow("SELECT into_fid FROM dir_merges WHERE fid=?", fid).Scan(&into)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("merged directory %s: %w", fid, err)
		}
		fid = into
	}
	var ino uint64
	var mode uint32
	var state State
	err := tx.QueryRow("SELECT ino, mode, state FROM inodes WHERE file_id=?", fid).Scan(&ino, &mode, &state)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (state == StateTombstoned || mode&syscall.S_IFMT != syscall.S_IFDIR) {
		return fid, 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("directory %s: %w", fid, err)
	}
	return fid, ino, nil
}

// mergeGroupTx returns the directories whose entries are linked in efid:
// efid and every directory merged into it, directly or not.
func mergeGroupTx(tx txn, efid string) ([]string, error) {
	rows, err := tx.Query(`WITH RECURSIVE g(fid) AS (SELECT ?1 UNION SELECT m.fid FROM dir_merges m JOIN g ON m.into_fid=g.fid)
		SELECT fid FROM g ORDER BY fid`, efid)
	if err != nil {
		return nil, fmt.Errorf("merged directories of %s: %w", efid, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, fmt.Errorf("merged directories of %s: %w", efid, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// isMergedTx reports whether the directory fid is merged into another.
func isMergedTx(tx txn, fid string) (bool, error) {
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM dir_merges WHERE fid=?", fid).Scan(&n); err != nil {
		return false, fmt.Errorf("merged directory %s: %w", fid, err)
	}
	return n > 0, nil
}

// checkMergesTx undoes the merges decided at the name (a directory of
// group, name) that settling it no longer gives: merging maps each losing
// directory to the winner it is to merge into.
func (db *DB) checkMergesTx(tx *sql.Tx, group []string, name []byte, merging map[string]string, st *applyState) error {
	for _, pfid := range group {
		rows, err := tx.Query("SELECT fid, into_fid FROM dir_merges WHERE parent_fid=? AND name=?", pfid, name)
		if err != nil {
			return fmt.Errorf("merged directories: %w", err)
		}
		var stale []string
		for rows.Next() {
			var f, into string
			if err := rows.Scan(&f, &into); err != nil {
				rows.Close()
				return fmt.Errorf("merged directories: %w", err)
			}
			if merging[f] != into {
				stale = append(stale, f)
			}
		}
		rows.Close()
		for _, f := range stale {
			var ino uint64
			err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=?", f).Scan(&ino)
			if errors.Is(err, sql.ErrNoRows) {
				if _, err := tx.Exec("DELETE FROM dir_merges WHERE fid=?", f); err != nil {
					return fmt.Errorf("merged directories: %w", err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("merged directories: %w", err)
			}
			if err := db.unmergeTx(tx, ino, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirNamesTx returns the names of the entries recorded under fid.
func dirNamesTx(tx txn, fid string) ([][]byte, error) {
	rows, err := tx.Query("SELECT name FROM dentry_versions WHERE parent_fid=? ORDER BY name", fid)
	if err != nil {
		return nil, fmt.Errorf("entries of %s: %w", fid, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("entries of %s: %w", fid, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// moveEntriesTx settles again every entry of the directories in group,
// whose entries were linked in directory fromIno (0: nowhere) and are now
// linked where effDirTx says: what is linked under fromIno at their names
// is settled again there too. Outbox rows of those entries follow,
// before the names are settled.
func (db *DB) moveEntriesTx(tx *sql.Tx, group []string, fromFid string, fromIno uint64, st *applyState) error {
	var fromGroup []string
	if fromIno != 0 {
		var err error
		if fromGroup, err = mergeGroupTx(tx, fromFid); err != nil {
			return err
		}
	}
	for _, f := range group {
		// Outbox rows first: settling a name where directories are
		// merged may then send a pending change of it as what it is
		// (mergedOutboxTx), which this must not undo.
		_, ino, err := effDirTx(tx, f)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE outbox SET parent=? WHERE parent_fid=? AND key LIKE 'd:%'", ino, f); err != nil {
			return fmt.Errorf("entries of %s: %w", f, err)
		}
		names, err := dirNamesTx(tx, f)
		if err != nil {
			return err
		}
		for _, n := range names {
			if fromIno != 0 {
				// The name where it was linked: settled from the
				// directories still linked there, or emptied.
				settled := false
				for _, g := range fromGroup {
					var ok bool
					if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM dentry_versions WHERE parent_fid=? AND name=?)", g, n).Scan(&ok); err != nil {
						return fmt.Errorf("entries of %s: %w", f, err)
					}
					if ok {
						if err := db.settleEntryTx(tx, g, n, st); err != nil {
							return err
						}
						settled = true
						break
					}
				}
				if !settled {
					if err := db.linkEntryTx(tx, fromIno, n, 0, version{}, st); err != nil {
						return err
					}
				}
			}
			if err := db.settleEntryTx(tx, f, n, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeDirTx merges the directory o, left without a name, into the
// directory its entry lost to (m), unless that would put a directory below
// itself. It reports whether it did.
func (db *DB) mergeDirTx(tx *sql.Tx, o orphan, m mergeAt, st *applyState) (bool, error) {
	if o.fid == RootFileID {
		return false, nil
	}
	into, ino, err := effDirTx(tx, m.into)
	if err != nil || ino == 0 || into == o.fid {
		return false, err
	}
	if err := db.checkNotAncestor(tx, o.ino, ino); err != nil {
		return false, nil
	}
	group, err := mergeGroupTx(tx, o.fid)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec("INSERT INTO dir_merges(fid, into_fid, parent_fid, name) VALUES(?, ?, ?, ?)", o.fid, m.into, m.pfid, m.name); err != nil {
		return false, fmt.Errorf("merge directory %s: %w", o.fid, err)
	}
	// What is linked in it goes: its entries are linked in the other now,
	// and anything else is linked again there from its home.
	if err := db.unlinkAllTx(tx, o.ino, st); err != nil {
		return false, err
	}
	if err := db.moveEntriesTx(tx, group, "", 0, st); err != nil {
		return false, err
	}
	st.touched[o.ino], st.touched[ino] = true, true
	st.changes = append(st.changes, Change{Ino: o.ino}, Change{Ino: ino})
	return true, nil
}

// unlinkAllTx removes every entry linked in directory ino; what they
// named is looked at again.
func (db *DB) unlinkAllTx(tx *sql.Tx, ino uint64, st *applyState) error {
	rows, err := tx.Query("SELECT name, ino FROM dentries WHERE parent=?", ino)
	if err != nil {
		return fmt.Errorf("unlink entries of %d: %w", ino, err)
	}
	var gone []Change
	for rows.Next() {
		var name []byte
		var child uint64
		if err := rows.Scan(&name, &child); err != nil {
			rows.Close()
			return fmt.Errorf("unlink entries of %d: %w", ino, err)
		}
		gone = append(gone, Change{Parent: ino, Name: string(name)})
		st.touched[child] = true
	}
	rows.Close()
	if _, err := tx.Exec("DELETE FROM dentries WHERE parent=?", ino); err != nil {
		return fmt.Errorf("unlink entries of %d: %w", ino, err)
	}
	st.changes = append(st.changes, gone...)
	st.touched[ino] = true
	return nil
}

// unmergeTx undoes the merge of directory ino, if it is merged: its
// entries (and those of directories merged into it) go back to it, and it
// is looked at again (linked where its entries say, or again).
func (db *DB) unmergeTx(tx *sql.Tx, ino uint64, st *applyState) error {
	var fid string
	if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", ino).Scan(&fid); err != nil {
		return fmt.Errorf("unmerge directory %d: %w", ino, err)
	}
	merged, err := isMergedTx(tx, fid)
	if err != nil || !merged {
		return err
	}
	from, fromIno, err := effDirTx(tx, fid)
	if err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM dir_merges WHERE fid=?", fid); err != nil {
		return fmt.Errorf("unmerge directory %s: %w", fid, err)
	}
	group, err := mergeGroupTx(tx, fid)
	if err != nil {
		return err
	}
	if err := db.moveEntriesTx(tx, group, from, fromIno, st); err != nil {
		return err
	}
	st.touched[ino] = true
	st.changes = append(st.changes, Change{Ino: ino})
	return nil
}

// dropMergedTx removes, with the directory fid that a change made here
// removes, every directory merged into it (directly or not): they show
// in it, and it was empty, so they are empty too, and the name they
// share goes for all of them, as the user saw one directory there. Each
// is deleted as by rmdir, so other devices learn of it.
func (db *DB) dropMergedTx(tx txn, fid string, now int64) error {
	group, err := mergeGroupTx(tx, fid)
	if err != nil || len(group) < 2 {
		return err
	}
	for _, f := range group {
		if f == fid {
			continue
		}
		if _, err := tx.Exec("DELETE FROM dir_merges WHERE fid=?", f); err != nil {
			return fmt.Errorf("remove merged directory %s: %w", f, err)
		}
		var ino uint64
		err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=? AND state!=?", f, StateTombstoned).Scan(&ino)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("remove merged directory %s: %w", f, err)
		}
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		if err := db.setNlinkTx(tx, a, 0, now); err != nil {
			return err
		}
	}
	return nil
}
