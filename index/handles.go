package index

import (
	"database/sql"
	"errors"
	"fmt"
)

// ErrNeedsFetch is returned when a file whose content is not local is opened
// for writing without truncation: the caller must fetch it (making it
// Resident) first, so that a Staged cache file always holds all its content.
var ErrNeedsFetch = errors.New("content must be fetched before writing")

// handleCount is the in-memory count of open handles on one inode.
type handleCount struct {
	opens   int
	writers int
}

// Open records an open handle on ino. Opening for writing makes the file
// Staged and moves its write generation on, in this open's own transaction,
// before any byte changes; trunc also sets its size to zero.
func (db *DB) Open(ino uint64, write, trunc bool) (Attr, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	var err error
	if !write {
		// Nothing to change: a read needs no transaction (diff -r
		// opens every file it compares).
		out, err = db.getAttrTx(db.wq(), ino)
	} else {
		err = db.writeGrouped(func(tx txn) error {
			var err error
			out, err = db.openTx(tx, ino, write, trunc)
			return err
		})
	}
	if err != nil {
		return Attr{}, err
	}
	db.countOpenLocked(ino, write)
	return out, nil
}

// CreateOpen is Create and then Open of the new file (not truncating), in
// one transaction: create(2) and open(O_CREAT) of a new name.
func (db *DB) CreateOpen(parent uint64, name string, n NewNode, write bool) (Attr, error) {
	if err := checkName(name); err != nil {
		return Attr{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.writeGrouped(func(tx txn) error {
		var err error
		out, err = db.createTx(tx, parent, name, n, write)
		return err
	})
	if err != nil {
		return Attr{}, err
	}
	db.countOpenLocked(out.Ino, write)
	return out, nil
}

// openTx is Open's change to the inode, inside a transaction.
func (db *DB) openTx(tx txn, ino uint64, write, trunc bool) (Attr, error) {
	a, err := db.getAttrTx(tx, ino)
	if err != nil {
		return Attr{}, err
	}
	if write && a.IsRegular() && a.State != StateTombstoned {
		if a.State == StateAbsent && !(trunc || a.Size == 0) {
			return Attr{}, fmt.Errorf("open inode %d for writing: %w", ino, ErrNeedsFetch)
		}
		if err := Transition(a.State, StateStaged); err != nil {
			return Attr{}, err
		}
		// The cache file is written once this returns: the index
		// must say Staged on disk first, or a crash would leave it
		// Resident with content that is not its version's
		// (writeGrouped).
		db.commitNow = db.commitNow || a.State != StateStaged
		a.State = StateStaged
		a.Wgen++
		content := false
		if trunc && a.Size != 0 {
			now := db.now().UnixNano()
			a.Size, a.Mtime, a.Ctime = 0, now, now
			content = true
			if p := db.overlay[ino]; p != nil {
				p.size, p.sized, p.mtime = 0, true, now
			}
		}
		if _, err := tx.Exec("UPDATE inodes SET state=?, wgen=?, size=?, mtime=?, ctime=? WHERE ino=?", a.State, a.Wgen, a.Size, a.Mtime, a.Ctime, ino); err != nil {
			return Attr{}, fmt.Errorf("open inode %d: %w", ino, err)
		}
		if content && !a.IsTmpfile() {
			if err := db.bumpFile(tx, ino, true); err != nil {
				return Attr{}, err
			}
		}
	}
	return a, nil
}

// countOpenLocked records one more handle on ino. Callers hold mu.
func (db *DB) countOpenLocked(ino uint64, write bool) {
	h := db.handles[ino]
	if h == nil {
		h = &handleCount{}
		db.handles[ino] = h
	}
	h.opens++
	if write {
		h.writers++
	}
}

// Release drops an open handle, commits the file's pending writes and purges
// the inode if it was the last trace of a deleted file.
func (db *DB) Release(ino uint64, write bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if h := db.handles[ino]; h != nil {
		h.opens--
		if write {
			h.writers--
		}
		if h.opens <= 0 {
			delete(db.handles, ino)
		}
	}
	err := db.flushLocked(ino)
	return errors.Join(err, db.maybePurgeLocked(ino))
}

// Writers returns the number of handles open for writing on ino.
func (db *DB) Writers(ino uint64) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	if h := db.handles[ino]; h != nil {
		return h.writers
	}
	return 0
}

// maybePurgeLocked deletes a Tombstoned inode once nothing refers to it: no
// open handle, and its deletion is journaled (no outbox row). Its cache file
// goes to the trash.
func (db *DB) maybePurgeLocked(ino uint64) error {
	if h := db.handles[ino]; h != nil && h.opens > 0 {
		return nil
	}
	// Most releases are of files that still have names: look before
	// starting a write transaction, so that closing a file costs none.
	var a Attr
	err := db.wq().QueryRow("SELECT state, nlink FROM inodes WHERE ino=?", ino).Scan(&a.State, &a.Nlink)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !a.IsTmpfile() && (a.State != StateTombstoned || a.Nlink != 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge %d: %w", ino, err)
	}
	return db.writeGrouped(func(tx txn) error {
		if a.IsTmpfile() {
			// Closed before it had a name: it never existed anywhere
			// else, and nothing of it was journaled.
			if err := Transition(a.State, StateTombstoned); err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE inodes SET state=? WHERE ino=? AND nlink=0", StateTombstoned, ino); err != nil {
				return fmt.Errorf("purge tmpfile %d: %w", ino, err)
			}
		}
		return db.purgeTx(tx, ino)
	})
}

