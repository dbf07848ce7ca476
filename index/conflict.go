package index

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// version is one version of a file or directory entry, as far as choosing a
// winner goes: its vector, hybrid time and author.
type version struct {
	vv  VV
	hlc int64
	dev string
}

// later reports whether a beats b when neither dominates the other: the
// later hybrid time, ties by author device ID, then by vector, so that every
// device picks the same winner.
func later(a, b version) bool {
	if a.hlc != b.hlc {
		return a.hlc > b.hlc
	}
	if a.dev != b.dev {
		return a.dev > b.dev
	}
	return a.vv.String() > b.vv.String()
}

// ConflictName returns the name a losing version is kept under next to the
// winner: "name (conflict <device> <YYYY-MM-DD HHMMSS>).ext", with the losing
// version's device and hybrid time (UTC). A directory's name gets no
// extension split. The result is cut to MaxNameLen bytes by shortening the
// stem (then the extension) at a UTF-8 boundary, so every device derives the
// same name.
func ConflictName(name, device string, hlc int64, dir bool) string {
	stem, ext := name, ""
	if !dir {
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			stem, ext = name[:i], name[i:]
		}
	}
	tag := fmt.Sprintf(" (conflict %s %s)", device, time.Unix(0, hlc).UTC().Format("2006-01-02 150405"))
	if len(tag) > MaxNameLen {
		tag = cutUTF8(tag, MaxNameLen)
	}
	room := MaxNameLen - len(tag)
	if len(ext) > room/2 {
		ext = cutUTF8(ext, room/2)
	}
	stem = cutUTF8(stem, room-len(ext))
	return stem + tag + ext
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	s = s[:n]
	// Back up to the start of the last sequence; drop it if the cut split it.
	j := len(s) - 1
	for j > 0 && j > len(s)-utf8.UTFMax && !utf8.RuneStart(s[j]) {
		j--
	}
	if !utf8.FullRuneInString(s[j:]) {
		s = s[:j]
	}
	return s
}

// conflictFileID derives the file ID of the copy that keeps the losing
// version vv of file fid: every device that settles the same conflict makes
// the same copy.
func conflictFileID(fid string, vv VV) string {
	h := sha256.Sum256([]byte("syncfs conflict copy\x00" + fid + "\x00" + vv.String()))
	return hex.EncodeToString(h[:16])
}

// tombstoneTx returns the last version of a deleted file, if the file's
// deletion has been seen here.
func tombstoneTx(tx txn, fid string) (VV, bool, error) {
	var vs string
	err := tx.QueryRow("SELECT vv FROM tombstones WHERE file_id=?", fid).Scan(&vs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("tombstone %s: %w", fid, err)
	}
	return parseVV(vs), true, nil
}

// putTombstoneTx records (merging with what is there) that file fid was
// deleted at version vv.
func putTombstoneTx(tx txn, fid string, vv VV, hlc int64, dev string) error {
	old, ok, err := tombstoneTx(tx, fid)
	if err != nil {
		return err
	}
	if ok {
		vv = old.Merge(vv)
	}
	if _, err := tx.Exec(`INSERT INTO tombstones(file_id, vv, hlc, author) VALUES(?, ?, ?, ?)
		ON CONFLICT(file_id) DO UPDATE SET vv=excluded.vv, hlc=max(hlc, excluded.hlc), author=excluded.author`, fid, vv.encode(), hlc, dev); err != nil {
		return fmt.Errorf("tombstone %s: %w", fid, err)
	}
	return nil
}

// setTombBaseTx records the live version a deletion removed (the latest,
// if several devices deleted different ones).
func setTombBaseTx(tx txn, fid string, base version) error {
	if old, ok, err := tombBaseTx(tx, fid); err != nil || ok && !later(base, old) {
		return err
	}
	if _, err := tx.Exec("UPDATE tombstones SET base_vv=?, base_hlc=?, base_author=? WHERE file_id=?", base.vv.encode(), base.hlc, base.dev, fid); err != nil {
		return fmt.Errorf("tombstone %s: %w", fid, err)
	}
	return nil
}

