package index

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// Watermark returns the last journal sequence of device applied here.
func (db *DB) Watermark(device string) (uint64, error) {
	var seq uint64
	err := db.r.QueryRow("SELECT seq FROM watermarks WHERE device=?", device).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("watermark %s: %w", device, err)
	}
	return seq, nil
}

// SetPullError records (or, with "", clears) why applying device's journal
// has stopped, for status output.
func (db *DB) SetPullError(device, msg string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, err := db.w.Exec(`INSERT INTO watermarks(device, seq, err) VALUES(?, 0, ?)
		ON CONFLICT(device) DO UPDATE SET err=excluded.err`, device, msg)
	if err != nil {
		return fmt.Errorf("record pull error: %w", err)
	}
	return nil
}

// wins reports whether a remote version replaces the local one: it dominates,
// or it is concurrent and later by hybrid time (ties by device ID, so every
// device picks the same one).
func wins(remote VV, rHLC int64, rDev string, local VV, lHLC int64, lDev string) bool {
	switch remote.Compare(local) {
	case After:
		return true
	case Concurrent:
		if rHLC != lHLC {
			return rHLC > lHLC
		}
		return rDev > lDev
	}
	return false
}

// ApplyBatch applies another device's journal batch seq in one transaction
// and moves that device's watermark to seq. Changed inodes and entries are
// published on the change feed.
func (db *DB) ApplyBatch(device string, seq uint64, recs []Record) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var changes []Change
	err := db.withTx(func(tx *sql.Tx) error {
		touched := map[uint64]bool{}
		for _, r := range recs {
			var err error
			switch {
			case r.File != nil:
				err = db.applyFileTx(tx, device, r.File, touched, &changes)
			case r.Dentry != nil:
				err = db.applyDentryTx(tx, device, r.Dentry, touched, &changes)
			}
			if err != nil {
				return err
			}
		}
		for ino := range touched {
			if err := fixNlinkTx(tx, ino); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO watermarks(device, seq, err) VALUES(?, ?, '')
			ON CONFLICT(device) DO UPDATE SET seq=excluded.seq, err=''`, device, seq)
		if err != nil {
			return fmt.Errorf("watermark %s: %w", device, err)
		}
		return nil
	})
	if err == nil {
		db.feed.publish(changes)
	}
	return err
}

func (db *DB) applyFileTx(tx *sql.Tx, device string, f *FileRecord, touched map[uint64]bool, changes *[]Change) error {
	db.observe(f.HLC)
	var ino uint64
	var vvs string
	var hlc int64
	var state State
	var cver int64
	var oldContent []byte
	err := tx.QueryRow("SELECT ino, vv, hlc, state, cver, content FROM inodes WHERE file_id=?", f.ID).Scan(&ino, &vvs, &hlc, &state, &cver, &oldContent)
	cb := []byte(nil)
	if f.Content != nil {
		cb, _ = json.Marshal(f.Content)
	}
	size := int64(len(f.Target))
	if f.Content != nil {
		size = f.Content.Size
	}
	newState := StateNone
	if f.Mode&syscall.S_IFMT == syscall.S_IFREG {
		newState = StateAbsent
	}
	if errors.Is(err, sql.ErrNoRows) {
		if f.Deleted {
			return nil
		}
		nlink := 0
		res, err := tx.Exec(`INSERT INTO inodes(file_id, mode, uid, gid, rdev, nlink, size, atime, mtime, ctime, target, state, vv, hlc, journaled, content)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
			f.ID, f.Mode, f.UID, f.GID, f.Rdev, nlink, size, f.Mtime, f.Mtime, f.Ctime, f.Target, newState, f.VV.encode(), f.HLC, cb)
		if err != nil {
			return fmt.Errorf("apply file %s: %w", f.ID, err)
		}
		id, _ := res.LastInsertId()
		ino = uint64(id)
		touched[ino] = true
		return setXattrsTx(tx, ino, f.Xattrs)
	}
	if err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	local := parseVV(vvs)
	if !wins(f.VV, f.HLC, device, local, hlc, db.device) {
		// Ours stays; remember what we have seen so our next version
		// dominates theirs.
		_, err := tx.Exec("UPDATE inodes SET vv=? WHERE ino=?", local.Merge(f.VV).encode(), ino)
		return err
	}
	touched[ino] = true
	*changes = append(*changes, Change{Ino: ino})
	if f.Deleted {
		rows, err := tx.Query("SELECT parent, name FROM dentries WHERE ino=?", ino)
		if err != nil {
			return fmt.Errorf("apply delete %s: %w", f.ID, err)
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
				return err
			}
			ents = append(ents, e)
		}
		rows.Close()
		for _, e := range ents {
			if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", e.parent, e.name); err != nil {
				return err
			}
			touched[e.parent] = true
			*changes = append(*changes, Change{Parent: e.parent, Name: string(e.name)})
		}
		if _, err := tx.Exec("UPDATE inodes SET nlink=0, state=?, vv=? WHERE ino=?", StateTombstoned, local.Merge(f.VV).encode(), ino); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", ino)); err != nil {
			return err
		}
		return db.purgeTx(tx, ino)
	}
	contentChanged := f.Content != nil && string(cb) != string(oldContent)
	st := state
	if contentChanged {
		if state == StateStaged {
			// Our unsynced content loses to a newer remote version: keep it
			// reachable under the old content version until conflict copies
			// take over (the cache file goes to the trash only when unused).
			st = StateAbsent
		} else if state != StateNone {
			if err := Transition(state, StateAbsent); err != nil && state != StateAbsent {
				return err
			}
			st = StateAbsent
		}
		if _, err := tx.Exec("INSERT OR IGNORE INTO trash(ino, cver) VALUES(?, ?)", ino, cver); err != nil {
			return err
		}
		cver++
	}
	if _, err := tx.Exec(`UPDATE inodes SET mode=?, uid=?, gid=?, rdev=?, size=?, mtime=?, ctime=?, target=?, state=?, cver=?, vv=?, hlc=?, content=coalesce(?, content), journaled=1 WHERE ino=?`,
		f.Mode, f.UID, f.GID, f.Rdev, size, f.Mtime, f.Ctime, f.Target, st, cver, local.Merge(f.VV).encode(), f.HLC, cb, ino); err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", ino)); err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM xattrs WHERE ino=?", ino); err != nil {
		return err
	}
	return setXattrsTx(tx, ino, f.Xattrs)
}

