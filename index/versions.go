package index

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
)

// VV is a version vector: for each device, how many changes of the object
// that device has made (or seen, merged).
type VV map[string]uint64

// Compare says how a relates to b.
type Order int

// The results of VV.Compare.
const (
	Equal Order = iota
	Before
	After
	Concurrent
)

// Compare reports whether v is Equal to, Before (dominated by), After
// (dominates) or Concurrent with w.
func (v VV) Compare(w VV) Order {
	less, more := false, false
	for k, a := range v {
		if b := w[k]; a > b {
			more = true
		} else if a < b {
			less = true
		}
	}
	for k, b := range w {
		if _, ok := v[k]; !ok && b > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Merge returns the element-wise maximum of v and w.
func (v VV) Merge(w VV) VV {
	out := VV{}
	for k, a := range v {
		out[k] = a
	}
	for k, b := range w {
		if b > out[k] {
			out[k] = b
		}
	}
	return out
}

// String renders the vector deterministically, for logs and tests.
func (v VV) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", k, v[k])
	}
	return "{" + b.String() + "}"
}

func parseVV(s string) VV {
	v := VV{}
	_ = json.Unmarshal([]byte(s), &v) // a damaged vector reads as empty: dominated by anything
	return v
}

func (v VV) encode() string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tick returns the next hybrid logical clock value: wall time in
// nanoseconds, but always past every value issued or seen. Callers hold mu.
func (db *DB) tick() int64 {
	now := db.now().UnixNano()
	if now <= db.hlcLast {
		now = db.hlcLast + 1
	}
	db.hlcLast = now
	return now
}

// observe moves the clock past a remote HLC value. Callers hold mu.
func (db *DB) observe(h int64) {
	if h > db.hlcLast {
		db.hlcLast = h
	}
}

// bumpFile records a local change of a file's version (content or
// attributes): its vector advances, this device becomes its author, its home
// follows its current name, and it joins the outbox. A file whose last name
// is gone leaves a tombstone, so a stale version arriving later cannot bring
// it back.
func (db *DB) bumpFile(tx txn, ino uint64, content bool) error {
	return db.bumpFileTouch(tx, ino, content, nil)
}

// dirTouch is an entry change's effect on its directory: new modification
// and change times, and a link count moved by delta (a subdirectory made or
// removed).
type dirTouch struct {
	now   int64
	delta int
}

// bumpFileTouch is bumpFile that also applies touch, if not nil, in the
// same statement.
func (db *DB) bumpFileTouch(tx txn, ino uint64, content bool, touch *dirTouch) error {
	row, err := readVersionTx(tx, ino)
	if err != nil {
		return err
	}
	if touch == nil {
		return db.bumpRowTx(tx, row, "")
	}
	return db.bumpRowTx(tx, row, "mtime=?5, ctime=?5, nlink=nlink+?6", touch.now, touch.delta)
}

// versionRow is what a local change reads of a file's row to make its
// next version.
type versionRow struct {
	ino                 uint64
	vv, fid, bases, who string
	state               State
	nlink               uint32
	hlc                 int64
	mode                uint32
}

func readVersionTx(tx txn, ino uint64) (versionRow, error) {
	r := versionRow{ino: ino}
	err := tx.QueryRow("SELECT vv, file_id, state, base_vv, hlc, author, nlink, mode FROM inodes WHERE ino=?", ino).
		Scan(&r.vv, &r.fid, &r.state, &r.bases, &r.hlc, &r.who, &r.nlink, &r.mode)
	if err != nil {
		return r, fmt.Errorf("version of inode %d: %w", ino, err)
	}
	return r, nil
}