// tombBaseTx returns the live version a deletion of fid removed, if known.
func tombBaseTx(tx txn, fid string) (version, bool, error) {
	var vs, dev string
	var hlc int64
	err := tx.QueryRow("SELECT base_vv, base_hlc, base_author FROM tombstones WHERE file_id=?", fid).Scan(&vs, &hlc, &dev)
	if errors.Is(err, sql.ErrNoRows) || err == nil && vs == "" {
		return version{}, false, nil
	}
	if err != nil {
		return version{}, false, fmt.Errorf("tombstone %s: %w", fid, err)
	}
	return version{parseVV(vs), hlc, dev}, true, nil
}

// editLosesToDeletedTx settles an edit that arrives for a file deleted
// here: if the edit is concurrent with the version the deletion removed and
// loses to it, the edit is kept as a conflict copy and the file stays
// deleted, which is what a device that saw both versions before the
// deletion ends with. It reports whether it did so.
func (db *DB) editLosesToDeletedTx(tx *sql.Tx, f *FileRecord, remote version, st *applyState) (bool, error) {
	base, ok, err := tombBaseTx(tx, f.ID)
	if err != nil || !ok {
		return false, err
	}
	if f.VV.Compare(base.vv) != Concurrent || !later(base, remote) || f.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return false, nil
	}
	if newest, err := newestTx(tx); err != nil || newest {
		// Under "newest" the edit lives on in the file's versions.
		return true, err
	}
	c := *f
	c.ID, c.ConflictOf, c.Resolved = conflictFileID(f.ID, f.VV), f.ID, false
	exists, err := fileExistsTx(tx, c.ID)
	if err != nil || exists {
		return true, err
	}
	ino, err := db.insertFileTx(tx, &c, remote, f.VV, false)
	if err != nil {
		return true, err
	}
	if err := noteCopyTx(tx, c.ID, f.ID, remote, false); err != nil {
		return true, err
	}
	st.touched[ino] = true
	return true, db.queueFile(tx, ino)
}

// fileExistsTx reports whether fid is known here, live or deleted.
func fileExistsTx(tx *sql.Tx, fid string) (bool, error) {
	var n int
	if err := tx.QueryRow("SELECT (SELECT count(*) FROM inodes WHERE file_id=?1) + (SELECT count(*) FROM tombstones WHERE file_id=?1)", fid).Scan(&n); err != nil {
		return false, fmt.Errorf("look up file %s: %w", fid, err)
	}
	return n > 0, nil
}

// orphan is a live inode without a name, to be linked again.
type orphan struct {
	ino        uint64
	fid        string
	mode       uint32
	homeParent string
	homeName   []byte
	author     string
	hlc        int64
}

// relinkOrphansTx gives a name back to every touched inode that is live but
// has none: a file edited on one device while deleted on another, the loser
// of two files created under one name, a new conflict copy. It goes to its
// home entry if that name is free, else to a conflict name made from the
// entry version that lost (create vs create), or else its own version: the
// same on every device that settles the same conflict. A home directory that is gone means the root. The new entry
// keeps the entry's existing version (none: an empty vector) and is
// journaled, so devices that link the same orphan the same way agree, and
// those that could not see the orphan learn of it. First, the names each
// touched live file claims are settled again (a file back from a deletion
// takes them again), and what that leaves without a name is looked at
// in turn, until nothing moves.
func (db *DB) relinkOrphansTx(tx *sql.Tx, st *applyState) error {
	all := st.touched
	pending := all
	defer func() { st.touched = all }()
	for round := 0; len(pending) > 0; round++ {
		if round == 100 {
			return fmt.Errorf("relink: names still moving after %d rounds", round)
		}
		st.touched = map[uint64]bool{}
		inos := make([]uint64, 0, len(pending))
		for ino := range pending {
			if ino != RootIno && ino != 0 {
				inos = append(inos, ino)
			}
		}
		sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
		// A file deleted or back here hands its claimed names on or
		// takes them again, before any orphan is linked elsewhere.
		for _, ino := range inos {
			var fid string
			err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=? AND state!=?", ino, StateTombstoned).Scan(&fid)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("find orphans: %w", err)
			}
			if err := db.settleClaimsOfTx(tx, fid, st); err != nil {
				return err
			}
		}
		for _, ino := range inos {
			if err := db.relinkOrphanTx(tx, ino, st); err != nil {
				return err
			}
		}
		// Again: what this round touched for the first time, and what
		// it left without a name.
		pending = map[uint64]bool{}
		for ino := range st.touched {
			if !all[ino] {
				pending[ino] = true
			} else if orphaned, err := orphanedTx(tx, ino); err != nil {
				return err
			} else if orphaned {
				pending[ino] = true
			}
			all[ino] = true
		}
	}
	return nil
}

