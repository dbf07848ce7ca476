package index

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// Watermark returns the last journal sequence of device applied here.
func (db *DB) Watermark(device string) (uint64, error) {
	var seq uint64
	err := db.settled().QueryRow("SELECT seq FROM watermarks WHERE device=?", device).Scan(&seq)
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
	_, err := db.wq().Exec(`INSERT INTO watermarks(device, seq, err) VALUES(?, 0, ?)
		ON CONFLICT(device) DO UPDATE SET err=excluded.err`, device, msg)
	if err != nil {
		return fmt.Errorf("record pull error: %w", err)
	}
	return nil
}

// ApplyBatch applies another device's journal batch seq in one transaction
// and moves that device's watermark to seq. Concurrent versions never lose
// data: see conflict.go and the package comment. Changed inodes and entries
// are published on the change feed.
func (db *DB) ApplyBatch(device string, seq uint64, recs []Record) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var st *applyState
	err := db.withTx(func(tx *sql.Tx) error {
		st = &applyState{touched: map[uint64]bool{}, lost: map[uint64]lostAt{}, merge: map[uint64]mergeAt{}}
		if err := recordHistoryTx(tx, device, recs); err != nil {
			return err
		}
		for _, r := range dirDeletionsLast(recs) {
			var err error
			switch {
			case r.File != nil:
				err = db.applyFileTx(tx, device, r.File, st)
			case r.Dentry != nil:
				err = db.applyDentryTx(tx, device, r.Dentry, st)
			}
			if err != nil {
				return err
			}
		}
		if err := db.relinkOrphansTx(tx, st); err != nil {
			return err
		}
		if err := db.dropSpareRelinksTx(tx, st); err != nil {
			return err
		}
		for ino := range st.touched {
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
		db.feed.publish(st.changes)
	}
	return err
}

// dirDeletionsLast returns recs with the deletions of directories moved
// to the end, in their order: what a deletion finds still linked in a
// directory is what its device did not have there (emptyDeletedDirTx),
// so the entries the batch itself removes (files it deletes, linked there
// here and not on its device) must be gone by then, whatever order the
// batch lists its deletions in.
func dirDeletionsLast(recs []Record) []Record {
	out := make([]Record, 0, len(recs))
	var dirs []Record
	for _, r := range recs {
		if r.File != nil && r.File.Deleted && r.File.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			dirs = append(dirs, r)
			continue
		}
		out = append(out, r)
	}
	return append(out, dirs...)
}

// applyState is what applying one batch gathers as it goes.
type applyState struct {
	touched map[uint64]bool    // inodes whose links or names may have changed
	changes []Change           // for the change feed
	lost    map[uint64]lostAt  // inodes whose entry lost to a concurrent one: that entry and version
	merge   map[uint64]mergeAt // directories whose entry lost to a concurrent directory: the winner
}

// lostAt is the entry version whose child lost a name to a concurrent
// version, and the entry (parent file ID and name) it lost at.
type lostAt struct {
	key string
	v   version
}

// localFile is the local state of a file that a remote version meets.
type localFile struct {
	ino      uint64
	ver      version
	base     VV // the vector of the version held, without the losers merged in
	state    State
	mode     uint32
	cver     int64
	content  []byte
	homePar  string
	homeName []byte
}

