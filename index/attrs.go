package index

import (
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// RootIno is the root directory's inode number; RootFileID its file ID.
const (
	RootIno    uint64 = 1
	RootFileID        = "root"
)

// Attr is one inode's attributes as the index knows them, including the
// coalesced effect of writes not yet committed.
type Attr struct {
	Ino    uint64
	FileID string
	Mode   uint32 // type and permission bits, as in stat(2)
	Nlink  uint32
	UID    uint32
	GID    uint32
	Rdev   uint32
	Size   int64
	Atime  int64 // nanoseconds since the Unix epoch
	Mtime  int64
	Ctime  int64
	State  State
	Pinned bool
	Cver   int64 // content version: which cache file holds the content
	Wgen   int64 // write generation
}

// IsDir reports whether the inode is a directory.
func (a Attr) IsDir() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// IsRegular reports whether the inode is a regular file.
func (a Attr) IsRegular() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFREG }

// IsTmpfile reports whether the inode is a file made with O_TMPFILE and not
// yet linked: Staged with no name. Nothing about it is journaled until Link
// gives it one.
func (a Attr) IsTmpfile() bool { return a.Nlink == 0 && a.State == StateStaged }

const attrCols = `ino, file_id, mode, nlink, uid, gid, rdev, size, atime, mtime, ctime, state, pinned, cver, wgen`

type scanner interface{ Scan(dest ...any) error }

func scanAttr(s scanner) (Attr, error) {
	var a Attr
	var pinned int
	err := s.Scan(&a.Ino, &a.FileID, &a.Mode, &a.Nlink, &a.UID, &a.GID, &a.Rdev, &a.Size, &a.Atime, &a.Mtime, &a.Ctime, &a.State, &pinned, &a.Cver, &a.Wgen)
	a.Pinned = pinned != 0
	return a, err
}

// pendingAttr is the coalesced effect of write(2) calls on one file, kept in
// memory until flush, fsync, release or the periodic flush commits it, and
// an access time not yet written (relatime), which only the periodic flush
// and Close write.
type pendingAttr struct {
	size  int64
	sized bool // size holds the file's size (else it must be read first)
	mtime int64
	dirty bool  // size and mtime (and meta, if set) are to be committed
	atime int64 // an access time to write, or 0

	// meta is a coalesced change of mode, owner or times made while the
	// file was open for writing (setAttrPendingLocked); it implies dirty.
	// Its times replace the row's, and the writes' mtime then counts
	// from them.
	meta *pendingMeta
}

// pendingMeta is the mode, owner and times a coalesced SETATTR left.
type pendingMeta struct {
	mode, uid, gid      uint32
	atime, mtime, ctime int64
}

// idle reports whether the entry holds nothing to commit.
func (p *pendingAttr) idle() bool { return !p.dirty && p.atime == 0 }

func (db *DB) getAttrTx(tx txn, ino uint64) (Attr, error) {
	a, err := scanAttr(tx.QueryRow("SELECT "+attrCols+" FROM inodes WHERE ino=?", ino))
	if errors.Is(err, sql.ErrNoRows) {
		return Attr{}, fmt.Errorf("inode %d: %w", ino, ErrNotExist)
	}
	if err != nil {
		return Attr{}, fmt.Errorf("inode %d: %w", ino, err)
	}
	db.applyOverlay(&a)
	return a, nil
}

// applyOverlay merges uncommitted write effects. Callers hold db.mu, or
// accept a racy but monotonic view (GetAttr).
func (db *DB) applyOverlay(a *Attr) {
	p := db.overlay[a.Ino]
	if p == nil {
		return
	}
	if m := p.meta; m != nil {
		a.Mode = a.Mode&syscall.S_IFMT | m.mode&0o7777
		a.UID, a.GID = m.uid, m.gid
		a.Atime, a.Mtime, a.Ctime = m.atime, m.mtime, m.ctime
	}
	if p.atime != 0 {
		a.Atime = p.atime
	}
	if p.dirty {
		a.Size = p.size
		if p.mtime > a.Mtime {
			a.Mtime = p.mtime
		}
		if p.mtime > a.Ctime {
			a.Ctime = p.mtime
		}
	}
}