// orphanedTx reports whether ino is live and has no name.
func orphanedTx(tx *sql.Tx, ino uint64) (bool, error) {
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM inodes WHERE ino=?1 AND ino!=?2 AND state!=?3
		AND NOT EXISTS(SELECT 1 FROM dentries WHERE ino=?1)
		AND NOT EXISTS(SELECT 1 FROM dir_merges m WHERE m.fid=inodes.file_id)`, ino, RootIno, StateTombstoned).Scan(&n); err != nil {
		return false, fmt.Errorf("find orphans: %w", err)
	}
	return n > 0, nil
}

// relinkOrphanTx links ino again if it is live and has no name.
func (db *DB) relinkOrphanTx(tx *sql.Tx, ino uint64, st *applyState) error {
	var o orphan
	var state State
	var named int
	err := tx.QueryRow(`SELECT ino, file_id, mode, home_parent, coalesce(home_name, x''), author, hlc, state,
		EXISTS(SELECT 1 FROM dentries WHERE ino=?1) OR EXISTS(SELECT 1 FROM dir_merges m WHERE m.fid=inodes.file_id)
		FROM inodes WHERE ino=?1`, ino).
		Scan(&o.ino, &o.fid, &o.mode, &o.homeParent, &o.homeName, &o.author, &o.hlc, &state, &named)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find orphans: %w", err)
	}
	if state == StateTombstoned || named != 0 {
		return nil
	}
	return db.relinkTx(tx, o, st)
}

func (db *DB) relinkTx(tx *sql.Tx, o orphan, st *applyState) error {
	dir := o.mode&syscall.S_IFMT == syscall.S_IFDIR
	if ok, err := db.linkNamedTx(tx, o, st); ok || err != nil {
		return err
	}
	if m, ok := st.merge[o.ino]; ok && dir {
		// A directory that lost its name to another directory merges
		// into it.
		if ok, err := db.mergeDirTx(tx, o, m, st); ok || err != nil {
			return err
		}
	}
	parent, pfid := RootIno, RootFileID
	if o.homeParent != "" {
		f, p, err := effDirTx(tx, o.homeParent)
		if err != nil {
			return fmt.Errorf("relink %s: %w", o.fid, err)
		}
		if p != 0 {
			parent, pfid = p, f
		}
	}
	if dir && parent != RootIno {
		// A directory is never linked below itself.
		if err := db.checkNotAncestor(tx, o.ino, parent); err != nil {
			parent, pfid = RootIno, RootFileID
		}
	}
	name := string(o.homeName)
	if name == "" || checkName(name) != nil {
		name = o.fid
	}
	v := version{hlc: o.hlc, dev: o.author}
	if l, ok := st.lost[o.ino]; ok {
		v = l.v
	}
	for i, cand := range []string{
		name,
		ConflictName(name, v.dev, v.hlc, dir),
		ConflictName(name, v.dev+" "+o.fid, v.hlc, dir),
	} {
		// A name is taken if something is linked there, or if its latest
		// version names another file (one not here, or not yet) that is
		// not deleted here.
		var n int
		if err := tx.QueryRow(`SELECT (SELECT count(*) FROM dentries WHERE parent=?1 AND name=?2) +
			(SELECT count(*) FROM dentry_versions v WHERE parent_fid=?3 AND name=?2 AND child NOT IN ('', ?4)
				AND NOT (EXISTS(SELECT 1 FROM tombstones t WHERE t.file_id=v.child)
					AND NOT EXISTS(SELECT 1 FROM inodes i WHERE i.file_id=v.child AND i.state!=?5)))`,
			parent, []byte(cand), pfid, o.fid, StateTombstoned).Scan(&n); err != nil {
			return fmt.Errorf("relink %s: %w", o.fid, err)
		}
		if n > 0 && i < 2 {
			continue
		}
		if n > 0 {
			return fmt.Errorf("relink %s: no free name in directory %d: %w", o.fid, parent, ErrExist)
		}
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, []byte(cand), o.ino); err != nil {
			return fmt.Errorf("relink %s: %w", o.fid, err)
		}
		if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, '{}', 0, '', ?)
			ON CONFLICT(parent_fid, name) DO UPDATE SET child=excluded.child`, pfid, []byte(cand), o.fid); err != nil {
			return fmt.Errorf("relink %s: %w", o.fid, err)
		}
		if err := db.noteRelinkTx(tx, pfid, []byte(cand)); err != nil {
			return err
		}
		if err := db.settleEntryTx(tx, pfid, []byte(cand), st); err != nil {
			return err
		}
		if err := db.queueDentry(tx, parent, pfid, []byte(cand)); err != nil {
			return err
		}
		st.touched[parent] = true
		st.changes = append(st.changes, Change{Parent: parent, Name: cand}, Change{Ino: o.ino})
		return nil
	}
	return nil
}

