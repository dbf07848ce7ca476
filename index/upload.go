package index

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Upload is a Staged file whose content the uploader may take now: it is in
// the outbox, linked, and not open for writing.
type Upload struct {
	Ino    uint64
	FileID string
	Cver   int64
	Wgen   int64
	Size   int64
}

// StagedUploads returns up to limit files whose content is waiting to be
// uploaded, oldest change first.
func (db *DB) StagedUploads(limit int) ([]Upload, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.endGroupLocked(); err != nil {
		return nil, err
	}
	rows, err := db.w.Query(`SELECT i.ino, i.file_id, i.cver, i.wgen, i.size FROM outbox o JOIN inodes i ON o.ino=i.ino
		WHERE o.key LIKE 'f:%' AND i.state=? AND i.nlink>0 ORDER BY o.gen LIMIT ?`, StateStaged, limit*4)
	if err != nil {
		return nil, fmt.Errorf("staged uploads: %w", err)
	}
	defer rows.Close()
	var out []Upload
	for rows.Next() && len(out) < limit {
		var u Upload
		if err := rows.Scan(&u.Ino, &u.FileID, &u.Cver, &u.Wgen, &u.Size); err != nil {
			return nil, fmt.Errorf("staged uploads: %w", err)
		}
		if h := db.handles[u.Ino]; h != nil && h.writers > 0 {
			continue
		}
		if p := db.overlay[u.Ino]; p != nil && p.dirty {
			continue
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Uploaded is the content the uploader stored for a file, and the write
// generation of the copy it read.
type Uploaded struct {
	Wgen    int64
	Content Content
}

// Sealer turns a batch of records into the bytes of journal object seq.
type Sealer func(seq uint64, recs []Record) ([]byte, error)

// JournalBatch is a sealed batch of the local journal.
type JournalBatch struct {
	Seq  uint64
	Body []byte
}

// afterSend is what MarkSent does once a batch is in the store.
type afterSend struct {
	Resident []residentCAS `json:"resident,omitempty"`
	Purge    []uint64      `json:"purge,omitempty"`
}

type residentCAS struct {
	Ino     uint64  `json:"ino"`
	Wgen    int64   `json:"wgen"`
	Content Content `json:"content"`
}

type outboxRow struct {
	key       string
	gen       int64
	ino       uint64
	parent    uint64
	parentFID string
	name      []byte
}

// SealBatch builds the next journal batch from the outbox: the current state
// of up to max changed files and entries, using the uploaded content for
// Staged files. A Staged file without uploaded content of its current write
// generation, and an entry naming a file or directory never journaled, wait
// for a later batch. The batch is sealed and recorded here before it is sent;
// the outbox rows it covers go in the same transaction. It returns a zero
// batch when there is nothing to send.
func (db *DB) SealBatch(max int, uploaded map[uint64]Uploaded, seal Sealer) (JournalBatch, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out JournalBatch
	err := db.write(func(tx txn) error {
		rows, err := tx.Query("SELECT key, gen, ino, parent, parent_fid, name FROM outbox ORDER BY gen LIMIT ?", max)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		var pending []outboxRow
		for rows.Next() {
			var r outboxRow
			if err := rows.Scan(&r.key, &r.gen, &r.ino, &r.parent, &r.parentFID, &r.name); err != nil {
				rows.Close()
				return fmt.Errorf("read outbox: %w", err)
			}
			pending = append(pending, r)
		}
		rows.Close()
		if len(pending) == 0 {
			var relinks bool
			if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM relink_claims)").Scan(&relinks); err != nil || !relinks {
				return err
			}
		}
		if pending, err = db.withDependenciesTx(tx, pending, uploaded); err != nil {
			return err
		}
		var files, deletions, dentries []Record
		var after afterSend
		var done []outboxRow
		inBatch := map[string]bool{RootFileID: true}
		for _, r := range pending {
			if !strings.HasPrefix(r.key, "f:") {
				continue
			}
			rec, cas, keep, err := db.fileRecordTx(tx, r.ino, uploaded)
			if err != nil {
				return err
			}
			if keep {
				continue
			}
			done = append(done, r)
			if rec == nil {
				after.Purge = append(after.Purge, r.ino)
				continue
			}
			inBatch[rec.ID] = true
			if rec.Deleted {
				deletions = append(deletions, Record{File: rec})
				after.Purge = append(after.Purge, r.ino)
				continue
			}
			files = append(files, Record{File: rec})
			if cas != nil {
				after.Resident = append(after.Resident, *cas)
			}
		}
		for _, r := range pending {
			if !strings.HasPrefix(r.key, "d:") {
				continue
			}
			rec, ok, err := db.dentryRecordTx(tx, r, inBatch)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			done = append(done, r)
			dentries = append(dentries, Record{Dentry: rec})
		}
		relinks, err := db.relinkRecordsTx(tx, dentries, inBatch)
		if err != nil {
			return err
		}
		dentries = append(dentries, relinks...)
		for _, r := range done {
			if _, err := tx.Exec("DELETE FROM outbox WHERE key=? AND gen=?", r.key, r.gen); err != nil {
				return fmt.Errorf("clear outbox: %w", err)
			}
		}
		recs := append(append(files, dentries...), deletions...)
		if len(recs) == 0 {
			// Nothing sendable (only unjournaled deletions): still purge.
			for _, ino := range after.Purge {
				if err := db.purgeTx(tx, ino); err != nil {
					return err
				}
			}
			return nil
		}
		if err := recordHistoryTx(tx, db.device, recs); err != nil {
			return err
		}
		var last uint64
		if err := tx.QueryRow("SELECT coalesce(max(seq), 0) FROM journal").Scan(&last); err != nil {
			return fmt.Errorf("journal seq: %w", err)
		}
		if s, err := metaUintTx(tx, "journal_seq"); err != nil {
			return err
		} else if s > last {
			last = s
		}
		seq := last + 1
		body, err := seal(seq, recs)
		if err != nil {
			return fmt.Errorf("seal journal %d: %w", seq, err)
		}
		ab, _ := json.Marshal(after)
		if _, err := tx.Exec("INSERT INTO journal(seq, body, after) VALUES(?, ?, ?)", seq, body, ab); err != nil {
			return fmt.Errorf("record journal %d: %w", seq, err)
		}
		if err := db.setMeta(tx, "journal_seq", fmt.Sprint(seq)); err != nil {
			return err
		}
		out = JournalBatch{Seq: seq, Body: body}
		return nil
	})
	return out, err
}

// fileRecordTx builds the record for a changed file. keep means "not yet":
// the row stays in the outbox. A nil record with keep false means the file
// was created and deleted without ever being journaled: nothing to send.
func (db *DB) fileRecordTx(tx txn, ino uint64, uploaded map[uint64]Uploaded) (rec *FileRecord, cas *residentCAS, keep bool, err error) {
	var a Attr
	var target, content []byte
	var vvs string
	var hlc int64
	var journaled int
	var author, homePar string
	var homeName []byte
	row := tx.QueryRow("SELECT "+attrCols+", target, content, vv, hlc, journaled, author, home_parent, home_name FROM inodes WHERE ino=?", ino)
	var pinned int
	err = row.Scan(&a.Ino, &a.FileID, &a.Mode, &a.Nlink, &a.UID, &a.GID, &a.Rdev, &a.Size, &a.Atime, &a.Mtime, &a.Ctime, &a.State, &pinned, &a.Cver, &a.Wgen, &target, &content, &vvs, &hlc, &journaled, &author, &homePar, &homeName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("file record %d: %w", ino, err)
	}
	if a.Nlink == 0 {
		if journaled == journaledNo {
			return nil, nil, false, nil
		}
		rec := &FileRecord{ID: a.FileID, Deleted: true, Mode: a.Mode, VV: parseVV(vvs), HLC: hlc, Dev: db.foreignAuthor(author)}
		// A deletion comes after every loser it kept out of its vector.
		if rec.VV, err = takeDeferredTx(tx, ino, a.FileID, rec.VV, true); err != nil {
			return nil, nil, false, err
		}
		if base, ok, err := tombBaseTx(tx, a.FileID); err != nil {
			return nil, nil, false, err
		} else if ok {
			rec.Base = &VersionRef{VV: base.vv, HLC: base.hlc, Dev: base.dev}
		}
		return rec, nil, false, nil
	}
	rec = &FileRecord{ID: a.FileID, Mode: a.Mode, UID: a.UID, GID: a.GID, Rdev: a.Rdev, Mtime: a.Mtime, Ctime: a.Ctime, Target: target, VV: parseVV(vvs), HLC: hlc,
		Dev: db.foreignAuthor(author), Parent: homePar, Name: homeName}
	if rec.ConflictOf, rec.Resolved, err = copyOfTx(tx, a.FileID); err != nil {
		return nil, nil, false, err
	}
	if rec.Xattrs, err = xattrsTx(tx, ino); err != nil {
		return nil, nil, false, err
	}
	if a.IsRegular() {
		switch a.State {
		case StateStaged:
			u, ok := uploaded[ino]
			if !ok || u.Wgen != a.Wgen || u.Content.Size != a.Size {
				return nil, nil, true, nil
			}
			if h := db.handles[ino]; h != nil && h.writers > 0 {
				return nil, nil, true, nil
			}
			if p := db.overlay[ino]; p != nil && p.dirty {
				return nil, nil, true, nil
			}
			c := u.Content
			rec.Content = &c
			cas = &residentCAS{Ino: ino, Wgen: a.Wgen, Content: c}
		default:
			var c Content
			if len(content) > 0 {
				if err := json.Unmarshal(content, &c); err != nil {
					return nil, nil, false, fmt.Errorf("file record %d: content: %w", ino, err)
				}
			}
			rec.Content = &c
		}
	}
	if _, err := tx.Exec("UPDATE inodes SET journaled=? WHERE ino=?", journaledYes, ino); err != nil {
		return nil, nil, false, fmt.Errorf("file record %d: %w", ino, err)
	}
	// The version is sealed without the losers it has not seen; the
	// next one comes after them.
	if _, err := takeDeferredTx(tx, ino, a.FileID, rec.VV, false); err != nil {
		return nil, nil, false, err
	}
	return rec, cas, false, nil
}

func (db *DB) dentryRecordTx(tx txn, r outboxRow, inBatch map[string]bool) (*DentryRecord, bool, error) {
	rec := &DentryRecord{Parent: r.parentFID, Name: r.name}
	var vvs, author string
	err := tx.QueryRow("SELECT vv, hlc, author FROM dentry_versions WHERE parent_fid=? AND name=?", r.parentFID, r.name).Scan(&vvs, &rec.HLC, &author)
	rec.Dev = db.foreignAuthor(author)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("entry record: %w", err)
	}
	rec.VV = parseVV(vvs)
	if !inBatch[r.parentFID] && !db.journaledTx(tx, r.parentFID) {
		return nil, false, nil
	}
	var child string
	var journaled int
	err = tx.QueryRow("SELECT i.file_id, i.journaled FROM dentries d JOIN inodes i ON d.ino=i.ino WHERE d.parent=? AND d.name=?", r.parent, r.name).Scan(&child, &journaled)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Nothing linked: removed (the version names nothing), or the
		// version's child is gone here or linked elsewhere (a directory
		// keeps one name) since the version was made. The record
		// carries the claim the version holds (claims.go), as every
		// device that settles the name from it must.
		if err := tx.QueryRow("SELECT child FROM dentry_versions WHERE parent_fid=? AND name=?", r.parentFID, r.name).Scan(&rec.Child); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("entry record: %w", err)
		}
	case err != nil:
		return nil, false, fmt.Errorf("entry record: %w", err)
	default:
		if journaled != journaledYes && !inBatch[child] {
			return nil, false, nil
		}
		rec.Child = child
	}
	return rec, true, nil
}

