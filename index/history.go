package index

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"syscall"
)

// ErrStagedContent reports a file whose content has changes not yet
// uploaded: a restore over it would lose them.
var ErrStagedContent = errors.New("file has changes not yet uploaded")

// Version is one version of a file as the history table recorded it: a
// FileRecord this index applied from another device's journal or sealed
// into its own.
type Version struct {
	// N numbers a file's versions 1..n, oldest first (by hybrid time).
	N      int    `json:"n"`
	FileID string `json:"file_id"`
	VV     VV     `json:"vv"`
	HLC    int64  `json:"hlc"`    // when the version was made (hybrid time, nanoseconds)
	Author string `json:"author"` // the device that made it
	Mode   uint32 `json:"mode"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime"`
	// Content is the version's bytes (regular files; nil for deletions
	// and other types).
	Content *Content `json:"content,omitempty"`
	Deleted bool     `json:"deleted,omitempty"`
	// Parent and Name are the version's home: the entry it was found
	// under when it was made. Deletions carry none.
	Parent string `json:"parent,omitempty"`
	Name   []byte `json:"name,omitempty"`
	// Current marks the version the file holds now here.
	Current bool `json:"current,omitempty"`
	// Concurrent marks a version concurrent with the one held: it lost a
	// conflict (its content lives on in a conflict copy, or only here).
	Concurrent bool `json:"concurrent,omitempty"`
}

// DeletedFile is a file whose newest version is a deletion, with its last
// live version.
type DeletedFile struct {
	FileID  string  `json:"file_id"`
	Name    string  `json:"name"` // the last live version's home name
	Deleted Version `json:"deleted"`
	Last    Version `json:"last"`
}