// keepLocalAsCopyTx settles a content conflict the local version lost: the
// local inode, with its cache file (Staged content included) and any open
// handles, becomes the conflict copy copyID, and a new inode takes the file's
// ID, the winning version and all its names. No content is copied.
func (db *DB) keepLocalAsCopyTx(tx *sql.Tx, f *FileRecord, remote version, merged VV, copyID string, l localFile, st *applyState) error {
	w := *f
	if w.Parent == "" {
		w.Parent, w.Name = l.homePar, l.homeName
	}
	if _, err := tx.Exec("UPDATE inodes SET file_id=?, journaled=?, home_parent=?, home_name=? WHERE ino=?", copyID, journaledMaybe, w.Parent, w.Name, l.ino); err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	if err := noteCopyTx(tx, copyID, f.ID, l.ver, false); err != nil {
		return err
	}
	ino, err := db.insertFileTx(tx, &w, remote, merged, true)
	if err != nil {
		return err
	}
	rows, err := tx.Query("SELECT parent, name FROM dentries WHERE ino=?", l.ino)
	if err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	for rows.Next() {
		var c Change
		var name []byte
		if err := rows.Scan(&c.Parent, &name); err != nil {
			rows.Close()
			return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
		}
		c.Name = string(name)
		st.changes = append(st.changes, c)
	}
	rows.Close()
	if _, err := tx.Exec("UPDATE dentries SET ino=? WHERE ino=?", ino, l.ino); err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	if err := db.queueFile(tx, l.ino); err != nil {
		return err
	}
	st.touched[l.ino], st.touched[ino] = true, true
	st.changes = append(st.changes, Change{Ino: l.ino}, Change{Ino: ino})
	return nil
}

// retireAndRecreateTx settles an edit that arrives for a file deleted here
// but not yet purged (its deletion unsent, or a handle still open): the edit
// survives. The dead inode gets a private ID and leaves the outbox (its
// deletion is moot), and a new inode takes the file's ID.
func (db *DB) retireAndRecreateTx(tx *sql.Tx, f *FileRecord, remote version, l localFile, st *applyState) error {
	if _, err := tx.Exec("UPDATE inodes SET file_id=?, journaled=? WHERE ino=?", "retired-"+db.randomID(16), journaledNo, l.ino); err != nil {
		return fmt.Errorf("revive %s: %w", f.ID, err)
	}
	if _, err := tx.Exec("DELETE FROM outbox WHERE key=?", fmt.Sprintf("f:%d", l.ino)); err != nil {
		return fmt.Errorf("revive %s: %w", f.ID, err)
	}
	if err := db.purgeTx(tx, l.ino); err != nil {
		return err
	}
	ino, err := db.insertFileTx(tx, f, remote, f.VV, true)
	if err != nil {
		return err
	}
	st.touched[ino] = true
	st.changes = append(st.changes, Change{Ino: l.ino}, Change{Ino: ino})
	return db.settleDirEntriesTx(tx, ino, f, st)
}