// GetAttr returns an inode's attributes.
func (db *DB) GetAttr(ino uint64) (Attr, error) {
	var a Attr
	err := db.readAttr(func(q txn) ([]*Attr, error) {
		var err error
		a, err = scanAttr(q.QueryRow("SELECT "+attrCols+" FROM inodes WHERE ino=?", ino))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("inode %d: %w", ino, ErrNotExist)
		}
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino, err)
		}
		return []*Attr{&a}, nil
	})
	return a, err
}

// SetAttrIn says which attributes to change; nil fields stay as they are.
type SetAttrIn struct {
	Mode  *uint32 // permission bits only (07777)
	UID   *uint32
	GID   *uint32
	Size  *int64
	Atime *int64
	Mtime *int64
	// AtimeNow and MtimeNow set the time to the index's clock, the same
	// instant as the change time (utimensat's UTIME_NOW); they win over
	// Atime and Mtime.
	AtimeNow bool
	MtimeNow bool
	// Ctime, if set, is used as the change time instead of now (it is never
	// set from user input; remote application uses it).
	Ctime *int64
}

// applyTo sets in's mode, owner and times on a; now is UTIME_NOW's time.
// The size and change time are the caller's.
func (in SetAttrIn) applyTo(a *Attr, now int64) {
	if in.Mode != nil {
		a.Mode = a.Mode&syscall.S_IFMT | *in.Mode&0o7777
	}
	if in.UID != nil {
		a.UID = *in.UID
	}
	if in.GID != nil {
		a.GID = *in.GID
	}
	if in.Atime != nil {
		a.Atime = *in.Atime
	}
	if in.AtimeNow {
		a.Atime = now
	}
	if in.Mtime != nil {
		a.Mtime = *in.Mtime
	}
	if in.MtimeNow {
		a.Mtime = now
	}
}

