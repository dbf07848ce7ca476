package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// A checkpoint is the settled state of an index written out as journal
// records, so that a device can start from it instead of replaying every
// batch it covers, and so that the batches it covers can be deleted. It
// holds exactly what applying batches compares against: every live file's
// current version (with the vector it holds and the one merged with the
// losers it has seen), every entry version (names that name nothing
// included), every tombstone, and the file versions kept for history.
// Applying it is applying those records, so a device that already holds
// some of them ignores what it has (dominated or equal versions).

// Checkpoint is a checkpoint's content.
type Checkpoint struct {
	// Positions are, per device, the last batch the state includes.
	Positions map[string]uint64 `json:"positions"`
	// Files are the live files' current versions (the root included).
	Files []FileRecord `json:"files"`
	// Held is, per file ID, the vector of the version a file holds when
	// it differs from the record's (a vector with losers merged in).
	Held map[string]VV `json:"held,omitempty"`
	// Entries are every entry version held, names that name nothing
	// included, and every child claimed under a version of a name that no
	// other version of it supersedes (one record each): the versions held
	// and those that lost to them.
	Entries []DentryRecord `json:"entries"`
	// Tombstones are the deletions, each with the version it removed.
	Tombstones []FileRecord `json:"tombstones"`
	// History are file versions kept for `syncfs versions`.
	History []FileRecord `json:"history"`
}

// Records returns the checkpoint's state as one batch, in the order a
// batch carries them: files, entries, deletions.
func (c *Checkpoint) Records() []Record {
	out := make([]Record, 0, len(c.Files)+len(c.Entries)+len(c.Tombstones))
	for i := range c.Files {
		out = append(out, Record{File: &c.Files[i]})
	}
	for i := range c.Entries {
		out = append(out, Record{Dentry: &c.Entries[i]})
	}
	for i := range c.Tombstones {
		out = append(out, Record{File: &c.Tombstones[i]})
	}
	return out
}