// oneDirNameTx keeps a directory at one name when two devices moved it to
// two: the entry with the later version wins, wherever it was applied first.
// It reports whether the new entry (in parent, at version v) should be
// linked; if so, the directory's other name is dropped here. A move that
// would put a directory below itself is settled by breakCycleTx.
func (db *DB) oneDirNameTx(tx *sql.Tx, child, parent uint64, name []byte, v version, st *applyState) (bool, error) {
	var mode uint32
	if err := tx.QueryRow("SELECT mode FROM inodes WHERE ino=?", child).Scan(&mode); err != nil {
		return false, fmt.Errorf("apply entry: %w", err)
	}
	if mode&syscall.S_IFMT != syscall.S_IFDIR {
		return true, nil
	}
	if ok, err := db.breakCycleTx(tx, child, parent, v, st); err != nil || !ok {
		return false, err
	}
	var opar uint64
	var oname []byte
	var opfid, cfid string
	err := tx.QueryRow(`SELECT d.parent, d.name, p.file_id, c.file_id FROM dentries d
		JOIN inodes p ON d.parent=p.ino JOIN inodes c ON d.ino=c.ino
		WHERE d.ino=? LIMIT 1`, child).Scan(&opar, &oname, &opfid, &cfid)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("apply entry: %w", err)
	}
	ov, err := linkVersionTx(tx, opfid, oname, cfid)
	if err != nil {
		return false, err
	}
	switch {
	case later(v, ov):
	case later(ov, v):
		return false, nil
	default:
		// Two links made with no version of their own (relinks): the
		// smaller name wins, wherever it was applied first.
		var pfid string
		if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", parent).Scan(&pfid); err != nil {
			return false, fmt.Errorf("apply entry: %w", err)
		}
		var opfid string
		if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", opar).Scan(&opfid); err != nil {
			return false, fmt.Errorf("apply entry: %w", err)
		}
		if opfid+"/"+string(oname) <= pfid+"/"+string(name) {
			return false, nil
		}
	}
	if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", opar, oname); err != nil {
		return false, fmt.Errorf("apply entry: %w", err)
	}
	st.touched[opar] = true
	st.changes = append(st.changes, Change{Parent: opar, Name: string(oname)})
	return true, nil
}

// breakCycleTx settles a directory child about to be linked in parent at
// entry version v, where parent lies below child: the moves of two devices
// (each into the other's directory) would make a cycle. The latest of the
// entries that make it loses, whatever order they arrived in: if that is
// v, it reports false (not linked); otherwise that entry's directory is
// unlinked (and linked again elsewhere, never below itself) and it reports
// true.
func (db *DB) breakCycleTx(tx *sql.Tx, child, parent uint64, v version, st *applyState) (bool, error) {
	if db.checkNotAncestor(tx, child, parent) == nil {
		return true, nil
	}
	type edge struct {
		ino, parent uint64
		name        []byte
		v           version
	}
	var loser *edge
	for cur, i := parent, 0; cur != child && i < 1<<16; i++ {
		var e edge
		var pfid, cfid string
		err := tx.QueryRow(`SELECT d.parent, d.name, p.file_id, c.file_id
			FROM dentries d JOIN inodes p ON p.ino=d.parent JOIN inodes c ON c.ino=d.ino
			WHERE d.ino=? LIMIT 1`, cur).Scan(&e.parent, &e.name, &pfid, &cfid)
		if err != nil {
			return false, fmt.Errorf("apply entry: cycle at %d: %w", cur, err)
		}
		if e.v, err = linkVersionTx(tx, pfid, e.name, cfid); err != nil {
			return false, err
		}
		e.ino = cur
		if loser == nil || later(e.v, loser.v) {
			loser = &e
		}
		cur = e.parent
	}
	if loser == nil || !later(loser.v, v) {
		return false, nil
	}
	if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", loser.parent, loser.name); err != nil {
		return false, fmt.Errorf("apply entry: %w", err)
	}
	st.touched[loser.ino], st.touched[loser.parent] = true, true
	st.changes = append(st.changes, Change{Parent: loser.parent, Name: string(loser.name)})
	return true, nil
}

// linkVersionTx returns the version of the entry that links child at name
// in the directory pfid: where directories are merged into pfid, the
// entry of the one whose version names child (the latest, if several do),
// not pfid's own entry of that name, which may name something else. With
// none naming it, pfid's own entry's version (a zero version if none).
func linkVersionTx(tx txn, pfid string, name []byte, child string) (version, error) {
	group, err := mergeGroupTx(tx, pfid)
	if err != nil {
		return version{}, err
	}
	var own, best version
	found := false
	for _, f := range group {
		var vvs, dev, c string
		var hlc int64
		err := tx.QueryRow("SELECT vv, hlc, author, child FROM dentry_versions WHERE parent_fid=? AND name=?", f, name).Scan(&vvs, &hlc, &dev, &c)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return version{}, fmt.Errorf("entry version: %w", err)
		}
		v := version{parseVV(vvs), hlc, dev}
		if f == pfid {
			own = v
		}
		if c == child && (!found || later(v, best)) {
			best, found = v, true
		}
	}
	if found {
		return best, nil
	}
	if own.vv == nil {
		own.vv = VV{}
	}
	return own, nil
}