// SetAttr changes attributes. A size change is a content change: the file
// becomes Staged and its write generation moves on. The caller has already
// truncated the cache file (and, for an Absent file, fetched it first).
func (db *DB) SetAttr(ino uint64, in SetAttrIn) (Attr, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if a, ok, err := db.setAttrPendingLocked(ino, in); ok || err != nil {
		return a, err
	}
	var out Attr
	err := db.writeGrouped(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		now := db.now().UnixNano()
		ctime := now
		if in.Ctime != nil {
			ctime = *in.Ctime
		}
		in.applyTo(&a, now)
		if in.Mode != nil {
			if err := chmodACLTx(tx, ino, a.Mode); err != nil {
				return err
			}
		}
		if p := db.overlay[ino]; p != nil && p.dirty && (in.Mtime != nil || in.MtimeNow) {
			// A time set now replaces the time of writes not yet
			// committed (tar writes, then sets the archive's time
			// before it closes).
			p.mtime = a.Mtime
		}
		content := false
		if in.Size != nil {
			if a.IsDir() {
				return fmt.Errorf("truncate inode %d: %w", ino, ErrIsDir)
			}
			if !a.IsRegular() {
				return fmt.Errorf("truncate inode %d: %w", ino, ErrInvalid)
			}
			// truncate(2) and ftruncate(2) mark the file modified even
			// when the size stays (as ext4 does); the kernel leaves that
			// to the file system and sends no time with the size.
			if in.Mtime == nil && !in.MtimeNow {
				a.Mtime = now
			}
			a.Size = *in.Size
			// An unlinked file still open is written like any other, but
			// its content is never uploaded again: it stays Tombstoned.
			if a.State != StateTombstoned {
				if err := Transition(a.State, StateStaged); err != nil {
					return err
				}
				db.commitNow = db.commitNow || a.State != StateStaged // the cache file was truncated: see openTx
				a.State = StateStaged
			}
			a.Wgen++
			content = true
			if p := db.overlay[ino]; p != nil {
				p.size, p.sized = a.Size, true
				p.mtime = a.Mtime
			}
		}
		// A change of only the access time is not a version: access times
		// are never journaled. Its change time moves all the same, as
		// utimensat(2) wants.
		onlyAtime := in.Mode == nil && in.UID == nil && in.GID == nil && in.Size == nil && in.Mtime == nil && !in.MtimeNow && (in.Atime != nil || in.AtimeNow)
		a.Ctime = ctime
		if _, err := tx.Exec(`UPDATE inodes SET mode=?, uid=?, gid=?, size=?, atime=?, mtime=?, ctime=?, state=?, wgen=? WHERE ino=?`,
			a.Mode, a.UID, a.GID, a.Size, a.Atime, a.Mtime, a.Ctime, a.State, a.Wgen, ino); err != nil {
			return fmt.Errorf("setattr inode %d: %w", ino, err)
		}
		if !onlyAtime && a.State != StateTombstoned && !a.IsTmpfile() {
			if err := db.bumpFile(tx, ino, content); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	if err == nil {
		// The row now holds the access time, pending or newly set.
		db.dropAtimeLocked(ino)
	}
	return out, err
}

// setAttrPendingLocked coalesces a change of mode, owner or times of a
// regular file open for writing into its overlay, like its writes' sizes:
// tar and cp -p set all three on every file between its last write and
// close, and each was a transaction and a new version of its own (half of
// what extracting a file cost). The change is committed with the writes (at
// flush, release, fsync or the periodic flush), and before any other write
// transaction, which then never reads or overwrites a stale row; until then
// every attribute read merges it (applyOverlay). ok is false when the change
// is not one to hold: a size, a file not open for writing, not Staged, or
// one whose mode has an access ACL to follow (chmodACLTx).
func (db *DB) setAttrPendingLocked(ino uint64, in SetAttrIn) (a Attr, ok bool, err error) {
	if in.Size != nil || in.Ctime != nil {
		return Attr{}, false, nil
	}
	if h := db.handles[ino]; h == nil || h.writers == 0 {
		return Attr{}, false, nil
	}
	if in.Mode != nil && !db.noXattr.has(ino) {
		return Attr{}, false, nil
	}
	a, err = db.getAttrTx(db.wq(), ino)
	if err != nil {
		return Attr{}, false, err
	}
	if !a.IsRegular() || a.State != StateStaged || a.IsTmpfile() {
		return Attr{}, false, nil
	}
	now := db.now().UnixNano()
	in.applyTo(&a, now)
	a.Ctime = now
	p := db.overlay[ino]
	if p == nil {
		p = &pendingAttr{}
		db.overlay[ino] = p
		db.overlayLen.Store(int64(len(db.overlay)))
	}
	if !p.sized {
		p.size, p.sized = a.Size, true
	}
	if in.Mtime != nil || in.MtimeNow || !p.dirty {
		// A time set now replaces the time of writes before it (tar
		// writes, then sets the archive's time before it closes).
		p.mtime = a.Mtime
	}
	if in.Atime != nil || in.AtimeNow {
		p.atime = 0 // the time set replaces an access time not yet written
	}
	p.meta = &pendingMeta{mode: a.Mode, uid: a.UID, gid: a.GID, atime: a.Atime, mtime: a.Mtime, ctime: a.Ctime}
	p.dirty = true
	db.metaPending[ino] = struct{}{}
	return a, true, nil
}

// pendingMetaInos lists the inodes with a coalesced attribute change.
func (db *DB) pendingMetaInos() []uint64 {
	if len(db.metaPending) == 0 {
		return nil
	}
	inos := make([]uint64, 0, len(db.metaPending))
	for ino := range db.metaPending {
		inos = append(inos, ino)
	}
	return inos
}

// flushMetaTx commits the overlays of inos (each with a coalesced
// attribute change) in tx.
func (db *DB) flushMetaTx(tx txn, inos []uint64) error {
	for _, ino := range inos {
		if p := db.overlay[ino]; p != nil && p.dirty {
			if err := db.flushTx(tx, ino, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushedAll notes that the overlays of inos were committed.
func (db *DB) flushedAll(inos []uint64) {
	for _, ino := range inos {
		db.flushed(ino)
	}
}

// day is relatime's longest wait between access time updates.
const day = int64(24 * time.Hour)

// AtimeDue is relatime's rule: a read at now moves the access time when it
// is not after the modification and change times, or is a day old.
func AtimeDue(atime, mtime, ctime, now int64) bool {
	return atime <= mtime || atime <= ctime || now-atime >= day
}

// Accessed records that ino's content or listing was just read, under
// relatime's rule: the access time moves only when it is not after the
// modification and change times, or is a day old. The new time stays in
// memory, seen by every attribute read, until the periodic flush (FlushAll)
// or Close writes it, and it is never journaled: a read costs no
// transaction.
func (db *DB) Accessed(ino uint64) error {
	now := db.now().UnixNano()
	db.mu.Lock()
	defer db.mu.Unlock()
	var atime, mtime, ctime int64
	err := db.wq().QueryRow("SELECT atime, mtime, ctime FROM inodes WHERE ino=?", ino).Scan(&atime, &mtime, &ctime)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // gone meanwhile: nothing was read that matters
	}
	if err != nil {
		return fmt.Errorf("access time of inode %d: %w", ino, err)
	}
	p := db.overlay[ino]
	if p != nil {
		if p.atime != 0 {
			atime = p.atime
		}
		if p.dirty {
			mtime, ctime = max(mtime, p.mtime), max(ctime, p.mtime)
		}
	}
	if !AtimeDue(atime, mtime, ctime, now) {
		return nil
	}
	if p == nil {
		p = &pendingAttr{}
		db.overlay[ino] = p
		db.overlayLen.Store(int64(len(db.overlay)))
	}
	p.atime = now
	return nil
}

// dropAtimeLocked forgets ino's pending access time once the row holds it.
func (db *DB) dropAtimeLocked(ino uint64) {
	p := db.overlay[ino]
	if p == nil || p.atime == 0 {
		return
	}
	p.atime = 0
	db.flushes.Add(1) // a reader that merged the pending time must look again
	if h := db.handles[ino]; p.idle() && (h == nil || h.writers == 0) {
		delete(db.overlay, ino)
		db.overlayLen.Store(int64(len(db.overlay)))
	}
}

// flushAtimesLocked writes every pending access time, in one transaction
// that journals nothing.
func (db *DB) flushAtimesLocked() error {
	var inos []uint64
	for ino, p := range db.overlay {
		if p.atime != 0 {
			inos = append(inos, ino)
		}
	}
	if len(inos) == 0 {
		return nil
	}
	err := db.write(func(tx txn) error {
		for _, ino := range inos {
			if _, err := tx.Exec("UPDATE inodes SET atime=? WHERE ino=?", db.overlay[ino].atime, ino); err != nil {
				return fmt.Errorf("write access time of inode %d: %w", ino, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ino := range inos {
		db.dropAtimeLocked(ino)
	}
	return nil
}

// NoteWrite records, in memory only, that bytes up to end were written to a
// file at time mtime. No transaction: the change is committed by Flush,
// Release, Fsync or FlushAll.
func (db *DB) NoteWrite(ino uint64, end int64, mtime int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	p := db.overlay[ino]
	if p == nil || !p.sized {
		var size int64
		if err := db.wq().QueryRow("SELECT size FROM inodes WHERE ino=?", ino).Scan(&size); err != nil {
			return
		}
		if p == nil {
			p = &pendingAttr{}
			db.overlay[ino] = p
			db.overlayLen.Store(int64(len(db.overlay)))
			db.overlayLen.Store(int64(len(db.overlay)))
		}
		p.size, p.sized = size, true
	}
	if end > p.size {
		p.size = end
	}
	p.mtime = mtime
	p.dirty = true
}

// Flush commits one file's pending write effects.
func (db *DB) Flush(ino uint64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.flushLocked(ino)
}

// Fsync commits one file's pending write effects and makes the index durable.
func (db *DB) Fsync(ino uint64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.flushLocked(ino); err != nil {
		return err
	}
	return db.syncLocked()
}

// FlushAll commits every pending write effect (the periodic flush).
func (db *DB) FlushAll() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.flushAllLocked()
}

func (db *DB) flushAllLocked() error {
	var errs []error
	for ino := range db.overlay {
		errs = append(errs, db.flushLocked(ino))
	}
	errs = append(errs, db.flushAtimesLocked(), db.endGroupLocked())
	return errors.Join(errs...)
}

func (db *DB) flushLocked(ino uint64) error {
	p := db.overlay[ino]
	if p == nil {
		return nil
	}
	if !p.dirty {
		if h := db.handles[ino]; p.idle() && (h == nil || h.writers == 0) {
			delete(db.overlay, ino)
			db.overlayLen.Store(int64(len(db.overlay)))
			db.overlayLen.Store(int64(len(db.overlay)))
		}
		return nil
	}
	err := db.writeGrouped(func(tx txn) error {
		if p.meta != nil {
			return nil // write committed it first
		}
		return db.flushTx(tx, ino, p)
	})
	if err != nil {
		return err
	}
	db.flushed(ino)
	return nil
}

// flushTx commits ino's pending write effects p in tx: its size and mtime,
// and a coalesced attribute change, as one new version.
func (db *DB) flushTx(tx txn, ino uint64, p *pendingAttr) error {
	row, err := readVersionTx(tx, ino)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // purged meanwhile
	}
	if err != nil {
		return fmt.Errorf("flush inode %d: %w", ino, err)
	}
	// The attributes, in the statement that makes the new version (one
	// statement, not three: this runs for every file written).
	set := `size=?5, mtime=max(mtime, ?6), ctime=max(ctime, ?6)`
	args := []any{p.size, p.mtime}
	if m := p.meta; m != nil {
		// The change's times replace the row's; writes after it count
		// from them.
		set = `mode=?5, uid=?6, gid=?7, atime=?8, size=?9, mtime=max(?10, ?11), ctime=max(?12, ?11)`
		args = []any{m.mode, m.uid, m.gid, m.atime, p.size, m.mtime, p.mtime, m.ctime}
	}
	if row.state == StateTombstoned || (Attr{State: row.state, Nlink: row.nlink}).IsTmpfile() {
		// No new version: only the row changes. Its parameters are
		// numbered from 5, as in bumpRowTx's statement.
		q := "UPDATE inodes SET " + set + " WHERE ino=?4"
		if _, err := tx.Exec(q, append([]any{nil, nil, nil, ino}, args...)...); err != nil {
			return fmt.Errorf("flush inode %d: %w", ino, err)
		}
		return nil
	}
	return db.bumpRowTx(tx, row, set, args...)
}

// flushed notes that ino's pending write effects were committed.
func (db *DB) flushed(ino uint64) {
	delete(db.metaPending, ino)
	p := db.overlay[ino]
	if p == nil {
		return
	}
	p.dirty = false
	p.meta = nil
	db.flushes.Add(1)
	if h := db.handles[ino]; p.idle() && (h == nil || h.writers == 0) {
		delete(db.overlay, ino)
		db.overlayLen.Store(int64(len(db.overlay)))
	}
}

// readAttr runs a lock-free read of inode rows and merges the overlay. A row
// read just before an overlay commit, merged just after it, would show the
// old size of a write that has already returned: if a commit happened
// meanwhile, the read is retried. With nothing in the overlay and no commit
// of it meanwhile, the read takes no lock at all: the uploader holds mu
// while it seals a batch, and every lookup, getattr and readdir used to
// wait for it (a listing of 10,000 files took 2 s during their upload).
func (db *DB) readAttr(read func(q txn) ([]*Attr, error)) error {
	for {
		if db.grouped.Load() {
			db.mu.Lock()
			if db.grp != nil {
				// The open group holds acknowledged changes the
				// readers cannot see yet: read through it (see view).
				as, err := read(connTx{db.grp.c})
				if err == nil {
					for _, a := range as {
						db.applyOverlay(a)
					}
				}
				db.mu.Unlock()
				return err
			}
			db.mu.Unlock()
		}
		before := db.flushes.Load()
		as, err := read(db.r)
		if err != nil {
			return err
		}
		// An entry in the overlay when the read began is still there,
		// or its removal moved flushes.
		if db.overlayLen.Load() == 0 && db.flushes.Load() == before {
			return nil
		}
		db.mu.Lock()
		if db.flushes.Load() == before {
			for _, a := range as {
				db.applyOverlay(a)
			}
			db.mu.Unlock()
			return nil
		}
		db.mu.Unlock()
	}
}