func (db *DB) applyFileTx(tx *sql.Tx, device string, f *FileRecord, st *applyState) error {
	db.observe(f.HLC)
	author := f.Dev
	if author == "" {
		author = device
	}
	remote := version{vv: f.VV, hlc: f.HLC, dev: author}
	if err := noteCopyRecordTx(tx, f, remote); err != nil {
		return err
	}
	var l localFile
	var vvs, bases string
	err := tx.QueryRow("SELECT ino, vv, base_vv, hlc, author, state, mode, cver, content, home_parent, home_name FROM inodes WHERE file_id=?", f.ID).
		Scan(&l.ino, &vvs, &bases, &l.ver.hlc, &l.ver.dev, &l.state, &l.mode, &l.cver, &l.content, &l.homePar, &l.homeName)
	if errors.Is(err, sql.ErrNoRows) {
		return db.applyNewFileTx(tx, f, remote, st)
	}
	if err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	l.ver.vv, l.base = parseVV(vvs), parseVV(bases)
	ord := f.VV.Compare(l.ver.vv)
	if ord == Equal || ord == Before {
		// Ours already includes theirs (or is theirs).
		return nil
	}
	if ord == Concurrent {
		// A version some deletion here had already seen stays deleted,
		// even if the file came back with a concurrent edit.
		tomb, dead, err := tombstoneTx(tx, f.ID)
		if err != nil {
			return err
		}
		if o := f.VV.Compare(tomb); dead && (o == Before || o == Equal) {
			return nil
		}
	}
	merged := l.ver.vv.Merge(f.VV)
	concurrent := ord == Concurrent
	if l.state == StateTombstoned {
		if f.Deleted {
			_, err := tx.Exec("UPDATE inodes SET vv=? WHERE ino=?", merged.encode(), l.ino)
			if err != nil {
				return fmt.Errorf("apply delete %s: %w", f.ID, err)
			}
			return putDeletionTx(tx, f, merged, max(f.HLC, l.ver.hlc), author)
		}
		// Deleted here, edited there: the edit survives under a fresh inode
		// (an open handle keeps the dead one until it is released),
		// unless it lost to the version deleted.
		if lost, err := db.editLosesToDeletedTx(tx, f, remote, st); lost || err != nil {
			return err
		}
		return db.retireAndRecreateTx(tx, f, remote, l, st)
	}
	staged := l.state == StateStaged
	// Whether the remote version has seen the version held here: the
	// vector says more (it includes losers kept as conflict copies, whose
	// content is safe in the copy).
	seen := f.VV.Compare(l.base)
	seenAll := seen == After || seen == Equal
	if f.Deleted {
		survive := !seenAll || staged
		if !survive && l.mode&syscall.S_IFMT == syscall.S_IFDIR {
			// A directory has no conflict copy to keep a version that
			// lost to the one held: one the deletion has not seen brings
			// it back where the deletion came first, so it keeps it here
			// too (and is taken, below).
			_, found, err := unseenDirVersionOfTx(tx, f)
			if err != nil {
				return err
			}
			survive = found
		}
		if survive && f.Base != nil {
			// The deletion removed a version concurrent with ours that
			// beats it: ours becomes a conflict copy, as it did on the
			// deleting device, and the deletion goes ahead.
			bv := version{f.Base.VV, f.Base.HLC, f.Base.Dev}
			if f.Base.VV.Compare(l.base) == Concurrent && later(bv, l.ver) && l.mode&syscall.S_IFMT == syscall.S_IFREG {
				copyID := conflictFileID(f.ID, l.ver.vv)
				exists, err := fileExistsTx(tx, copyID)
				if err != nil {
					return err
				}
				// Under "newest" a journaled loser lives on in the
				// file's versions; unsynced content is in no version,
				// so it still gets a copy.
				newest, err := newestTx(tx)
				if err != nil {
					return err
				}
				if !exists && (staged || !newest) {
					return db.localCopyThenDeleteTx(tx, f, merged, author, copyID, l, st)
				}
				survive = false
			}
		}
		if survive {
			if seenAll && l.mode&syscall.S_IFMT == syscall.S_IFDIR {
				if err := db.unseenDirVersionTx(tx, f, l, st); err != nil {
					return err
				}
			}
			// An edit beats a delete: ours stays, and its vector now
			// dominates the deletion, so every device keeps it.
			_, err := tx.Exec("UPDATE inodes SET vv=? WHERE ino=?", merged.encode(), l.ino)
			st.touched[l.ino] = true
			return err
		}
		return db.applyDeleteTx(tx, f, merged, author, l, st)
	}
	remoteWins := ord == After || seenAll || later(remote, l.ver)
	isReg := l.mode&syscall.S_IFMT == syscall.S_IFREG && f.Mode&syscall.S_IFMT == syscall.S_IFREG
	var cb []byte
	if f.Content != nil {
		cb, _ = json.Marshal(f.Content)
	}
	// Content both sides changed is a conflict: Staged content is unsynced
	// (even a dominating remote version has not seen it), journaled content
	// is compared by its reference.
	conflict := isReg && f.Content != nil && (staged || concurrent && !seenAll && string(cb) != string(l.content))
	newest := false
	if conflict {
		if newest, err = newestTx(tx); err != nil {
			return err
		}
	}
	// Under "newest" a journaled loser (ours or theirs) lives on in the
	// file's versions and no copy is made; unsynced content is in no
	// version, so it still gets a copy.
	if conflict && remoteWins && (staged || !newest) {
		copyID := conflictFileID(f.ID, l.ver.vv)
		exists, err := fileExistsTx(tx, copyID)
		if err != nil {
			return err
		}
		if exists && staged {
			// Unsynced content is in no copy yet, whatever holds that ID
			// (a copy deleted by hand): it gets an ID of its own.
			copyID = conflictFileID(copyID, l.ver.vv)
			if exists, err = fileExistsTx(tx, copyID); err != nil {
				return err
			}
		}
		if !exists {
			return db.keepLocalAsCopyTx(tx, f, remote, merged, copyID, l, st)
		}
		if staged {
			return fmt.Errorf("apply file %s: no free conflict copy ID for staged content: %w", f.ID, ErrExist)
		}
		// The copy is there already (another device made it from our
		// journaled version): replacing our content loses nothing.
	}
	if conflict && !remoteWins && !newest {
		copyID := conflictFileID(f.ID, f.VV)
		exists, err := fileExistsTx(tx, copyID)
		if err != nil {
			return err
		}
		if !exists {
			c := *f
			c.ID, c.Parent, c.Name = copyID, l.homePar, l.homeName
			c.ConflictOf, c.Resolved = f.ID, false
			ino, err := db.insertFileTx(tx, &c, remote, f.VV, false)
			if err != nil {
				return err
			}
			if err := noteCopyTx(tx, copyID, f.ID, remote, false); err != nil {
				return err
			}
			if err := db.queueFile(tx, ino); err != nil {
				return err
			}
			st.touched[ino] = true
		}
	}
	if !remoteWins && conflict && newest && staged {
		// Ours stays, but under "newest" the loser lives on only in
		// versions: our unsynced version has not seen it, and its record
		// must not claim so (every other device would take the loser as
		// seen and settled). The vector takes theirs in once it is sealed.
		return deferMergeTx(tx, l.ino, f.VV)
	}
	if !remoteWins {
		// Ours stays; remember what we have seen so our next version
		// dominates theirs.
		_, err := tx.Exec("UPDATE inodes SET vv=? WHERE ino=?", merged.encode(), l.ino)
		return err
	}
	return db.replaceFileTx(tx, f, cb, remote, merged, l, st)
}