// ReadCheckpoint reads the index's settled state from one consistent
// point. keepHistory, if not nil, says which recorded versions to carry
// (given the file's versions oldest first and the index of one); nil keeps
// them all.
func (db *DB) ReadCheckpoint(ctx context.Context, keepHistory func(vers []Version, i int) bool) (*Checkpoint, error) {
	tx, err := db.settled().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	defer tx.Rollback()
	c := &Checkpoint{Positions: map[string]uint64{}, Held: map[string]VV{}}
	author := func(a string) string {
		if a == "" {
			return db.device
		}
		return a
	}

	rows, err := tx.QueryContext(ctx, "SELECT device, seq FROM watermarks WHERE seq > 0")
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	for rows.Next() {
		var d string
		var seq uint64
		if err := rows.Scan(&d, &seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		c.Positions[d] = seq
	}
	rows.Close()

	rows, err = tx.QueryContext(ctx, `SELECT ino, file_id, mode, uid, gid, rdev, mtime, ctime, target, content, vv, base_vv, hlc, author, home_parent, home_name
		FROM inodes WHERE nlink > 0 ORDER BY ino`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var inos []uint64
	for rows.Next() {
		var f FileRecord
		var ino uint64
		var content []byte
		var vvs, bases, au string
		if err := rows.Scan(&ino, &f.ID, &f.Mode, &f.UID, &f.GID, &f.Rdev, &f.Mtime, &f.Ctime, &f.Target, &content, &vvs, &bases, &f.HLC, &au, &f.Parent, &f.Name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		f.VV, f.Dev = parseVV(vvs), author(au)
		if held := parseVV(bases); len(held) > 0 && held.Compare(f.VV) != Equal {
			c.Held[f.ID] = held
		}
		if f.Mode&syscall.S_IFMT == syscall.S_IFREG {
			f.Content = &Content{}
			if len(content) > 0 {
				if err := json.Unmarshal(content, f.Content); err != nil {
					rows.Close()
					return nil, fmt.Errorf("read checkpoint: content of %s: %w", f.ID, err)
				}
			}
		}
		c.Files = append(c.Files, f)
		inos = append(inos, ino)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	for i, ino := range inos {
		if c.Files[i].Xattrs, err = xattrsTx(tx, ino); err != nil {
			return nil, err
		}
		if c.Files[i].ConflictOf, c.Files[i].Resolved, err = copyOfTx(tx, c.Files[i].ID); err != nil {
			return nil, err
		}
	}

	// Every entry version held, and every claim (claims.go) on a version
	// of its name that no other supersedes: the versions that lost to
	// the one held are settled against later ones too.
	rows, err = tx.QueryContext(ctx, `SELECT parent_fid, name, vv, hlc, author, child FROM dentry_versions
		UNION SELECT parent_fid, name, vv, hlc, author, child FROM entry_claims
		ORDER BY 1, 2, 6`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var ents []DentryRecord
	for rows.Next() {
		var d DentryRecord
		var vvs, au string
		if err := rows.Scan(&d.Parent, &d.Name, &vvs, &d.HLC, &au, &d.Child); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		d.VV, d.Dev = parseVV(vvs), author(au)
		if len(d.VV) == 0 {
			// A name linked again with no version of its own has no
			// author: it must not become this device's version.
			d.Dev = ""
		}
		ents = append(ents, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	c.Entries = undominatedEntries(ents)

	// A deleted conflict copy is still one (a loser it kept is not listed
	// as kept only in versions): its tombstone says what of (conflict_of
	// and resolved, as every record of a copy does).
	rows, err = tx.QueryContext(ctx, `SELECT t.file_id, t.vv, t.hlc, t.author, t.base_vv, t.base_hlc, t.base_author,
		coalesce(c.orig_id, ''), coalesce(c.resolved, 0)
		FROM tombstones t LEFT JOIN conflict_copies c ON c.file_id=t.file_id ORDER BY t.file_id`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	for rows.Next() {
		f := FileRecord{Deleted: true}
		var vvs, au, bvs, bau string
		var bhlc int64
		if err := rows.Scan(&f.ID, &vvs, &f.HLC, &au, &bvs, &bhlc, &bau, &f.ConflictOf, &f.Resolved); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		f.VV, f.Dev = parseVV(vvs), author(au)
		if bvs != "" && bhlc != 0 {
			f.Base = &VersionRef{VV: parseVV(bvs), HLC: bhlc, Dev: bau}
		}
		c.Tombstones = append(c.Tombstones, f)
	}
	rows.Close()

	rows, err = tx.QueryContext(ctx, "SELECT "+historyCols+" FROM history ORDER BY file_id, hlc")
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var vers []Version
	flush := func() {
		for i, v := range vers {
			if keepHistory == nil || keepHistory(vers, i) {
				c.History = append(c.History, FileRecord{ID: v.FileID, Mode: v.Mode, Mtime: v.Mtime, Content: v.Content,
					Deleted: v.Deleted, VV: v.VV, HLC: v.HLC, Dev: v.Author, Parent: v.Parent, Name: v.Name})
			}
		}
		vers = vers[:0]
	}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		if len(vers) > 0 && vers[0].FileID != v.FileID {
			flush()
		}
		vers = append(vers, v)
	}
	flush()
	rows.Close()
	return c, rows.Err()
}

// ApplyCheckpoint applies a checkpoint like a batch of every device at
// once: its records are settled against the local state by the same
// rules, its history joins the local history, and each device's watermark
// moves up to the checkpoint's position (never down). Where the local
// state is the checkpoint's own, it ends as the source's: a tombstone of a
// file the checkpoint holds live is kept beside it (keepTombstoneTx), and
// the vector a file holds is the source's (Held).
func (db *DB) ApplyCheckpoint(c *Checkpoint) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var st *applyState
	err := db.withTx(func(tx *sql.Tx) error {
		st = &applyState{touched: map[uint64]bool{}, lost: map[uint64]lostAt{}, merge: map[uint64]mergeAt{}}
		hist := make([]Record, len(c.History))
		for i := range c.History {
			hist[i] = Record{File: &c.History[i]}
		}
		if err := recordHistoryTx(tx, "", hist); err != nil {
			return err
		}
		live := make(map[string]VV, len(c.Files))
		for _, f := range c.Files {
			live[f.ID] = f.VV
		}
		for _, r := range c.Records() {
			var err error
			switch {
			case r.File != nil:
				kept := false
				if held, ok := live[r.File.ID]; ok && r.File.Deleted {
					kept, err = keepTombstoneTx(tx, r.File, held)
				}
				if r.File.Deleted && (r.File.ConflictOf != "" || r.File.Resolved) && err == nil {
					// A deleted conflict copy (the loser's version is in
					// the copy's history, if anywhere).
					err = noteCopyTx(tx, r.File.ID, r.File.ConflictOf, version{}, r.File.Resolved)
				}
				if !kept && err == nil {
					err = db.applyFileTx(tx, r.File.Dev, r.File, st)
				}
			case r.Dentry != nil:
				err = db.applyDentryTx(tx, r.Dentry.Dev, r.Dentry, st)
			}
			if err != nil {
				return err
			}
		}
		for _, f := range c.Files {
			held, ok := c.Held[f.ID]
			if !ok {
				continue
			}
			// Only where the file now holds exactly the checkpoint's version.
			if _, err := tx.Exec("UPDATE inodes SET base_vv=? WHERE file_id=? AND vv=?", held.encode(), f.ID, f.VV.encode()); err != nil {
				return fmt.Errorf("apply checkpoint: %w", err)
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
		for d, seq := range c.Positions {
			if d == db.device {
				continue
			}
			if _, err := tx.Exec(`INSERT INTO watermarks(device, seq, err) VALUES(?, ?, '')
				ON CONFLICT(device) DO UPDATE SET seq=max(seq, excluded.seq), err=''`, d, seq); err != nil {
				return fmt.Errorf("apply checkpoint: watermark %s: %w", d, err)
			}
		}
		return nil
	})
	if err == nil {
		db.feed.publish(st.changes)
	}
	return err
}

// keepTombstoneTx records the tombstone f of a file the checkpoint also
// holds live at version held, if the file holds exactly that version here,
// and reports whether it did. The file came back after its deletion with a
// version concurrent with it, and the source kept both, the file's vector
// not merged with the deletion's (applyNewFileTx): the tombstone is
// recorded as the source holds it. Settling it against the file as a
// deletion would merge the vectors and drop the tombstone. Elsewhere the
// usual rules apply.
func keepTombstoneTx(tx *sql.Tx, f *FileRecord, held VV) (bool, error) {
	var vvs string
	err := tx.QueryRow("SELECT vv FROM inodes WHERE file_id=? AND state!=?", f.ID, StateTombstoned).Scan(&vvs)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("apply checkpoint: %w", err)
	}
	if parseVV(vvs).Compare(held) != Equal {
		return false, nil
	}
	return true, putDeletionTx(tx, f, f.VV, f.HLC, f.Dev)
}

// undominatedEntries drops the entry records whose version another version
// of the same name dominates (superseded: settling never looks at them);
// recs are grouped by name (parent and name), and their order is kept.
func undominatedEntries(recs []DentryRecord) []DentryRecord {
	out := recs[:0:0]
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Parent == recs[i].Parent && string(recs[j].Name) == string(recs[i].Name) {
			j++
		}
		for k := i; k < j; k++ {
			dominated := false
			for m := i; m < j; m++ {
				if recs[k].VV.Compare(recs[m].VV) == Before {
					dominated = true
					break
				}
			}
			if !dominated {
				out = append(out, recs[k])
			}
		}
		i = j
	}
	return out
}