// relinkRecordsTx returns the relink claims to send (relink_claims) that
// are not among the entry records of the batch already (sent), and
// forgets them: those whose directory and child other devices know (or
// learn in this batch). A claim superseded here since, or naming a file
// never sent, is forgotten unsent: no device settles from it.
func (db *DB) relinkRecordsTx(tx txn, sent []Record, inBatch map[string]bool) ([]Record, error) {
	rows, err := tx.Query(`SELECT r.parent_fid, r.name, r.vv, r.hlc, r.author, r.child,
		EXISTS(SELECT 1 FROM entry_claims c WHERE c.parent_fid=r.parent_fid AND c.name=r.name AND c.vv=r.vv AND c.hlc=r.hlc AND c.author=r.author AND c.child=r.child),
		coalesce((SELECT i.journaled FROM inodes i WHERE i.file_id=r.child), -1),
		EXISTS(SELECT 1 FROM tombstones t WHERE t.file_id=r.child)
		FROM relink_claims r ORDER BY r.parent_fid, r.name, r.child`)
	if err != nil {
		return nil, fmt.Errorf("relink records: %w", err)
	}
	type relink struct {
		rec        DentryRecord
		vvs, au    string
		held, dead bool
		journaled  int
	}
	var all []relink
	for rows.Next() {
		var r relink
		if err := rows.Scan(&r.rec.Parent, &r.rec.Name, &r.vvs, &r.rec.HLC, &r.au, &r.rec.Child, &r.held, &r.journaled, &r.dead); err != nil {
			rows.Close()
			return nil, fmt.Errorf("relink records: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	var out []Record
	for _, r := range all {
		r.rec.VV, r.rec.Dev = parseVV(r.vvs), db.foreignAuthor(r.au)
		send := r.held && (r.journaled == journaledYes || inBatch[r.rec.Child] || r.journaled == -1 && r.dead)
		if send && !inBatch[r.rec.Parent] && !db.journaledTx(tx, r.rec.Parent) {
			continue
		}
		if r.held && !send && r.journaled != -1 {
			continue // its child is not sent yet: later
		}
		for _, d := range sent {
			if e := d.Dentry; e.Parent == r.rec.Parent && string(e.Name) == string(r.rec.Name) && e.Child == r.rec.Child &&
				e.HLC == r.rec.HLC && e.VV.encode() == r.rec.VV.encode() && e.Dev == r.rec.Dev {
				send = false
			}
		}
		if send {
			rec := r.rec
			out = append(out, Record{Dentry: &rec})
		}
		if _, err := tx.Exec("DELETE FROM relink_claims WHERE parent_fid=? AND name=? AND vv=? AND hlc=? AND author=? AND child=?",
			r.rec.Parent, r.rec.Name, r.vvs, r.rec.HLC, r.au, r.rec.Child); err != nil {
			return nil, fmt.Errorf("relink records: %w", err)
		}
	}
	return out, nil
}

// withDependenciesTx adds to a batch's window of the oldest outbox rows
// the file rows it cannot go without, wherever they are in the outbox: those
// of the files whose content was just uploaded, and those of the parents and
// children its entry rows name. A directory's file row moves to the end of
// the outbox with every entry made in it, while its own entry stays at the
// front; when more than a window of such entries and not yet uploaded files
// built up (a tree made while the store was out of reach, or faster than
// rounds ran), no row of the window could go and the uploader stopped for
// good, uploading the same files every round.
func (db *DB) withDependenciesTx(tx txn, pending []outboxRow, uploaded map[uint64]Uploaded) ([]outboxRow, error) {
	have := make(map[string]bool, len(pending))
	for _, r := range pending {
		have[r.key] = true
	}
	var want []uint64
	for ino := range uploaded {
		want = append(want, ino)
	}
	for _, r := range pending {
		if strings.HasPrefix(r.key, "d:") {
			want = append(want, r.parent)
			var child uint64
			err := tx.QueryRow("SELECT ino FROM dentries WHERE parent=? AND name=?", r.parent, r.name).Scan(&child)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("read outbox: %w", err)
			}
			if err == nil {
				want = append(want, child)
			}
		}
	}
	slices.Sort(want)
	for _, ino := range slices.Compact(want) {
		key := fmt.Sprintf("f:%d", ino)
		if have[key] {
			continue
		}
		r := outboxRow{key: key}
		err := tx.QueryRow("SELECT gen, ino, parent, parent_fid, name FROM outbox WHERE key=?", key).Scan(&r.gen, &r.ino, &r.parent, &r.parentFID, &r.name)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		have[key] = true
		pending = append(pending, r)
	}
	return pending, nil
}

// foreignAuthor returns a version's author for a record's Dev field: empty
// when it is this device, which carries the record anyway.
func (db *DB) foreignAuthor(author string) string {
	if author == db.device {
		return ""
	}
	return author
}

func (db *DB) journaledTx(tx txn, fid string) bool {
	var j int
	if err := tx.QueryRow("SELECT journaled FROM inodes WHERE file_id=?", fid).Scan(&j); err != nil {
		// A parent that is gone was journaled if it ever had entries sent;
		// an entry under it is a removal, which is safe to send.
		return errors.Is(err, sql.ErrNoRows)
	}
	return j == journaledYes
}

func metaUintTx(tx txn, key string) (uint64, error) {
	var v []byte
	err := tx.QueryRow("SELECT value FROM meta WHERE key=?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read meta %s: %w", key, err)
	}
	var n uint64
	if _, err := fmt.Sscan(string(v), &n); err != nil {
		return 0, fmt.Errorf("read meta %s: %w", key, err)
	}
	return n, nil
}

// UnsentJournal returns the sealed batches not yet confirmed in the store, in
// order: after a crash they are sent again, byte for byte.
func (db *DB) UnsentJournal() ([]JournalBatch, error) {
	rows, err := db.settled().Query("SELECT seq, body FROM journal WHERE sent=0 ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("unsent journal: %w", err)
	}
	defer rows.Close()
	var out []JournalBatch
	for rows.Next() {
		var b JournalBatch
		if err := rows.Scan(&b.Seq, &b.Body); err != nil {
			return nil, fmt.Errorf("unsent journal: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// MarkSent records that batch seq is in the store. Files whose uploaded copy
// is still current (same write generation, no writer) become Resident by
// compare-and-set; others stay Staged and go again. Deleted files are purged.
func (db *DB) MarkSent(seq uint64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.write(func(tx txn) error {
		var ab []byte
		var sent int
		err := tx.QueryRow("SELECT after, sent FROM journal WHERE seq=?", seq).Scan(&ab, &sent)
		if err != nil {
			return fmt.Errorf("mark journal %d sent: %w", seq, err)
		}
		if sent != 0 {
			return nil
		}
		var after afterSend
		if err := json.Unmarshal(ab, &after); err != nil {
			return fmt.Errorf("mark journal %d sent: %w", seq, err)
		}
		// The body is no longer needed once the store holds it.
		if _, err := tx.Exec("UPDATE journal SET sent=1, body=x'', after=x'' WHERE seq=?", seq); err != nil {
			return fmt.Errorf("mark journal %d sent: %w", seq, err)
		}
		for _, c := range after.Resident {
			cb, _ := json.Marshal(c.Content)
			if _, err := tx.Exec("UPDATE inodes SET content=? WHERE ino=?", cb, c.Ino); err != nil {
				return fmt.Errorf("mark journal %d sent: %w", seq, err)
			}
			a, err := db.getAttrTx(tx, c.Ino)
			if errors.Is(err, ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			if a.State != StateStaged || a.Wgen != c.Wgen || a.Size != c.Content.Size {
				continue
			}
			if h := db.handles[c.Ino]; h != nil && h.writers > 0 {
				continue
			}
			if err := Transition(a.State, StateResident); err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE inodes SET state=? WHERE ino=? AND wgen=?", StateResident, c.Ino, c.Wgen); err != nil {
				return fmt.Errorf("mark journal %d sent: %w", seq, err)
			}
		}
		for _, ino := range after.Purge {
			if err := db.purgeTx(tx, ino); err != nil {
				return err
			}
		}
		// Keep only the newest row as the sequence's high-water mark.
		if _, err := tx.Exec("DELETE FROM journal WHERE sent=1 AND seq<?", seq); err != nil {
			return fmt.Errorf("mark journal %d sent: %w", seq, err)
		}
		return nil
	})
}
