package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Name conflicts. When two entries claim one name (two files created
// under it, a file and a directory, a file that clashes in a merge of two
// directories, a file back from a deletion whose name was taken), the
// loser is linked again under a conflict name made from its name and the
// losing version's device and time (relinkTx). Such an entry has no
// version of its own (an empty vector: no device chose the name), which
// is how it is told from a file a user named like that. It is listed
// until a user moves it, removes it, or keeps it as it is
// (KeepConflictName), which gives the entry a version of its own. The
// same entries hold on every device that applied the same batches, so
// every such device lists the same ones.

// Kinds of conflict (Conflict.Kind).
const (
	KindContent = "content" // concurrent versions of one file's content
	KindName    = "name"    // two files or directories claimed one name
)

// conflictTag matches the part ConflictName adds to a name: the device
// (with a file ID after it when the plain conflict name was taken too)
// and the time, to the second.
var conflictTag = regexp.MustCompile(` \(conflict ([0-9a-zA-Z]+)((?: [0-9a-f]+)?) (\d{4}-\d{2}-\d{2} \d{6})\)`)

// nameConflicts returns the entries linked again under a conflict name
// that nobody has settled: Kind KindName, the entry's file as the copy
// (CopyIno, CopyID, CopyPath), and the file holding the name it lost, if
// any, as the original.
func (db *DB) nameConflicts(ctx context.Context) ([]Conflict, error) {
	type cand struct {
		parent    uint64
		pfid      string
		name      []byte
		ino       uint64
		fid       string
		mode      uint32
		homeName  []byte
		hlc       int64
		author    string
		vv        string
		copyNoted bool
	}
	rows, err := db.settled().QueryContext(ctx, `SELECT d.parent, p.file_id, d.name, i.ino, i.file_id, i.mode, coalesce(i.home_name, x''),
		i.hlc, i.author, v.vv, EXISTS(SELECT 1 FROM conflict_copies cc WHERE cc.file_id=i.file_id)
		FROM dentry_versions v JOIN inodes p ON p.file_id=v.parent_fid
		JOIN dentries d ON d.parent=p.ino AND d.name=v.name JOIN inodes i ON i.ino=d.ino
		WHERE v.vv IN ('{}', 'null', '') AND instr(v.name, CAST(' (conflict ' AS BLOB)) > 0
		AND i.nlink>0 AND i.state!=?`, StateTombstoned)
	if err != nil {
		return nil, fmt.Errorf("list name conflicts: %w", err)
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.parent, &c.pfid, &c.name, &c.ino, &c.fid, &c.mode, &c.homeName, &c.hlc, &c.author, &c.vv, &c.copyNoted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list name conflicts: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list name conflicts: %w", err)
	}
	var out []Conflict
	for _, c := range cands {
		if c.copyNoted || len(parseVV(c.vv)) != 0 {
			continue // a content conflict's copy, listed as such
		}
		dir := c.mode&syscall.S_IFMT == syscall.S_IFDIR
		home := string(c.homeName)
		if home == "" || checkName(home) != nil {
			home = c.fid // relinkTx names such a file by its ID
		}
		lost, ok := parseConflictName(string(c.name), home, dir)
		if !ok {
			continue
		}
		lost, err = db.exactLoser(ctx, c.fid, c.hlc, c.author, lost)
		if err != nil {
			return nil, err
		}
		x := Conflict{Kind: KindName, CopyIno: c.ino, CopyID: c.fid, Loser: lost}
		if x.CopyPath, err = db.firstPath(c.ino); err != nil {
			return nil, err
		}
		dirPath, err := db.PathOf(c.parent)
		if err != nil {
			return nil, err
		}
		x.OrigPath = strings.TrimSuffix(dirPath, "/") + "/" + home
		w, err := db.nameHolder(ctx, c.parent, c.pfid, home)
		if err != nil {
			return nil, err
		}
		if w != nil {
			x.OrigID, x.OrigIno, x.Winner = w.fid, w.ino, &w.side
			x.What = nameConflictWhat(dir, w.mode&syscall.S_IFMT == syscall.S_IFDIR)
		} else {
			x.What = "its name is free now"
		}
		out = append(out, x)
	}
	return out, nil
}

// parseConflictName reports whether name is ConflictName(home, ...) for
// some device and time, and returns that device and time.
func parseConflictName(name, home string, dir bool) (ConflictSide, bool) {
	for _, m := range conflictTag.FindAllStringSubmatchIndex(name, -1) {
		dev, extra, when := name[m[2]:m[3]], name[m[4]:m[5]], name[m[6]:m[7]]
		t, err := time.ParseInLocation("2006-01-02 150405", when, time.UTC)
		if err != nil {
			continue
		}
		if ConflictName(home, dev+extra, t.UnixNano(), dir) == name {
			return ConflictSide{Device: dev, HLC: t.UnixNano()}, true
		}
	}
	return ConflictSide{}, false
}

// exactLoser returns the losing version a conflict name was made from,
// to the nanosecond: the file's own version or one of the entry versions
// that named it, by the device and in the second the name gives; else the
// name's own device and second.
func (db *DB) exactLoser(ctx context.Context, fid string, hlc int64, author string, named ConflictSide) (ConflictSide, error) {
	in := func(h int64) bool { return h >= named.HLC && h < named.HLC+int64(time.Second) }
	if author == named.Device && in(hlc) {
		return ConflictSide{Device: author, HLC: hlc}, nil
	}
	// Only claims on versions no other of their name supersedes: a
	// superseded one is dropped at a different time on each device, so
	// reading it would list the loser differently on devices that
	// applied the same batches.
	rows, err := db.settled().QueryContext(ctx, `SELECT c.hlc, c.vv,
		(SELECT group_concat(o.vv, char(10)) FROM (SELECT vv FROM entry_claims WHERE parent_fid=c.parent_fid AND name=c.name
			UNION SELECT vv FROM dentry_versions WHERE parent_fid=c.parent_fid AND name=c.name) o)
		FROM entry_claims c WHERE c.child=? AND c.author=? AND c.hlc>=? AND c.hlc<?
		ORDER BY c.hlc DESC`, fid, named.Device, named.HLC, named.HLC+int64(time.Second))
	if err != nil {
		return named, fmt.Errorf("list name conflicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		var vvs string
		var others sql.NullString
		if err := rows.Scan(&h, &vvs, &others); err != nil {
			return named, fmt.Errorf("list name conflicts: %w", err)
		}
		v, superseded := parseVV(vvs), false
		for _, o := range strings.Split(others.String, "\n") {
			if v.Compare(parseVV(o)) == Before {
				superseded = true
				break
			}
		}
		if !superseded {
			return ConflictSide{Device: named.Device, HLC: h}, nil
		}
	}
	if err := rows.Err(); err != nil {
		return named, fmt.Errorf("list name conflicts: %w", err)
	}
	return named, nil
}

// holder is the file linked at a name, and the version that put it there.
type holder struct {
	ino  uint64
	fid  string
	mode uint32
	side ConflictSide
}

// nameHolder returns what is linked at parent/name, nil if nothing: its
// entry's version, or, for an entry with none of its own (a file linked
// again), the file's.
func (db *DB) nameHolder(ctx context.Context, parent uint64, pfid, name string) (*holder, error) {
	var h holder
	var vv string
	var ehlc int64
	var eauthor string
	err := db.settled().QueryRowContext(ctx, `SELECT i.ino, i.file_id, i.mode, i.hlc, i.author,
		coalesce(v.vv, ''), coalesce(v.hlc, 0), coalesce(v.author, '')
		FROM dentries d JOIN inodes i ON i.ino=d.ino LEFT JOIN dentry_versions v ON v.parent_fid=? AND v.name=d.name
		WHERE d.parent=? AND d.name=?`, pfid, parent, []byte(name)).
		Scan(&h.ino, &h.fid, &h.mode, &h.side.HLC, &h.side.Device, &vv, &ehlc, &eauthor)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list name conflicts: %w", err)
	}
	if len(parseVV(vv)) != 0 && ehlc != 0 {
		h.side = ConflictSide{Device: eauthor, HLC: ehlc}
	}
	return &h, nil
}

// nameConflictWhat says in a few words what clashed.
func nameConflictWhat(loserDir, winnerDir bool) string {
	switch {
	case !loserDir && winnerDir:
		return "a file lost its name to a directory"
	case loserDir && winnerDir:
		return "two directories under one name"
	case loserDir:
		return "a directory lost its name to a file"
	}
	return "two files under one name"
}

// KeepConflictName settles a name conflict by keeping the entry
// parent/name as it is: the entry gets a version of its own, as if a user
// had given it that name, so it is no longer listed on any device once
// the version is synced. An entry that is not a name conflict's gives
// ErrNoConflict.
func (db *DB) KeepConflictName(parent uint64, name string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.withTx(func(tx *sql.Tx) error {
		var vv string
		var copyNoted bool
		err := tx.QueryRow(`SELECT coalesce(v.vv, 'none'), EXISTS(SELECT 1 FROM conflict_copies cc WHERE cc.file_id=i.file_id)
			FROM dentries d JOIN inodes p ON p.ino=d.parent JOIN inodes i ON i.ino=d.ino
			LEFT JOIN dentry_versions v ON v.parent_fid=p.file_id AND v.name=d.name
			WHERE d.parent=? AND d.name=?`, parent, []byte(name)).Scan(&vv, &copyNoted)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("keep %q: %w", name, ErrNotExist)
		}
		if err != nil {
			return fmt.Errorf("keep %q: %w", name, err)
		}
		if vv == "none" || copyNoted || len(parseVV(vv)) != 0 || !strings.Contains(name, " (conflict ") {
			return fmt.Errorf("keep %q: not a name conflict: %w", name, ErrNoConflict)
		}
		return db.bumpDentry(tx, parent, name)
	})
}