func setXattrsTx(tx *sql.Tx, ino uint64, xs map[string][]byte) error {
	for k, v := range xs {
		if v == nil {
			v = []byte{}
		}
		if _, err := tx.Exec("INSERT OR REPLACE INTO xattrs(ino, name, value) VALUES(?, ?, ?)", ino, []byte(k), v); err != nil {
			return fmt.Errorf("apply xattrs: %w", err)
		}
	}
	return nil
}

func (db *DB) applyDentryTx(tx *sql.Tx, device string, d *DentryRecord, touched map[uint64]bool, changes *[]Change) error {
	db.observe(d.HLC)
	var parent uint64
	err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=?", d.Parent).Scan(&parent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the directory is gone here; nothing to name
	}
	if err != nil {
		return fmt.Errorf("apply entry: %w", err)
	}
	var vvs string
	var hlc int64
	err = tx.QueryRow("SELECT vv, hlc FROM dentry_versions WHERE parent_fid=? AND name=?", d.Parent, d.Name).Scan(&vvs, &hlc)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("apply entry: %w", err)
	}
	local := parseVV(vvs)
	if len(local) > 0 && !wins(d.VV, d.HLC, device, local, hlc, db.device) {
		_, err := tx.Exec("UPDATE dentry_versions SET vv=? WHERE parent_fid=? AND name=?", local.Merge(d.VV).encode(), d.Parent, d.Name)
		return err
	}
	if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc) VALUES(?, ?, ?, ?)
		ON CONFLICT(parent_fid, name) DO UPDATE SET vv=excluded.vv, hlc=excluded.hlc`, d.Parent, d.Name, local.Merge(d.VV).encode(), d.HLC); err != nil {
		return fmt.Errorf("apply entry: %w", err)
	}
	var old uint64
	err = tx.QueryRow("SELECT ino FROM dentries WHERE parent=? AND name=?", parent, d.Name).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("apply entry: %w", err)
	}
	var child uint64
	if d.Child != "" {
		if err := tx.QueryRow("SELECT ino FROM inodes WHERE file_id=?", d.Child).Scan(&child); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil // the file's record has not arrived; it will name itself
			}
			return fmt.Errorf("apply entry: %w", err)
		}
	}
	if old == child {
		return nil
	}
	if old != 0 {
		if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", parent, d.Name); err != nil {
			return err
		}
		touched[old] = true
	}
	if child != 0 {
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, d.Name, child); err != nil {
			return fmt.Errorf("apply entry: %w", err)
		}
		touched[child] = true
	}
	touched[parent] = true
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", "d:"+d.Parent+":"+fmt.Sprintf("%x", d.Name)); err != nil {
		return err
	}
	*changes = append(*changes, Change{Parent: parent, Name: string(d.Name)})
	return nil
}

// fixNlinkTx recomputes an inode's link count from its entries.
func fixNlinkTx(tx *sql.Tx, ino uint64) error {
	var mode uint32
	var state State
	if err := tx.QueryRow("SELECT mode, state FROM inodes WHERE ino=?", ino).Scan(&mode, &state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}
	if state == StateTombstoned {
		return nil
	}
	var q string
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		q = `SELECT CASE WHEN ?=1 OR EXISTS(SELECT 1 FROM dentries WHERE ino=?1) THEN 2 + (SELECT count(*) FROM dentries d JOIN inodes c ON d.ino=c.ino WHERE d.parent=?1 AND (c.mode & 61440)=16384) ELSE 0 END`
	} else {
		q = "SELECT count(*) FROM dentries WHERE ino=?1 AND ?1=?1"
	}
	var n int
	if err := tx.QueryRow(q, ino).Scan(&n); err != nil {
		return fmt.Errorf("link count %d: %w", ino, err)
	}
	_, err := tx.Exec("UPDATE inodes SET nlink=? WHERE ino=?", n, ino)
	return err
}