// linkNamedTx links an orphan where entry versions already name it: an
// entry that arrived before the file did (from another device's journal)
// names nothing until then. It reports whether it linked the orphan.
func (db *DB) linkNamedTx(tx *sql.Tx, o orphan, st *applyState) (bool, error) {
	rows, err := tx.Query(`SELECT v.parent_fid, v.name FROM dentry_versions v WHERE v.child=? ORDER BY v.parent_fid, v.name`, o.fid)
	if err != nil {
		return false, fmt.Errorf("relink %s: %w", o.fid, err)
	}
	type ent struct {
		pfid string
		name []byte
	}
	var ents []ent
	for rows.Next() {
		var e ent
		if err := rows.Scan(&e.pfid, &e.name); err != nil {
			rows.Close()
			return false, fmt.Errorf("relink %s: %w", o.fid, err)
		}
		ents = append(ents, e)
	}
	rows.Close()
	linked := false
	for _, e := range ents {
		_, parent, err := effDirTx(tx, e.pfid)
		if err != nil {
			return false, err
		}
		if parent == 0 {
			continue
		}
		var taken bool
		if err := tx.QueryRow("SELECT EXISTS(SELECT 1 FROM dentries WHERE parent=? AND name=?)", parent, e.name).Scan(&taken); err != nil {
			return false, fmt.Errorf("relink %s: %w", o.fid, err)
		}
		if taken {
			continue
		}
		if o.mode&syscall.S_IFMT == syscall.S_IFDIR && (linked || db.checkNotAncestor(tx, o.ino, parent) != nil) {
			continue
		}
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, e.name, o.ino); err != nil {
			return false, fmt.Errorf("relink %s: %w", o.fid, err)
		}
		st.touched[parent] = true
		st.changes = append(st.changes, Change{Parent: parent, Name: string(e.name)})
		linked = true
	}
	return linked, nil
}

// localCopyThenDeleteTx keeps the local version of a file as its conflict
// copy copyID (the inode and cache file move to the copy, as in
// keepLocalAsCopyTx) and records the file's deletion.
func (db *DB) localCopyThenDeleteTx(tx *sql.Tx, f *FileRecord, merged VV, author, copyID string, l localFile, st *applyState) error {
	if _, err := tx.Exec("UPDATE inodes SET file_id=?, journaled=? WHERE ino=?", copyID, journaledMaybe, l.ino); err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	if err := noteCopyTx(tx, copyID, f.ID, l.ver, false); err != nil {
		return err
	}
	// Its names were the file's: they go, and the copy is linked again
	// under a conflict name.
	rows, err := tx.Query("SELECT parent, name FROM dentries WHERE ino=?", l.ino)
	if err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	var gone []Change
	for rows.Next() {
		var c Change
		var name []byte
		if err := rows.Scan(&c.Parent, &name); err != nil {
			rows.Close()
			return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
		}
		c.Name = string(name)
		gone = append(gone, c)
	}
	rows.Close()
	if _, err := tx.Exec("DELETE FROM dentries WHERE ino=?", l.ino); err != nil {
		return fmt.Errorf("conflict copy of %s: %w", f.ID, err)
	}
	for _, c := range gone {
		st.touched[c.Parent] = true
	}
	st.changes = append(st.changes, gone...)
	if err := db.queueFile(tx, l.ino); err != nil {
		return err
	}
	st.touched[l.ino] = true
	st.changes = append(st.changes, Change{Ino: l.ino})
	if err := putTombstoneTx(tx, f.ID, merged, f.HLC, author); err != nil {
		return err
	}
	if err := setTombBaseTx(tx, f.ID, version{f.Base.VV, f.Base.HLC, f.Base.Dev}); err != nil {
		return err
	}
	return db.settleClaimsOfTx(tx, f.ID, st)
}