func (db *DB) purgeTx(tx txn, ino uint64) error {
	if h := db.handles[ino]; h != nil && h.opens > 0 {
		return nil
	}
	var state State
	var nlink int
	var cver int64
	err := tx.QueryRow("SELECT state, nlink, cver FROM inodes WHERE ino=?", ino).Scan(&state, &nlink, &cver)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge %d: %w", ino, err)
	}
	if state != StateTombstoned || nlink != 0 {
		return nil
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM outbox WHERE key=?", fmt.Sprintf("f:%d", ino)).Scan(&n); err != nil {
		return fmt.Errorf("purge %d: %w", ino, err)
	}
	if n > 0 {
		return nil
	}
	for _, q := range []string{"DELETE FROM inodes WHERE ino=?", "DELETE FROM xattrs WHERE ino=?"} {
		if _, err := tx.Exec(q, ino); err != nil {
			return fmt.Errorf("purge %d: %w", ino, err)
		}
	}
	if _, err := tx.Exec("INSERT OR IGNORE INTO trash(ino, cver) VALUES(?, ?)", ino, cver); err != nil {
		return fmt.Errorf("purge %d: %w", ino, err)
	}
	delete(db.overlay, ino)
	db.overlayLen.Store(int64(len(db.overlay)))
	delete(db.metaPending, ino)
	return nil
}

// purgeAllLocked purges every Tombstoned inode that nothing holds, and every
// tmpfile never named, at start.
func (db *DB) purgeAllLocked() error {
	rows, err := db.wq().Query("SELECT ino FROM inodes WHERE nlink=0 AND (state=? OR state=? AND (mode & 61440) = 32768)", StateTombstoned, StateStaged)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	var inos []uint64
	for rows.Next() {
		var ino uint64
		if err := rows.Scan(&ino); err != nil {
			rows.Close()
			return fmt.Errorf("purge: %w", err)
		}
		inos = append(inos, ino)
	}
	rows.Close()
	for _, ino := range inos {
		if err := db.maybePurgeLocked(ino); err != nil {
			return err
		}
	}
	return nil
}

// CacheKey names one cache file: an inode's content version.
type CacheKey struct {
	Ino  uint64
	Cver int64
}

// Trash returns up to limit cache files that are no longer needed.
func (db *DB) Trash(limit int) ([]CacheKey, error) {
	rows, err := db.settled().Query("SELECT ino, cver FROM trash LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("read trash: %w", err)
	}
	defer rows.Close()
	var out []CacheKey
	for rows.Next() {
		var k CacheKey
		if err := rows.Scan(&k.Ino, &k.Cver); err != nil {
			return nil, fmt.Errorf("read trash: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// EmptyTrash forgets cache files the caller has removed.
func (db *DB) EmptyTrash(keys []CacheKey) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.write(func(tx txn) error {
		for _, k := range keys {
			if _, err := tx.Exec("DELETE FROM trash WHERE ino=? AND cver=?", k.Ino, k.Cver); err != nil {
				return fmt.Errorf("empty trash: %w", err)
			}
		}
		return nil
	})
}