// recordHistoryTx keeps every file version of recs in the history table:
// a batch applied from device's journal (whatever won), or one sealed here
// (device is then this one). A version already kept (same file ID and
// vector) is kept once.
func recordHistoryTx(tx txn, device string, recs []Record) error {
	for _, r := range recs {
		f := r.File
		if f == nil {
			continue
		}
		author := f.Dev
		if author == "" {
			author = device
		}
		size := int64(len(f.Target))
		var cb []byte
		if f.Content != nil && !f.Deleted {
			cb, _ = json.Marshal(f.Content)
			size = f.Content.Size
		}
		if _, err := tx.Exec(`INSERT OR IGNORE INTO history(file_id, vv, hlc, author, mode, size, mtime, content, deleted, home_parent, home_name)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.VV.encode(), f.HLC, author, f.Mode, size, f.Mtime, cb, f.Deleted, f.Parent, f.Name); err != nil {
			return fmt.Errorf("record version of %s: %w", f.ID, err)
		}
	}
	return nil
}

const historyCols = "file_id, vv, hlc, author, mode, size, mtime, content, deleted, home_parent, home_name"

func scanVersion(s scanner) (Version, error) {
	var v Version
	var vvs string
	var cb []byte
	err := s.Scan(&v.FileID, &vvs, &v.HLC, &v.Author, &v.Mode, &v.Size, &v.Mtime, &cb, &v.Deleted, &v.Parent, &v.Name)
	if err != nil {
		return v, err
	}
	v.VV = parseVV(vvs)
	if len(cb) > 0 {
		var c Content
		if err := json.Unmarshal(cb, &c); err != nil {
			return v, fmt.Errorf("content of a version of %s: %w", v.FileID, err)
		}
		v.Content = &c
	}
	return v, nil
}

// Versions returns every recorded version of the file fileID, oldest first
// (by hybrid time; ties by author, then vector), numbered from 1, with the
// one held now marked Current and those concurrent with it marked
// Concurrent. A file never seen gives an empty list.
func (db *DB) Versions(fileID string) ([]Version, error) {
	rows, err := db.settled().Query("SELECT "+historyCols+" FROM history WHERE file_id=?", fileID)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", fileID, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("versions of %s: %w", fileID, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions of %s: %w", fileID, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.HLC != b.HLC {
			return a.HLC < b.HLC
		}
		if a.Author != b.Author {
			return a.Author < b.Author
		}
		return a.VV.String() < b.VV.String()
	})
	var bases string
	var nlink int
	err = db.settled().QueryRow("SELECT base_vv, nlink FROM inodes WHERE file_id=?", fileID).Scan(&bases, &nlink)
	live := err == nil && nlink > 0
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("versions of %s: %w", fileID, err)
	}
	held := parseVV(bases)
	for i := range out {
		out[i].N = i + 1
		if live && !out[i].Deleted {
			switch out[i].VV.Compare(held) {
			case Equal:
				out[i].Current = true
			case Concurrent:
				out[i].Concurrent = true
			}
		}
	}
	return out, nil
}

// DeletedUnder returns the regular files last seen in the directory
// dirFileID whose newest version is a deletion (and which are not alive
// again here), each with its last live version, most recently deleted
// first.
func (db *DB) DeletedUnder(dirFileID string) ([]DeletedFile, error) {
	rows, err := db.settled().Query(`SELECT DISTINCT h.file_id FROM history h WHERE h.home_parent=? AND h.deleted=0
		AND NOT EXISTS(SELECT 1 FROM inodes i WHERE i.file_id=h.file_id AND i.nlink>0)`, dirFileID)
	if err != nil {
		return nil, fmt.Errorf("deleted files: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("deleted files: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deleted files: %w", err)
	}
	var out []DeletedFile
	for _, id := range ids {
		vs, err := db.Versions(id)
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 || !vs[len(vs)-1].Deleted {
			continue
		}
		var last *Version
		for i := len(vs) - 1; i >= 0; i-- {
			if !vs[i].Deleted {
				last = &vs[i]
				break
			}
		}
		if last == nil || last.Parent != dirFileID || last.Mode&syscall.S_IFMT != syscall.S_IFREG {
			// Moved elsewhere before it was deleted, or not a file.
			continue
		}
		out = append(out, DeletedFile{FileID: id, Name: string(last.Name), Deleted: vs[len(vs)-1], Last: *last})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Deleted.HLC != out[j].Deleted.HLC {
			return out[i].Deleted.HLC > out[j].Deleted.HLC
		}
		return out[i].FileID < out[j].FileID
	})
	return out, nil
}

// RestoreContent makes a new local version of the live regular file ino
// whose content is c (an old version's): the file becomes Absent with that
// content, since its chunks are in the store already (nothing is uploaded
// again; it is fetched when read), its size is c's, its mtime and ctime
// now, and the change is queued for the journal like any other, so other
// devices get it. A Staged file is refused with ErrStagedContent: its
// unuploaded content would be lost (flush it first).
func (db *DB) RestoreContent(ino uint64, c Content) (Attr, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.write(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		switch {
		case !a.IsRegular():
			return fmt.Errorf("restore inode %d: not a regular file: %w", ino, ErrInvalid)
		case a.Nlink == 0 || a.State == StateTombstoned:
			return fmt.Errorf("restore inode %d: deleted: %w", ino, ErrNotExist)
		case a.State == StateStaged:
			return fmt.Errorf("restore inode %d: %w", ino, ErrStagedContent)
		}
		if err := Transition(a.State, StateAbsent); err != nil {
			return fmt.Errorf("restore inode %d: %w", ino, err)
		}
		cb, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("restore inode %d: %w", ino, err)
		}
		// The old content's cache file goes; the new version gets a cache
		// file of its own, so open handles keep reading what they opened.
		if _, err := tx.Exec("INSERT OR IGNORE INTO trash(ino, cver) VALUES(?, ?)", ino, a.Cver); err != nil {
			return fmt.Errorf("restore inode %d: %w", ino, err)
		}
		now := db.now().UnixNano()
		if _, err := tx.Exec("UPDATE inodes SET content=?, size=?, mtime=?, ctime=?, state=?, cver=cver+1 WHERE ino=?",
			cb, c.Size, now, now, StateAbsent, ino); err != nil {
			return fmt.Errorf("restore inode %d: %w", ino, err)
		}
		if err := db.bumpFile(tx, ino, true); err != nil {
			return err
		}
		out, err = db.getAttrTx(tx, ino)
		return err
	})
	if err != nil {
		return Attr{}, err
	}
	if p := db.overlay[ino]; p != nil {
		p.sized = false // the size it remembers is the old content's
	}
	db.feed.publish([]Change{{Ino: ino}})
	return out, nil
}

// CreateFromContent makes a new regular file (a new file ID) named name in
// parent whose content is c, Absent like a version from the store (its
// chunks are there already), with n's mode and owner and modification time
// mtime (0: now). It is queued for the journal like any new file.
func (db *DB) CreateFromContent(parent uint64, name string, n NewNode, c Content, mtime int64) (Attr, error) {
	if err := checkName(name); err != nil {
		return Attr{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.write(func(tx txn) error {
		p, err := db.dirTx(tx, parent)
		if err != nil {
			return err
		}
		if _, err := db.lookupTx(tx, parent, name); err == nil {
			return fmt.Errorf("create %q: %w", name, ErrExist)
		} else if !errors.Is(err, ErrNotExist) {
			return err
		}
		now := db.now().UnixNano()
		if mtime == 0 {
			mtime = now
		}
		na, err := db.insertInodeTx(tx, p, n, syscall.S_IFREG, 1, StateAbsent, nil, now, nil)
		ino := na.Ino
		if err != nil {
			return fmt.Errorf("create %q: %w", name, err)
		}
		cb, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("create %q: %w", name, err)
		}
		if _, err := tx.Exec("UPDATE inodes SET content=?, size=?, mtime=? WHERE ino=?", cb, c.Size, mtime, ino); err != nil {
			return fmt.Errorf("create %q: %w", name, err)
		}
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, []byte(name), ino); err != nil {
			return fmt.Errorf("create %q: %w", name, err)
		}
		if err := db.touchDir(tx, parent, now, 0); err != nil {
			return err
		}
		if err := db.bumpFile(tx, ino, true); err != nil {
			return err
		}
		if err := db.bumpDentry(tx, parent, name); err != nil {
			return err
		}
		out, err = db.getAttrTx(tx, ino)
		return err
	})
	if err != nil {
		return Attr{}, err
	}
	db.feed.publish([]Change{{Ino: parent}, {Parent: parent, Name: name}})
	return out, nil
}