// unseenDirVersionTx settles a directory that survives deletion f although
// f has seen the version held here (it has entries, or a version that lost
// to the one held, the deletion has not seen): the directory takes the latest of its versions the deletion (and
// any deletion before it) has not seen, if there is one, which is what a
// device that applied the deletion first brings back. A version held here
// that lost to one the deletion then removed would otherwise stay lost.
func (db *DB) unseenDirVersionTx(tx *sql.Tx, f *FileRecord, l localFile, st *applyState) error {
	best, found, err := unseenDirVersionOfTx(tx, f)
	if err != nil || !found || best.vv.Compare(l.base) == Equal {
		return err
	}
	if _, err := tx.Exec("UPDATE inodes SET mode=?, mtime=?, base_vv=?, hlc=?, author=? WHERE ino=?",
		best.mode, best.mtime, best.vv.encode(), best.hlc, best.dev, l.ino); err != nil {
		return fmt.Errorf("apply delete %s: %w", f.ID, err)
	}
	st.changes = append(st.changes, Change{Ino: l.ino})
	return nil
}

// dirVersion is a recorded version of a directory and its attributes.
type dirVersion struct {
	version
	mode  uint32
	mtime int64
}

// unseenDirVersionOfTx returns the latest recorded version of the
// directory f deletes that neither f nor any deletion of it before has
// seen, if there is one.
func unseenDirVersionOfTx(tx *sql.Tx, f *FileRecord) (dirVersion, bool, error) {
	dead := f.VV
	if tomb, ok, err := tombstoneTx(tx, f.ID); err != nil {
		return dirVersion{}, false, err
	} else if ok {
		dead = dead.Merge(tomb)
	}
	rows, err := tx.Query("SELECT vv, hlc, author, mode, mtime FROM history WHERE file_id=? AND deleted=0", f.ID)
	if err != nil {
		return dirVersion{}, false, fmt.Errorf("apply delete %s: %w", f.ID, err)
	}
	defer rows.Close()
	var best dirVersion
	found := false
	for rows.Next() {
		var v dirVersion
		var vvs string
		if err := rows.Scan(&vvs, &v.hlc, &v.dev, &v.mode, &v.mtime); err != nil {
			return dirVersion{}, false, fmt.Errorf("apply delete %s: %w", f.ID, err)
		}
		v.vv = parseVV(vvs)
		if o := v.vv.Compare(dead); o == Before || o == Equal || v.mode&syscall.S_IFMT != syscall.S_IFDIR {
			continue
		}
		if !found || later(v.version, best.version) {
			best, found = v, true
		}
	}
	if err := rows.Err(); err != nil {
		return dirVersion{}, false, fmt.Errorf("apply delete %s: %w", f.ID, err)
	}
	return best, found, nil
}

