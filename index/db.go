package index

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// writerDriver is SQLite for the writer connection: its commits checkpoint
// the WAL only once it holds writerCheckpointPages pages. The checkpointer
// does the copying before that, off the request path; the writer's own
// checkpoint then has little left to copy, and lets the WAL start over
// (a checkpoint that never catches up with a busy writer leaves the WAL
// to grow without end: 280 MB for one tar x of Go's source tree).
const writerDriver = "sqlite3-index-writer"

const writerCheckpointPages = 10000

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", writerCheckpointPages), nil)
		return err
	}})
}

// checkpointEvery is how often the checkpointer copies committed pages from
// the WAL into the database file, when there were commits since it last
// did.
const checkpointEvery = 200 * time.Millisecond

// schemaVersion is stored in PRAGMA user_version; Open refuses newer ones.
const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS inodes(
	ino     INTEGER PRIMARY KEY AUTOINCREMENT,
	file_id TEXT NOT NULL UNIQUE,
	mode    INTEGER NOT NULL,
	uid     INTEGER NOT NULL DEFAULT 0,
	gid     INTEGER NOT NULL DEFAULT 0,
	rdev    INTEGER NOT NULL DEFAULT 0,
	nlink   INTEGER NOT NULL,
	size    INTEGER NOT NULL DEFAULT 0,
	atime   INTEGER NOT NULL DEFAULT 0,
	mtime   INTEGER NOT NULL DEFAULT 0,
	ctime   INTEGER NOT NULL DEFAULT 0,
	target  BLOB,
	state   INTEGER NOT NULL DEFAULT 0,
	pinned  INTEGER NOT NULL DEFAULT 0,
	wgen    INTEGER NOT NULL DEFAULT 0,
	cver    INTEGER NOT NULL DEFAULT 0,
	vv      TEXT NOT NULL DEFAULT '{}',
	hlc     INTEGER NOT NULL DEFAULT 0,
	journaled INTEGER NOT NULL DEFAULT 0,
	content BLOB,
	author  TEXT NOT NULL DEFAULT '',
	base_vv TEXT NOT NULL DEFAULT '{}',
	home_parent TEXT NOT NULL DEFAULT '',
	home_name   BLOB
);
CREATE TABLE IF NOT EXISTS dentries(
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	parent INTEGER NOT NULL,
	name   BLOB NOT NULL,
	ino    INTEGER NOT NULL,
	UNIQUE(parent, name)
);
CREATE INDEX IF NOT EXISTS dentries_ino ON dentries(ino);
-- A listing resumes at an entry's row ID (ReadDir): this index holds a
-- directory's entries in row-ID order. Without it, every READDIRPLUS of a
-- directory read and sorted all its entries to return the next hundred:
-- listing 10,000 files took 2-4 s.
CREATE INDEX IF NOT EXISTS dentries_parent_id ON dentries(parent, id);
CREATE INDEX IF NOT EXISTS inodes_pinned ON inodes(state) WHERE pinned != 0;
-- Inodes with no name left, which Open purges (purgeAllLocked): without
-- it, every mount read the whole table to find the few.
CREATE INDEX IF NOT EXISTS inodes_unlinked ON inodes(ino) WHERE nlink = 0;
-- Staged inodes, which a mount checks before it serves (StagedFiles):
-- without it, that read the whole table (0.9 s of a mount with 200,000
-- files). Only the few files not yet uploaded are in it. Queries name the
-- state as a literal, which SQLite needs to use a partial index.
CREATE INDEX IF NOT EXISTS inodes_staged ON inodes(ino) WHERE state = 2;
CREATE TABLE IF NOT EXISTS dentry_versions(
	parent_fid TEXT NOT NULL,
	name       BLOB NOT NULL,
	vv         TEXT NOT NULL,
	hlc        INTEGER NOT NULL,
	author     TEXT NOT NULL DEFAULT '',
	child      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY(parent_fid, name)
);
CREATE TABLE IF NOT EXISTS entry_claims(
	parent_fid TEXT NOT NULL,
	name       BLOB NOT NULL,
	vv         TEXT NOT NULL,
	hlc        INTEGER NOT NULL,
	author     TEXT NOT NULL DEFAULT '',
	child      TEXT NOT NULL,
	PRIMARY KEY(parent_fid, name, vv, hlc, author, child)
);
CREATE INDEX IF NOT EXISTS entry_claims_child ON entry_claims(child);
-- Settling a file's claims looks up the entry versions naming it: without
-- this, each apply scanned the whole table (replaying 30,000 files took
-- 103 s instead of 5 s).
CREATE INDEX IF NOT EXISTS dentry_versions_child ON dentry_versions(child);
CREATE TABLE IF NOT EXISTS tombstones(
	file_id TEXT PRIMARY KEY,
	vv      TEXT NOT NULL,
	hlc     INTEGER NOT NULL,
	author  TEXT NOT NULL DEFAULT '',
	base_vv     TEXT NOT NULL DEFAULT '',
	base_hlc    INTEGER NOT NULL DEFAULT 0,
	base_author TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS xattrs(
	ino   INTEGER NOT NULL,
	name  BLOB NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY(ino, name)
);
CREATE TABLE IF NOT EXISTS outbox(
	key    TEXT PRIMARY KEY,
	gen    INTEGER NOT NULL,
	ino    INTEGER NOT NULL DEFAULT 0,
	parent INTEGER NOT NULL DEFAULT 0,
	parent_fid TEXT NOT NULL DEFAULT '',
	name   BLOB
);
CREATE TABLE IF NOT EXISTS journal(
	seq   INTEGER PRIMARY KEY,
	body  BLOB NOT NULL,
	after BLOB NOT NULL,
	sent  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS watermarks(
	device TEXT PRIMARY KEY,
	seq    INTEGER NOT NULL DEFAULT 0,
	err    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS history(file_id TEXT NOT NULL, vv TEXT NOT NULL, hlc INTEGER NOT NULL, author TEXT NOT NULL DEFAULT '', mode INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, mtime INTEGER NOT NULL DEFAULT 0, content BLOB, deleted INTEGER NOT NULL DEFAULT 0, home_parent TEXT NOT NULL DEFAULT '', home_name BLOB, PRIMARY KEY(file_id, vv)); CREATE INDEX IF NOT EXISTS history_home ON history(home_parent);
CREATE TABLE IF NOT EXISTS pending_merges(ino INTEGER NOT NULL, vv TEXT NOT NULL); CREATE TABLE IF NOT EXISTS conflict_copies(file_id TEXT PRIMARY KEY, orig_id TEXT NOT NULL DEFAULT '', resolved INTEGER NOT NULL DEFAULT 0, loser_hlc INTEGER NOT NULL DEFAULT 0, loser_author TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS trash(
	ino  INTEGER NOT NULL,
	cver INTEGER NOT NULL,
	PRIMARY KEY(ino, cver)
);
`

// Options configure Open.
type Options struct {
	// Device is this device's ID, recorded on first open. Empty: a random one.
	Device string
	// RootUID, RootGID and RootMode set the root directory's attributes when
	// the index is created.
	RootUID, RootGID uint32
	RootMode         uint32
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is where file IDs come from; nil means crypto/rand. Tests set it
	// to replay a run exactly.
	Rand io.Reader
	// GroupWindow, if positive, turns on group commit: the file system's
	// namespace and attribute changes share one write transaction, committed
	// at most this long after its first change (see writeGrouped). Zero
	// commits every change on its own.
	GroupWindow time.Duration
	// Logger receives what the index cannot return to a caller: a group
	// that failed to commit. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultGroupWindow is the group commit window a mount uses: long enough
// that a burst of creates (tar, cp -r, git checkout) shares a commit, short
// enough that a crash of syncfs loses little that was not fsynced.
const DefaultGroupWindow = 10 * time.Millisecond

// groupMaxOps bounds the changes one group holds, and so what its commit
// writes at once.
const groupMaxOps = 512

// groupMinFree is the free space the index's file system must have for a
// group to begin. A commit that fails loses every change of its group,
// already acknowledged; a full disk is what makes commits fail, so near one
// every change commits on its own and a failure reaches its caller.
const groupMinFree = 256 << 20

// DB is an open index.
//
// Lock order: mu before any SQLite transaction on w. Readers (r) take no Go lock.
type DB struct {
	w   *sql.DB // the one writer connection
	r   *sql.DB // pool of readers
	now func() time.Time

	device string
	rand   io.Reader // source of file IDs; reads happen under mu

	// mu serialises writes and protects the following.
	mu      sync.Mutex
	handles map[uint64]*handleCount // open/write-open/lookup counts by ino
	overlay map[uint64]*pendingAttr // coalesced size/mtime of files being written
	// metaPending holds the inodes whose overlay has a coalesced change of
	// mode, owner or times (setAttrPendingLocked): write commits them first.
	metaPending map[uint64]struct{}
	outGen      int64         // generation counter for outbox rows
	hlcLast     int64         // last hybrid logical clock value issued
	flushes     atomic.Uint64 // overlay commits so far: readers retry if it moved (see readAttr)
	// overlayLen is len(overlay), for readers that take no lock: with
	// nothing held in memory, a read has nothing to merge (readAttr).
	overlayLen atomic.Int64
	created    []uint64 // inodes made without attributes by the open transaction (for noXattr)

	noXattr *noXattr // inodes known to have no extended attribute

	lastLocal atomic.Int64 // unix ns of the last local change queued (LastLocalChange)

	// Group commit (writeGrouped). grp is the open group, if any; grouped
	// mirrors grp != nil for readers that take no lock (view, settled), and
	// turns false only once the group's commit has ended.
	groupWindow time.Duration
	grp         *group
	grouped     atomic.Bool
	commitNow   bool   // the running change must be committed before it returns
	dir         string // the index's directory, for the free space check
	statfs      func(path string, st *syscall.Statfs_t) error
	log         *slog.Logger
	lostErr     error // a lost group, reported by the next Sync

	feed *feed

	// The checkpointer (checkpointLoop): a connection of its own, so
	// that the WAL's pages reach the database file, and the file system
	// is synced, while the writer goes on. When the writer's commits did
	// it, every thousandth page written made a change of the file system
	// wait for the copy and two fsyncs, under mu.
	ckpt     *sql.DB
	commits  atomic.Uint64 // write transactions committed
	ckptStop chan struct{}
	ckptDone chan struct{}
}

// Open opens (creating if needed) the index database at path.
func Open(path string, opts Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=0&_stmt_cache_size=256"
	w, err := sql.Open(writerDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&mode=ro&_stmt_cache_size=64")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{w: w, r: r, now: opts.Now, handles: map[uint64]*handleCount{}, overlay: map[uint64]*pendingAttr{}, metaPending: map[uint64]struct{}{}, feed: newFeed(), noXattr: newNoXattr(),
		groupWindow: opts.GroupWindow, dir: filepath.Dir(path), statfs: syscall.Statfs, log: opts.Logger}
	if db.log == nil {
		db.log = slog.Default()
	}
	if db.now == nil {
		db.now = time.Now
	}
	db.rand = opts.Rand
	if db.rand == nil {
		db.rand = rand.Reader
	}
	if err := db.init(opts); err != nil {
		db.Close()
		return nil, err
	}
	ckpt, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	ckpt.SetMaxOpenConns(1)
	db.ckpt, db.ckptStop, db.ckptDone = ckpt, make(chan struct{}), make(chan struct{})
	go db.checkpointLoop()
	return db, nil
}

// checkpointLoop checkpoints the WAL every checkpointEvery while there are
// commits, passively: it never waits for the writer or for readers, and
// copies what they do not hold.
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var done uint64
	for {
		select {
		case <-db.ckptStop:
			return
		case <-t.C:
		}
		n := db.commits.Load()
		if n == done {
			continue
		}
		if _, err := db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			db.log.Warn("index: checkpoint", "err", err)
			continue
		}
		done = n
	}
}

func (db *DB) init(opts Options) error {
	var ver int
	if err := db.w.QueryRow("PRAGMA user_version").Scan(&ver); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	if ver > schemaVersion {
		return fmt.Errorf("open index: schema version %d is newer than this syncfs (%d)", ver, schemaVersion)
	}
	if _, err := db.w.Exec(schema); err != nil {
		return fmt.Errorf("create index schema: %w", err)
	}
	if err := initClaimsSchema(db.w); err != nil {
		return err
	}
	if _, err := db.w.Exec(fmt.Sprintf("PRAGMA user_version=%d", schemaVersion)); err != nil {
		return fmt.Errorf("create index schema: %w", err)
	}
	dev, err := db.metaString("device")
	if err != nil {
		return err
	}
	if dev == "" {
		dev = opts.Device
		if dev == "" {
			dev = db.randomID(8)
		}
		if err := db.setMeta(nil, "device", dev); err != nil {
			return err
		}
	}
	db.device = dev
	var n int
	if err := db.w.QueryRow("SELECT count(*) FROM inodes WHERE ino=?", RootIno).Scan(&n); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	if n == 0 {
		mode := opts.RootMode
		if mode == 0 {
			mode = 0o755
		}
		now := db.now().UnixNano()
		if _, err := db.w.Exec(`INSERT INTO inodes(ino, file_id, mode, uid, gid, nlink, atime, mtime, ctime, state)
			VALUES(?, ?, ?, ?, ?, 2, ?, ?, ?, 0)`, RootIno, RootFileID, syscall.S_IFDIR|(mode&0o7777), opts.RootUID, opts.RootGID, now, now, now); err != nil {
			return fmt.Errorf("create root: %w", err)
		}
	}
	if err := db.w.QueryRow("SELECT coalesce(max(gen),0) FROM outbox").Scan(&db.outGen); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	clean, err := db.loadClock()
	if err != nil {
		return err
	}
	if !clean && ver > 0 {
		if err := db.skipLostInodes(); err != nil {
			return err
		}
	}
	// No handle survives a restart: deleted files whose deletion is
	// journaled can go now.
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.purgeAllLocked()
}

// clockKey is the meta key of the clock's last value, written by a clean
// Close (loadClock).
const clockKey = "clock_at_close"

// loadClock sets the hybrid logical clock past every value the index
// holds. After a clean Close that is the value Close recorded, which Open
// removes at once: a crash after it leaves no record, and the next Open
// finds the largest value in the tables instead. That search reads every
// inode and entry version (0.8 s of a mount with 200,000 files, 3 s with
// 1,000,000), which is why it is kept for after a crash.
//
// The record is trusted because every change that issues or sees a clock
// value commits after Open's removal of it, in WAL order: a crash that
// keeps such a change keeps the removal too.
//
// clean reports whether the record was there: the index was closed
// cleanly.
func (db *DB) loadClock() (clean bool, err error) {
	if v, err := db.metaString(clockKey); err != nil {
		return false, err
	} else if v != "" {
		h, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			if _, err := db.w.Exec("DELETE FROM meta WHERE key=?", clockKey); err != nil {
				return false, fmt.Errorf("open index: %w", err)
			}
			db.hlcLast = h
			return true, nil
		}
		db.log.Warn("index: unreadable clock record; finding the clock in the tables", "value", v)
	}
	if err := db.w.QueryRow(`SELECT max((SELECT coalesce(max(hlc),0) FROM inodes), (SELECT coalesce(max(hlc),0) FROM tombstones),
		(SELECT coalesce(max(hlc),0) FROM dentry_versions))`).Scan(&db.hlcLast); err != nil {
		return false, fmt.Errorf("open index: %w", err)
	}
	return false, nil
}

// lostInodeSkip is how far inode numbers jump after an unclean close.
const lostInodeSkip = 1 << 20

// skipLostInodes moves the next inode number past any that a crash may
// have lost, after an index that was not closed cleanly. Inode numbers
// come from AUTOINCREMENT, whose counter rolls back with the transaction:
// the creates of a group that never committed (or of commits a power loss
// took from the WAL's end) gave out numbers that the next creates would
// give out again, and fs had already made those inodes' cache files. A
// new file would then open a lost file's cache file, with its bytes.
func (db *DB) skipLostInodes() error {
	if _, err := db.w.Exec("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'inodes'", lostInodeSkip); err != nil {
		return fmt.Errorf("open index: skip lost inode numbers: %w", err)
	}
	return nil
}

// Close closes the database. Pending attribute overlays are committed first.
func (db *DB) Close() error {
	db.mu.Lock()
	var ferr error
	if db.w != nil && len(db.overlay) > 0 {
		ferr = db.flushAllLocked()
	}
	ferr = errors.Join(ferr, db.endGroupLocked())
	if ferr == nil && db.w != nil && db.device != "" {
		// The last write: the next Open takes the clock from here
		// (loadClock).
		// Without it the next Open only takes longer.
		if err := db.setMeta(nil, clockKey, strconv.FormatInt(db.hlcLast, 10)); err != nil {
			db.log.Warn("index: record the clock", "err", err)
		}
	}
	db.mu.Unlock()
	db.feed.close()
	var cerr error
	if db.ckpt != nil {
		close(db.ckptStop)
		<-db.ckptDone
		cerr = db.ckpt.Close()
	}
	// The writer closes last: the last connection to close checkpoints
	// and removes the WAL.
	err := errors.Join(ferr, cerr, db.r.Close(), db.w.Close())
	return err
}

// Device returns this device's ID.
func (db *DB) Device() string { return db.device }

// Sync makes every committed transaction durable (a WAL checkpoint with a
// full sync), for fsync(2) on a file.
func (db *DB) Sync() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.syncLocked()
}

func (db *DB) syncLocked() error {
	if err := db.endGroupLocked(); err != nil {
		return err
	}
	if err := db.lostErr; err != nil {
		// Changes acknowledged earlier were lost: an fsync must not
		// report success over them. Said once, as fsync(2) reports a
		// writeback error once.
		db.lostErr = nil
		return err
	}
	if _, err := db.w.Exec("PRAGMA wal_checkpoint(FULL)"); err != nil {
		return fmt.Errorf("sync index: %w", err)
	}
	return nil
}

// Integrity runs SQLite's integrity check and the index's own invariants:
// link counts agree with directory entries, every entry's inode exists.
func (db *DB) Integrity(ctx context.Context) ([]string, error) {
	var problems []string
	rows, err := db.settled().QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, "sqlite: "+s)
		}
	}
	rows.Close()
	q := []struct{ what, sql string }{
		{"entry without inode", `SELECT count(*) FROM dentries d LEFT JOIN inodes i ON d.ino=i.ino WHERE i.ino IS NULL`},
		{"entry in a non-directory", `SELECT count(*) FROM dentries d JOIN inodes p ON d.parent=p.ino WHERE (p.mode & 61440) != 16384`},
		{"file link count differs from its entries", `SELECT count(*) FROM inodes i WHERE (i.mode & 61440) != 16384 AND i.nlink != (SELECT count(*) FROM dentries d WHERE d.ino=i.ino)`},
		{"directory link count differs from its subdirectories", `SELECT count(*) FROM inodes i WHERE (i.mode & 61440) = 16384 AND i.nlink > 0 AND i.nlink != 2 + (SELECT count(*) FROM dentries d JOIN inodes c ON d.ino=c.ino WHERE d.parent=i.ino AND (c.mode & 61440) = 16384)`},
	}
	for _, c := range q {
		var n int
		if err := db.settled().QueryRowContext(ctx, c.sql).Scan(&n); err != nil {
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if n > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d", c.what, n))
		}
	}
	return problems, nil
}

func (db *DB) metaString(key string) (string, error) {
	var v []byte
	err := db.w.QueryRow("SELECT value FROM meta WHERE key=?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read meta %s: %w", key, err)
	}
	return string(v), nil
}

// Meta returns a value stored with SetMeta, or nil if none.
func (db *DB) Meta(key string) ([]byte, error) {
	var v []byte
	err := db.settled().QueryRow("SELECT value FROM meta WHERE key=?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores a small value under key (cached store config, settings).
func (db *DB) SetMeta(key string, value []byte) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.setMeta(nil, key, string(value))
}

func (db *DB) setMeta(tx txn, key, value string) error {
	q := "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
	var err error
	if tx != nil {
		_, err = tx.Exec(q, key, []byte(value))
	} else if err = db.endGroupLocked(); err == nil {
		_, err = db.w.Exec(q, key, []byte(value))
	}
	if err != nil {
		return fmt.Errorf("write meta %s: %w", key, err)
	}
	return nil
}

// txn is a write transaction as the helpers see it: a *sql.Tx (withTx) or
// the writer connection inside BEGIN IMMEDIATE (withWrite).
type txn interface {
	Exec(query string, args ...any) (sql.Result, error)
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
}

// connTx is the writer connection inside a transaction that withWrite
// began. Its queries run with a context that is never done: database/sql
// then starts no goroutine per query to watch for cancellation, as it does
// for every query of a *sql.Tx (whose context it always makes cancellable),
// and on a busy machine that goroutine, not SQLite, was most of a query's
// cost.
type connTx struct{ c *sql.Conn }

// Exec runs a statement.
func (t connTx) Exec(query string, args ...any) (sql.Result, error) {
	return t.c.ExecContext(context.Background(), query, args...)
}

// Query runs a query.
func (t connTx) Query(query string, args ...any) (*sql.Rows, error) {
	return t.c.QueryContext(context.Background(), query, args...)
}

// QueryRow runs a query of at most one row.
func (t connTx) QueryRow(query string, args ...any) *sql.Row {
	return t.c.QueryRowContext(context.Background(), query, args...)
}

// write runs fn in one write transaction on the writer connection and
// commits it before returning (with the open group, if there is one); a
// full disk is reported as ErrNoSpace. Attribute changes held in the
// overlay (setAttrPendingLocked) are committed in the same transaction
// first, so that fn never reads or overwrites a stale row.
func (db *DB) write(fn func(tx txn) error) error {
	if db.grp != nil {
		err := db.groupOpLocked(fn)
		return errors.Join(err, db.endGroupLocked())
	}
	if len(db.metaPending) == 0 {
		return noSpace(db.withWrite(fn))
	}
	inos := db.pendingMetaInos()
	err := db.withWrite(func(tx txn) error {
		if err := db.flushMetaTx(tx, inos); err != nil {
			return err
		}
		return fn(tx)
	})
	if err == nil {
		db.flushedAll(inos)
	}
	return noSpace(err)
}

// writeGrouped is write for a change the file system makes, which may
// share its commit with the changes after it (group commit): it joins the
// open group, or begins one, and returns once fn's changes are in the
// group. The group commits when its window ends, when it holds groupMaxOps
// changes, and before any write that is not grouped, any read of the
// reader pool (settled), Sync and Close; until then, the reads of the file
// system's requests (view, readAttr) see it through the writer connection.
// A change whose effects outside the index need it on disk first (a file
// leaving Resident to be written in its cache file) sets commitNow and is
// committed before writeGrouped returns.
//
// The cost this removes is the commit's: a create took 19 statements and
// a commit, and the commit (its pages written to the WAL and, every
// thousand pages, checkpointed) was 40% of its CPU.
func (db *DB) writeGrouped(fn func(tx txn) error) error {
	if db.groupWindow <= 0 {
		return db.write(fn)
	}
	if db.grp == nil {
		if !db.roomForGroup() {
			return db.write(fn)
		}
		if err := db.beginGroupLocked(); err != nil {
			return noSpace(err)
		}
	}
	db.commitNow = false
	err := db.groupOpLocked(fn)
	if db.grp != nil && (db.commitNow || db.grp.ops >= groupMaxOps) {
		err = errors.Join(err, db.endGroupLocked())
	}
	return err
}

// group is a write transaction open across several changes (writeGrouped).
type group struct {
	c     *sql.Conn
	ops   int
	began time.Time
	timer *time.Timer
}

// roomForGroup reports whether the index's file system has the free space
// a group needs (groupMinFree).
func (db *DB) roomForGroup() bool {
	var st syscall.Statfs_t
	if err := db.statfs(db.dir, &st); err != nil {
		return false
	}
	return st.Bavail*uint64(st.Bsize) >= groupMinFree
}

// beginGroupLocked opens a group and arms its commit at the window's end.
func (db *DB) beginGroupLocked() error {
	ctx := context.Background()
	c, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		c.Close()
		return fmt.Errorf("begin: %w", err)
	}
	g := &group{c: c, began: time.Now()}
	g.timer = time.AfterFunc(db.groupWindow, func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.grp == g {
			db.endGroupLocked() // a failure is logged and kept for Sync
		}
	})
	db.grp = g
	db.grouped.Store(true)
	return nil
}

// groupOpLocked runs fn inside the open group, under a savepoint: a
// failing fn undoes only its own changes.
func (db *DB) groupOpLocked(fn func(tx txn) error) error {
	g := db.grp
	ctx := context.Background()
	tx := connTx{g.c}
	if _, err := g.c.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		db.groupLostLocked(err)
		return noSpace(fmt.Errorf("begin: %w", err))
	}
	db.created = db.created[:0]
	inos := db.pendingMetaInos()
	err := db.flushMetaTx(tx, inos)
	if err == nil {
		err = fn(tx)
	}
	if err != nil {
		if _, rerr := g.c.ExecContext(ctx, "ROLLBACK TO op"); rerr != nil {
			// SQLite ended the whole transaction (a full disk or an I/O
			// error can): the group's earlier changes went with it.
			db.groupLostLocked(errors.Join(err, rerr))
			return noSpace(err)
		}
		if _, rerr := g.c.ExecContext(ctx, "RELEASE op"); rerr != nil {
			db.groupLostLocked(rerr)
		}
		return noSpace(err)
	}
	if _, err := g.c.ExecContext(ctx, "RELEASE op"); err != nil {
		db.groupLostLocked(err)
		return noSpace(fmt.Errorf("commit: %w", err))
	}
	db.flushedAll(inos)
	for _, ino := range db.created {
		db.noXattr.add(ino)
	}
	g.ops++
	return nil
}

// endGroupLocked commits the open group, if any. On failure the group is
// lost (groupLostLocked) and the error returned.
func (db *DB) endGroupLocked() error {
	g := db.grp
	if g == nil {
		return nil
	}
	g.timer.Stop()
	if _, err := g.c.ExecContext(context.Background(), "COMMIT"); err != nil {
		err = fmt.Errorf("commit: %w", err)
		db.groupLostLocked(err)
		return noSpace(err)
	}
	db.grp = nil
	g.c.Close()
	db.commits.Add(1)
	// Only now: a reader that finds grouped false reads the reader pool,
	// which must hold the group's changes.
	db.grouped.Store(false)
	return nil
}

// groupLostLocked ends a group whose transaction SQLite rolled back or
// could not commit. Its changes were acknowledged and are gone: the index
// is consistent, but older than what the kernel was told. That is logged,
// and the next Sync (an fsync) fails, as a writeback error would.
func (db *DB) groupLostLocked(err error) {
	g := db.grp
	if g == nil {
		return
	}
	g.timer.Stop()
	g.c.ExecContext(context.Background(), "ROLLBACK")
	g.c.Close()
	db.grp = nil
	db.grouped.Store(false)
	db.lostErr = fmt.Errorf("index: %d changes made in the last %v were lost: %w", g.ops, time.Since(g.began).Round(time.Millisecond), noSpace(err))
	db.log.Error("index: a group commit failed; the changes it held are lost", "changes", g.ops, "err", err)
	// What memory learned inside the group is not to be trusted.
	db.noXattr.reset()
	db.flushes.Add(1)
}

// wq is where a statement of the writer runs outside write: the open
// group, when there is one (the pool's one connection is then held by it),
// else the writer pool. Callers hold mu.
func (db *DB) wq() txn {
	if db.grp != nil {
		return connTx{db.grp.c}
	}
	return db.w
}

// view returns where a read of the file system's requests sees every
// acknowledged change, and what to call when the read is done: the open
// group's connection, under mu, when there is one; else the reader pool,
// without a lock. Callers do not hold mu, and call nothing that takes it
// before done.
func (db *DB) view() (txn, func()) {
	if db.grouped.Load() {
		db.mu.Lock()
		if db.grp != nil {
			return connTx{db.grp.c}, db.mu.Unlock
		}
		db.mu.Unlock()
	}
	return db.r, func() {}
}

// settled returns the reader pool once every acknowledged change is in it:
// it commits the open group first. For reads off the file system's request
// path (the uploader, the command line). Callers do not hold mu.
func (db *DB) settled() *sql.DB {
	if db.grouped.Load() {
		db.mu.Lock()
		db.endGroupLocked() // a failure is logged and kept for Sync
		db.mu.Unlock()
	}
	return db.r
}

// withWrite runs fn in one write transaction on the writer connection,
// without database/sql's transaction object (see connTx). Callers hold
// db.mu, so the connection is free: it is the pool's only one.
func (db *DB) withWrite(fn func(tx txn) error) error {
	ctx := context.Background()
	c, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	db.created = db.created[:0]
	if err := fn(connTx{c}); err != nil {
		if _, rerr := c.ExecContext(ctx, "ROLLBACK"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		// A failed COMMIT can leave the transaction open: end it, so that
		// the connection goes back to the pool clean.
		c.ExecContext(ctx, "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	db.commits.Add(1)
	for _, ino := range db.created {
		db.noXattr.add(ino)
	}
	return nil
}

// withTx runs fn in one write transaction of database/sql. Callers hold
// db.mu. The namespace paths use withWrite, which costs less per query.
func (db *DB) withTx(fn func(tx *sql.Tx) error) error {
	if err := db.endGroupLocked(); err != nil {
		return err
	}
	tx, err := db.w.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	db.created = db.created[:0]
	inos := db.pendingMetaInos()
	if err := db.flushMetaTx(tx, inos); err != nil {
		tx.Rollback()
		return noSpace(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return noSpace(err)
	}
	if err := tx.Commit(); err != nil {
		return noSpace(fmt.Errorf("commit: %w", err))
	}
	db.commits.Add(1)
	db.flushedAll(inos)
	// It may have written any inode's attributes (other devices' batches,
	// checkpoints): nothing is known to have none any more.
	db.noXattr.reset()
	return nil
}

// randomID returns n random bytes in hex. Callers hold mu, or are Open.
func (db *DB) randomID(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(db.rand, b); err != nil {
		panic("random source failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
