package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// TreeReader reads the namespace from one consistent point in time (one
// read transaction), directory by directory, with every entry's full
// record: what a snapshot or checkpoint of the tree is built from. Writers
// go on meanwhile; the reader does not see their changes. Close it soon:
// it holds one reader connection and keeps the WAL from being checkpointed
// past its start.
type TreeReader struct {
	db *DB
	tx *sql.Tx
}

// DentryVersion is the version of one directory entry: its vector, hybrid
// time and author device.
type DentryVersion struct {
	VV  VV
	HLC int64
	Dev string
}

// DirRecord is one entry of a directory as ReadTree sees it.
type DirRecord struct {
	Name   []byte
	Dentry DentryVersion
	// File is the child's full record. For a Staged regular file it holds
	// the last uploaded content (see Stale); Dev is always the author.
	File FileRecord
	Ino  uint64
	// Stale reports a Staged file whose record carries its last uploaded
	// content rather than the bytes in its cache file.
	Stale bool
	// Unsynced reports a Staged file that was never uploaded: it has no
	// content in the store, and File.Content is nil.
	Unsynced bool
}

// ReadTree starts a consistent read of the namespace.
func (db *DB) ReadTree(ctx context.Context) (*TreeReader, error) {
	tx, err := db.settled().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read tree: %w", err)
	}
	// A deferred transaction takes its snapshot at the first read: read
	// something now, so that every later query sees the same state.
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM inodes WHERE ino=?", RootIno).Scan(&n); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read tree: %w", err)
	}
	return &TreeReader{db: db, tx: tx}, nil
}

// Close ends the read.
func (r *TreeReader) Close() error {
	return r.tx.Rollback()
}

// Record returns the full record of one inode (the root directory's, say).
func (r *TreeReader) Record(ino uint64) (FileRecord, error) {
	d, err := scanRecord(r.tx.QueryRow(`SELECT `+recordCols+` FROM inodes i WHERE i.ino=?`, ino), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return FileRecord{}, fmt.Errorf("record of inode %d: %w", ino, ErrNotExist)
	}
	if err != nil {
		return FileRecord{}, fmt.Errorf("record of inode %d: %w", ino, err)
	}
	if d.File.Xattrs, err = xattrsTx(r.tx, ino); err != nil {
		return FileRecord{}, err
	}
	return d.File, nil
}

// recordCols are the inode columns scanRecord reads, for an inode aliased i.
const recordCols = `i.ino, i.file_id, i.mode, i.uid, i.gid, i.rdev, i.mtime, i.ctime, i.target, i.content, i.state, i.journaled, i.vv, i.hlc, i.author, i.home_parent, i.home_name`

// scanRecord reads recordCols (after any leading columns in pre).
func scanRecord(s scanner, pre []any) (DirRecord, error) {
	var d DirRecord
	f := &d.File
	var content []byte
	var vvs string
	var state State
	var journaled int
	dest := append(pre, &d.Ino, &f.ID, &f.Mode, &f.UID, &f.GID, &f.Rdev, &f.Mtime, &f.Ctime, &f.Target, &content, &state, &journaled,
		&vvs, &f.HLC, &f.Dev, &f.Parent, &f.Name)
	if err := s.Scan(dest...); err != nil {
		return d, fmt.Errorf("read record: %w", err)
	}
	f.VV = parseVV(vvs)
	if f.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return d, nil
	}
	if state == StateStaged {
		if len(content) == 0 || journaled != journaledYes {
			d.Unsynced = true
			return d, nil
		}
		d.Stale = true
	}
	var c Content
	if len(content) > 0 {
		if err := json.Unmarshal(content, &c); err != nil {
			return d, fmt.Errorf("content of inode %d: %w", d.Ino, err)
		}
	}
	f.Content = &c
	return d, nil
}

// DirRecords returns the entries of directory dir, in no particular order,
// each with its entry version and the child's full record (attributes,
// xattrs, symlink target, synced content, version). A hard-linked file
// appears under each of its names with the same file ID.
func (r *TreeReader) DirRecords(dir uint64) ([]DirRecord, error) {
	rows, err := r.tx.Query(`SELECT d.name, coalesce(v.vv, '{}'), coalesce(v.hlc, 0), coalesce(v.author, ''), `+recordCols+`
		FROM dentries d JOIN inodes p ON d.parent=p.ino JOIN inodes i ON d.ino=i.ino
		LEFT JOIN dentry_versions v ON v.parent_fid=p.file_id AND v.name=d.name
		WHERE d.parent=? ORDER BY d.id`, dir)
	if err != nil {
		return nil, fmt.Errorf("read directory %d: %w", dir, err)
	}
	var out []DirRecord
	for rows.Next() {
		var name []byte
		var vvs, author string
		var hlc int64
		d, err := scanRecord(rows, []any{&name, &vvs, &hlc, &author})
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read directory %d: %w", dir, err)
		}
		d.Name = name
		d.Dentry = DentryVersion{VV: parseVV(vvs), HLC: hlc, Dev: author}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read directory %d: %w", dir, err)
	}
	// Xattrs after the listing: one connection cannot run a second query
	// while the first's rows are open.
	for i := range out {
		if out[i].File.Xattrs, err = xattrsTx(r.tx, out[i].Ino); err != nil {
			return nil, fmt.Errorf("read directory %d: %w", dir, err)
		}
	}
	return out, nil
}

// Positions returns, for every device whose journal the index has applied
// or written, the last batch sequence number: the other devices'
// watermarks, and this device's last sealed batch.
func (r *TreeReader) Positions() (map[string]uint64, error) {
	out := map[string]uint64{}
	rows, err := r.tx.Query("SELECT device, seq FROM watermarks WHERE seq > 0")
	if err != nil {
		return nil, fmt.Errorf("journal positions: %w", err)
	}
	for rows.Next() {
		var d string
		var seq uint64
		if err := rows.Scan(&d, &seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journal positions: %w", err)
		}
		out[d] = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal positions: %w", err)
	}
	// The journal table keeps only recent batches; journal_seq keeps the
	// last number ever sealed.
	var own uint64
	if err := r.tx.QueryRow("SELECT coalesce(max(seq), 0) FROM journal").Scan(&own); err != nil {
		return nil, fmt.Errorf("journal positions: %w", err)
	}
	if s, err := metaUintTx(r.tx, "journal_seq"); err != nil {
		return nil, err
	} else if s > own {
		own = s
	}
	if own > 0 {
		out[r.db.device] = own
	}
	return out, nil
}