// replaceFileTx puts a winning remote version in place of the local one.
func (db *DB) replaceFileTx(tx *sql.Tx, f *FileRecord, cb []byte, remote version, merged VV, l localFile, st *applyState) error {
	st.touched[l.ino] = true
	st.changes = append(st.changes, Change{Ino: l.ino})
	size := int64(len(f.Target))
	if f.Content != nil {
		size = f.Content.Size
	}
	state, cver := l.state, l.cver
	if f.Content != nil && string(cb) != string(l.content) {
		if l.state != StateNone {
			if err := Transition(l.state, StateAbsent); err != nil {
				return fmt.Errorf("apply file %s: %w", f.ID, err)
			}
			state = StateAbsent
		}
		if _, err := tx.Exec("INSERT OR IGNORE INTO trash(ino, cver) VALUES(?, ?)", l.ino, l.cver); err != nil {
			return fmt.Errorf("apply file %s: %w", f.ID, err)
		}
		cver++
	}
	homePar, homeName := f.Parent, f.Name
	if homePar == "" {
		homePar, homeName = l.homePar, l.homeName
	}
	if _, err := tx.Exec(`UPDATE inodes SET mode=?, uid=?, gid=?, rdev=?, size=?, mtime=?, ctime=?, target=?, state=?, cver=?, vv=?, base_vv=?, hlc=?, author=?,
		content=coalesce(?, content), journaled=1, home_parent=?, home_name=? WHERE ino=?`,
		f.Mode, f.UID, f.GID, f.Rdev, size, f.Mtime, f.Ctime, f.Target, state, cver, merged.encode(), f.VV.encode(), f.HLC, remote.dev, cb, homePar, homeName, l.ino); err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", l.ino)); err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	if _, err := tx.Exec("DELETE FROM xattrs WHERE ino=?", l.ino); err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	return setXattrsTx(tx, l.ino, f.Xattrs)
}

// applyNewFileTx applies a version of a file not known here: a new file, a
// deletion to remember, a stale version of a file deleted here (ignored), or
// an edit concurrent with a deletion here (the edit survives).
func (db *DB) applyNewFileTx(tx *sql.Tx, f *FileRecord, remote version, st *applyState) error {
	tomb, dead, err := tombstoneTx(tx, f.ID)
	if err != nil {
		return err
	}
	if f.Deleted {
		return putDeletionTx(tx, f, f.VV, f.HLC, remote.dev)
	}
	if dead {
		if o := f.VV.Compare(tomb); o == Before || o == Equal {
			return nil
		}
		// The version comes back with its own vector, not merged with the
		// deletion's: a later deletion that has seen this version (but not
		// the first deletion) must still dominate it. The tombstone stays,
		// to keep out versions the first deletion had seen.
		if lost, err := db.editLosesToDeletedTx(tx, f, remote, st); lost || err != nil {
			return err
		}
	}
	ino, err := db.insertFileTx(tx, f, remote, f.VV, true)
	if err != nil {
		return err
	}
	st.touched[ino] = true
	return db.settleDirEntriesTx(tx, ino, f, st)
}

// settleDirEntriesTx settles the entries already recorded under f, a
// directory that has just come (back) here as inode ino: entries that
// arrived while it was deleted here or not yet known.
func (db *DB) settleDirEntriesTx(tx *sql.Tx, ino uint64, f *FileRecord, st *applyState) error {
	if f.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil
	}
	rows, err := tx.Query("SELECT name FROM dentry_versions WHERE parent_fid=? ORDER BY name", f.ID)
	if err != nil {
		return fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	var names [][]byte
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("apply file %s: %w", f.ID, err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if err := db.settleEntryTx(tx, f.ID, n, st); err != nil {
			return err
		}
	}
	return nil
}

