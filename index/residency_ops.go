package index

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// ContentOf returns the synced content of an inode's content version cver,
// for the fetcher. It fails with ErrNotExist if the inode is gone or its
// content has moved to a newer version.
func (db *DB) ContentOf(ino uint64, cver int64) (Content, error) {
	var cb []byte
	var cur int64
	q, done := db.view()
	err := q.QueryRow("SELECT content, cver FROM inodes WHERE ino=?", ino).Scan(&cb, &cur)
	done()
	if errors.Is(err, sql.ErrNoRows) {
		return Content{}, fmt.Errorf("content of %d: %w", ino, ErrNotExist)
	}
	if err != nil {
		return Content{}, fmt.Errorf("content of %d: %w", ino, err)
	}
	if cur != cver {
		return Content{}, fmt.Errorf("content of %d version %d (now %d): %w", ino, cver, cur, ErrNotExist)
	}
	var c Content
	if len(cb) > 0 {
		if err := json.Unmarshal(cb, &c); err != nil {
			return Content{}, fmt.Errorf("content of %d: %w", ino, err)
		}
	}
	return c, nil
}

// MarkResident records that content version cver of ino is wholly in its
// cache file (written and synced): Absent -> Resident. It does nothing if the
// file has moved on (another version, or Staged).
func (db *DB) MarkResident(ino uint64, cver int64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.write(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		if a.Cver != cver || a.State != StateAbsent {
			return nil
		}
		if err := Transition(a.State, StateResident); err != nil {
			return err
		}
		_, err = tx.Exec("UPDATE inodes SET state=? WHERE ino=? AND cver=?", StateResident, ino, cver)
		return err
	})
}

// MarkAbsent records that a Resident file's content will be freed
// (eviction): it commits Absent and a new content version first, so the
// returned old cache file can go afterwards. An Absent file's partly fetched
// content is freed the same way. Staged content is refused with
// ErrIllegalTransition, a pinned file with ErrPinned and an open one with
// ErrBusy.
func (db *DB) MarkAbsent(ino uint64) (CacheKey, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var key CacheKey
	err := db.write(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		if err := Transition(a.State, StateAbsent); err != nil {
			return fmt.Errorf("evict inode %d: %w", ino, err)
		}
		if a.Pinned {
			return fmt.Errorf("evict inode %d: %w", ino, ErrPinned)
		}
		if h := db.handles[ino]; h != nil && h.opens > 0 {
			return fmt.Errorf("evict inode %d: open: %w", ino, ErrBusy)
		}
		// A new content version: the freed file's name is never reused, so a
		// reader can never see a half-refilled old file.
		if _, err := tx.Exec("UPDATE inodes SET state=?, cver=cver+1 WHERE ino=?", StateAbsent, ino); err != nil {
			return fmt.Errorf("evict inode %d: %w", ino, err)
		}
		key = CacheKey{Ino: ino, Cver: a.Cver}
		return nil
	})
	return key, err
}

// Stats summarises the index for status output.
type Stats struct {
	Files       map[State]int   // regular files by residency
	Bytes       map[State]int64 // their bytes
	Dirs        int
	Pinned      int   // regular files pinned here
	PinFetch    int   // pinned files whose content is still to fetch
	PinBytes    int64 // their bytes
	Pending     int   // outbox rows: changes waiting for a journal batch
	PendingData int64
	Unsent      int               // sealed batches not yet confirmed in the store
	Watermarks  map[string]uint64 // other devices: last applied batch
	PullErrors  map[string]string // other devices: why applying stopped
	Device      string
}

// Stats returns counts per residency state and the upload queue.
func (db *DB) Stats() (Stats, error) {
	s := Stats{Files: map[State]int{}, Bytes: map[State]int64{}, Watermarks: map[string]uint64{}, PullErrors: map[string]string{}, Device: db.device}
	// One pass over the inodes gives the residency counts, the directories,
	// the pinned files and the pin backlog: the uploader asks after every
	// batch, and a scan each was most of its cost.
	rows, err := db.settled().Query(`SELECT mode & 61440, state, pinned != 0, nlink > 0, count(*), coalesce(sum(size),0)
		FROM inodes GROUP BY 1, 2, 3, 4`)
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var typ uint32
		var st State
		var pinned, linked bool
		var n int
		var b int64
		if err := rows.Scan(&typ, &st, &pinned, &linked, &n, &b); err != nil {
			rows.Close()
			return s, fmt.Errorf("stats: %w", err)
		}
		switch typ {
		case syscall.S_IFREG:
			s.Files[st] += n
			s.Bytes[st] += b
			if pinned && linked {
				s.Pinned += n
				if st == StateAbsent {
					s.PinFetch += n
					s.PinBytes += b
				}
			}
		case syscall.S_IFDIR:
			if linked {
				s.Dirs += n
			}
		}
	}
	rows.Close()
	q := []struct {
		dst any
		sql string
	}{
		{&s.Pending, "SELECT count(*) FROM outbox"},
		{&s.PendingData, "SELECT coalesce(sum(i.size),0) FROM outbox o JOIN inodes i ON o.ino=i.ino WHERE i.state=2"},
		{&s.Unsent, "SELECT count(*) FROM journal WHERE sent=0"},
	}
	for _, c := range q {
		if err := db.settled().QueryRow(c.sql).Scan(c.dst); err != nil {
			return s, fmt.Errorf("stats: %w", err)
		}
	}
	rows, err = db.settled().Query("SELECT device, seq, err FROM watermarks")
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d, e string
		var seq uint64
		if err := rows.Scan(&d, &seq, &e); err != nil {
			return s, fmt.Errorf("stats: %w", err)
		}
		s.Watermarks[d] = seq
		if e != "" {
			s.PullErrors[d] = e
		}
	}
	return s, rows.Err()
}