// bumpRowTx is bumpFile's change of row r, whose UPDATE also sets set
// (columns from parameter ?5 on, given in args): a change of attributes
// and the version it makes are one statement.
func (db *DB) bumpRowTx(tx txn, r versionRow, set string, args ...any) error {
	ino := r.ino
	v := parseVV(r.vv)
	hlc := db.tick()
	// This device's component is its hybrid time, not a counter: it must
	// grow past every value this device ever gave the file, even after the
	// file's row was deleted and brought back by a concurrent edit with an
	// older vector (a counter would then repeat a value).
	v[db.device] = max(v[db.device]+1, uint64(hlc))
	// The home is the entry the inode is found under now (its oldest
	// name); a file with no name keeps the home it had. One statement for
	// both: this runs for every local change, and a second row update was
	// a tenth of a create's cost.
	if set != "" {
		set = ", " + set
	}
	q := `UPDATE inodes SET vv=?1, base_vv=?1, hlc=?2, author=?3,
		home_parent=coalesce((SELECT p.file_id FROM dentries d JOIN inodes p ON d.parent=p.ino WHERE d.ino=?4 ORDER BY d.id LIMIT 1), home_parent),
		home_name=coalesce((SELECT d.name FROM dentries d WHERE d.ino=?4 ORDER BY d.id LIMIT 1), home_name)` + set + `
		WHERE ino=?4`
	if _, err := tx.Exec(q, append([]any{v.encode(), hlc, db.device, ino}, args...)...); err != nil {
		return fmt.Errorf("version of inode %d: %w", ino, err)
	}
	if r.nlink > 1 && r.state != StateTombstoned && r.mode&syscall.S_IFMT != syscall.S_IFDIR {
		// Its home may have moved to a name it holds by its own entry:
		// conflict names linked for it meanwhile go, as wherever this
		// version is applied.
		gone, err := dropSpareRelinksOfTx(tx, ino)
		if err != nil {
			return err
		}
		if len(gone) > 0 {
			if _, err := tx.Exec("UPDATE inodes SET nlink=nlink-? WHERE ino=?", len(gone), ino); err != nil {
				return fmt.Errorf("version of inode %d: %w", ino, err)
			}
		}
	}
	if r.state == StateTombstoned {
		if err := putTombstoneTx(tx, r.fid, v, hlc, db.device); err != nil {
			return err
		}
		if err := setTombBaseTx(tx, r.fid, version{parseVV(r.bases), r.hlc, r.who}); err != nil {
			return err
		}
	}
	db.outGen++
	if _, err := tx.Exec(`INSERT INTO outbox(key, gen, ino) VALUES(?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET gen=excluded.gen`, fmt.Sprintf("f:%d", ino), db.outGen, ino); err != nil {
		return fmt.Errorf("outbox inode %d: %w", ino, err)
	}
	db.lastLocal.Store(time.Now().UnixNano()) // a scheduling hint: the real clock, not the index's
	return nil
}

// LastLocalChange returns when a change made here last joined the outbox
// (zero if none did since Open). It takes no lock: the uploader asks it to
// wait for a quiet moment.
func (db *DB) LastLocalChange() time.Time {
	n := db.lastLocal.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// queueFile puts an inode in the outbox without changing its version: a
// version made here on another device's behalf (a conflict copy), which
// every device makes identically.
func (db *DB) queueFile(tx txn, ino uint64) error {
	db.outGen++
	if _, err := tx.Exec(`INSERT INTO outbox(key, gen, ino) VALUES(?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET gen=excluded.gen`, fmt.Sprintf("f:%d", ino), db.outGen, ino); err != nil {
		return fmt.Errorf("outbox inode %d: %w", ino, err)
	}
	return nil
}

// queueDentry puts the entry (parent, name) in the outbox without changing
// its version (see queueFile).
func (db *DB) queueDentry(tx txn, parent uint64, pfid string, name []byte) error {
	db.outGen++
	key := "d:" + pfid + ":" + hex.EncodeToString(name)
	if _, err := tx.Exec(`INSERT INTO outbox(key, gen, parent, parent_fid, name) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET gen=excluded.gen, parent=excluded.parent`, key, db.outGen, parent, pfid, name); err != nil {
		return fmt.Errorf("outbox entry: %w", err)
	}
	return nil
}

// bumpDentry records a local change of the entry (parent, name): created,
// removed or pointed elsewhere.
func (db *DB) bumpDentry(tx txn, parent uint64, name string) error {
	var pfid string
	if err := tx.QueryRow("SELECT file_id FROM inodes WHERE ino=?", parent).Scan(&pfid); err != nil {
		return fmt.Errorf("entry version: parent %d: %w", parent, err)
	}
	var child string
	err := tx.QueryRow("SELECT i.file_id FROM dentries d JOIN inodes i ON d.ino=i.ino WHERE d.parent=? AND d.name=?", parent, []byte(name)).Scan(&child)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("entry version: %w", err)
	}
	return db.bumpDentryOf(tx, parent, pfid, name, child)
}

// bumpDentryOf is bumpDentry for a caller that knows the directory's file
// ID pfid and the file ID of the inode the entry now names ("" if none).
func (db *DB) bumpDentryOf(tx txn, parent uint64, pfid, name, child string) error {
	var vs string
	err := tx.QueryRow("SELECT vv FROM dentry_versions WHERE parent_fid=? AND name=?", pfid, []byte(name)).Scan(&vs)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("entry version: %w", err)
	}
	v := parseVV(vs)
	v[db.device]++
	if _, err := tx.Exec(`INSERT INTO dentry_versions(parent_fid, name, vv, hlc, author, child) VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(parent_fid, name) DO UPDATE SET vv=excluded.vv, hlc=excluded.hlc, author=excluded.author, child=excluded.child`,
		pfid, []byte(name), v.encode(), db.tick(), db.device, child); err != nil {
		return fmt.Errorf("entry version: %w", err)
	}
	db.outGen++
	key := "d:" + pfid + ":" + hex.EncodeToString([]byte(name))
	if _, err := tx.Exec(`INSERT INTO outbox(key, gen, parent, parent_fid, name) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET gen=excluded.gen`, key, db.outGen, parent, pfid, []byte(name)); err != nil {
		return fmt.Errorf("outbox entry: %w", err)
	}
	db.lastLocal.Store(time.Now().UnixNano()) // a scheduling hint: the real clock, not the index's
	return nil
}