// The values of the inodes.journaled column.
const (
	journaledNo  = 0 // never sent: other devices do not know the file ID
	journaledYes = 1 // a version is in the store
	// journaledMaybe: a conflict copy not sent from here, which other
	// devices may have made too: its deletion must be sent, and entries
	// naming it wait for its record.
	journaledMaybe = 2
)

// insertFileTx creates an inode for a remote version (journaled: it came
// from a journal) or for a conflict copy made here.
func (db *DB) insertFileTx(tx *sql.Tx, f *FileRecord, v version, vv VV, journaled bool) (uint64, error) {
	var cb []byte
	size := int64(len(f.Target))
	if f.Content != nil {
		cb, _ = json.Marshal(f.Content)
		size = f.Content.Size
	}
	state := StateNone
	if f.Mode&syscall.S_IFMT == syscall.S_IFREG {
		state = StateAbsent
	}
	j := journaledMaybe
	if journaled {
		j = journaledYes
	}
	res, err := tx.Exec(`INSERT INTO inodes(file_id, mode, uid, gid, rdev, nlink, size, atime, mtime, ctime, target, state, vv, base_vv, hlc, journaled, content, author, home_parent, home_name)
		VALUES(?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Mode, f.UID, f.GID, f.Rdev, size, f.Mtime, f.Mtime, f.Ctime, f.Target, state, vv.encode(), f.VV.encode(), v.hlc, j, cb, v.dev, f.Parent, f.Name)
	if err != nil {
		return 0, fmt.Errorf("apply file %s: %w", f.ID, err)
	}
	id, _ := res.LastInsertId()
	if err := setXattrsTx(tx, uint64(id), f.Xattrs); err != nil {
		return 0, err
	}
	return uint64(id), nil
}

// applyDeleteTx removes a file whose deletion dominates the local version.
func (db *DB) applyDeleteTx(tx *sql.Tx, f *FileRecord, merged VV, author string, l localFile, st *applyState) error {
	st.touched[l.ino] = true
	st.changes = append(st.changes, Change{Ino: l.ino})
	if l.mode&syscall.S_IFMT == syscall.S_IFDIR {
		if err := db.emptyDeletedDirTx(tx, f.ID, l.ino, st); err != nil {
			return err
		}
	}
	rows, err := tx.Query("SELECT parent, name FROM dentries WHERE ino=?", l.ino)
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
			return fmt.Errorf("apply delete %s: %w", f.ID, err)
		}
		ents = append(ents, e)
	}
	rows.Close()
	for _, e := range ents {
		if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", e.parent, e.name); err != nil {
			return fmt.Errorf("apply delete %s: %w", f.ID, err)
		}
		st.touched[e.parent] = true
		st.changes = append(st.changes, Change{Parent: e.parent, Name: string(e.name)})
	}
	if _, err := tx.Exec("UPDATE inodes SET nlink=0, state=?, vv=? WHERE ino=?", StateTombstoned, merged.encode(), l.ino); err != nil {
		return fmt.Errorf("apply delete %s: %w", f.ID, err)
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", l.ino)); err != nil {
		return fmt.Errorf("apply delete %s: %w", f.ID, err)
	}
	if err := putDeletionTx(tx, f, merged, max(f.HLC, l.ver.hlc), author); err != nil {
		return err
	}
	if err := setTombBaseTx(tx, f.ID, version{l.base, l.ver.hlc, l.ver.dev}); err != nil {
		return err
	}
	if err := db.purgeTx(tx, l.ino); err != nil {
		return err
	}
	// The names it had go to other claims on their versions, if any.
	return db.settleClaimsOfTx(tx, f.ID, st)
}

// emptyDeletedDirTx empties the directory fid (inode ino) that a deletion
// removes although entries are still linked in it here: entries its
// deleting device did not have there (files linked again in it here, or
// the entries of directories merged into it), since the deletion has seen
// every version of the directory held here. Directories merged into it
// stand alone again, and what was linked in it is linked again elsewhere
// (relinkOrphansTx), as on a device that linked it after the deletion.
func (db *DB) emptyDeletedDirTx(tx *sql.Tx, fid string, ino uint64, st *applyState) error {
	rows, err := tx.Query("SELECT i.ino FROM dir_merges m JOIN inodes i ON i.file_id=m.fid WHERE m.into_fid=? ORDER BY m.fid", fid)
	if err != nil {
		return fmt.Errorf("apply delete %s: %w", fid, err)
	}
	var merged []uint64
	for rows.Next() {
		var m uint64
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return fmt.Errorf("apply delete %s: %w", fid, err)
		}
		merged = append(merged, m)
	}
	rows.Close()
	for _, m := range merged {
		if err := db.unmergeTx(tx, m, st); err != nil {
			return err
		}
	}
	return db.unlinkAllTx(tx, ino, st)
}

// putDeletionTx records a remote deletion f in the file's tombstone: its
// vector (merged, as putTombstoneTx does) and the live version it removed
// (f.Base), so that the version an edit arriving later is settled against
// is the latest one removed, whichever device's deletion came first.
func putDeletionTx(tx *sql.Tx, f *FileRecord, vv VV, hlc int64, author string) error {
	if err := putTombstoneTx(tx, f.ID, vv, hlc, author); err != nil {
		return err
	}
	if f.Base == nil {
		return nil
	}
	return setTombBaseTx(tx, f.ID, version{f.Base.VV, f.Base.HLC, f.Base.Dev})
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

func (db *DB) applyDentryTx(tx *sql.Tx, device string, d *DentryRecord, st *applyState) error {
	db.observe(d.HLC)
	author := d.Dev
	if author == "" {
		author = device
	}
	if len(d.VV) == 0 {
		// An empty vector is an entry linked again with no version of its
		// own (see relinkOrphansTx): it has no author, whatever the
		// record says (checkpoints once named their writer).
		author = ""
	}
	// The child this record names, if it is alive here.
	var child uint64
	if d.Child != "" {
		var state State
		err := tx.QueryRow("SELECT ino, state FROM inodes WHERE file_id=?", d.Child).Scan(&child, &state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Deleted here (its version lost, or it is gone): the name
			// names nothing.
		case err != nil:
			return fmt.Errorf("apply entry: %w", err)
		case state == StateTombstoned:
			child = 0
		default:
			// Whatever happens to the name, the child is looked at again:
			// left without a name, it is linked elsewhere.
			st.touched[child] = true
		}
	}
	var vvs, ldev, lchild string
	var hlc int64
	err := tx.QueryRow("SELECT vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name=?", d.Parent, d.Name).Scan(&vvs, &hlc, &ldev, &lchild)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("apply entry: %w", err)
	}
	have := err == nil
	// An entry is settled from the set of its versions that no other
	// supersedes, and the claims on each (claims.go): the version held is
	// the winner among them, so devices agree whatever order versions
	// arrive in. A vector is never merged into the version held: two
	// devices that merged the same versions could otherwise hold
	// different winners under one vector. (Dominance implies a later
	// hybrid time, since a device's clock moves past every time it has
	// seen.)
	if err := addClaimTx(tx, d.Parent, d.Name, version{d.VV, d.HLC, author}, d.Child); err != nil {
		return err
	}
	if !have {
		if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, ?, ?, ?, ?)`,
			d.Parent, d.Name, d.VV.encode(), d.HLC, author, d.Child); err != nil {
			return fmt.Errorf("apply entry: %w", err)
		}
	}
	// Where the directory is gone here (or not here yet), the entry is
	// kept, naming nothing, and settled if the directory comes back
	// (another device wrote into it while it was deleted here: the new
	// entries survive) or arrives (settleDirEntriesTx).
	if err := db.settleEntryTx(tx, d.Parent, d.Name, st); err != nil {
		return err
	}
	var nvvs, ndev string
	var nhlc int64
	if err := tx.QueryRow("SELECT vv, hlc, author FROM dentry_versions WHERE parent_fid=? AND name=?", d.Parent, d.Name).Scan(&nvvs, &nhlc, &ndev); err != nil {
		return fmt.Errorf("apply entry: %w", err)
	}
	if have && (nvvs != vvs || nhlc != hlc || ndev != ldev) {
		// The version held lost: what of it was still to send is moot.
		if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", "d:"+d.Parent+":"+hex.EncodeToString(d.Name)); err != nil {
			return fmt.Errorf("apply entry: %w", err)
		}
	}
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
		q = `SELECT CASE WHEN ?=1 OR EXISTS(SELECT 1 FROM dentries WHERE ino=?1)
			OR EXISTS(SELECT 1 FROM dir_merges m JOIN inodes i ON i.file_id=m.fid WHERE i.ino=?1) THEN 2 + (SELECT count(*) FROM dentries d JOIN inodes c ON d.ino=c.ino WHERE d.parent=?1 AND (c.mode & 61440)=16384) ELSE 0 END`
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
