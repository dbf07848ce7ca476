package index

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver, registered as "sqlite3"
)

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
CREATE INDEX IF NOT EXISTS inodes_pinned ON inodes(state) WHERE pinned != 0;
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
}

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
	outGen      int64    // generation counter for outbox rows
	hlcLast     int64    // last hybrid logical clock value issued
	flushes     uint64   // overlay commits so far: readers retry if it moved (see readAttr)
	created     []uint64 // inodes made without attributes by the open transaction (for noXattr)

	noXattr *noXattr // inodes known to have no extended attribute

	lastLocal atomic.Int64 // unix ns of the last local change queued (LastLocalChange)

	feed *feed
}

// Open opens (creating if needed) the index database at path.
func Open(path string, opts Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=0&_stmt_cache_size=256"
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{w: w, r: r, now: opts.Now, handles: map[uint64]*handleCount{}, overlay: map[uint64]*pendingAttr{}, metaPending: map[uint64]struct{}{}, feed: newFeed(), noXattr: newNoXattr()}
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
	return db, nil
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
	if err := db.w.QueryRow(`SELECT max((SELECT coalesce(max(hlc),0) FROM inodes), (SELECT coalesce(max(hlc),0) FROM tombstones),
		(SELECT coalesce(max(hlc),0) FROM dentry_versions))`).Scan(&db.hlcLast); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	// No handle survives a restart: deleted files whose deletion is
	// journaled can go now.
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.purgeAllLocked()
}

// Close closes the database. Pending attribute overlays are committed first.
func (db *DB) Close() error {
	db.mu.Lock()
	var ferr error
	if db.w != nil && len(db.overlay) > 0 {
		ferr = db.flushAllLocked()
	}
	db.mu.Unlock()
	db.feed.close()
	err := errors.Join(ferr, db.r.Close(), db.w.Close())
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
	if _, err := db.w.Exec("PRAGMA wal_checkpoint(FULL)"); err != nil {
		return fmt.Errorf("sync index: %w", err)
	}
	return nil
}

// Integrity runs SQLite's integrity check and the index's own invariants:
// link counts agree with directory entries, every entry's inode exists.
func (db *DB) Integrity(ctx context.Context) ([]string, error) {
	var problems []string
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
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
		if err := db.r.QueryRowContext(ctx, c.sql).Scan(&n); err != nil {
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
	err := db.r.QueryRow("SELECT value FROM meta WHERE key=?", key).Scan(&v)
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
	} else {
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

// write runs fn in one write transaction on the writer connection
// (withWrite); a full disk is reported as ErrNoSpace. Attribute changes
// held in the overlay (setAttrPendingLocked) are committed in the same
// transaction first, so that fn never reads or overwrites a stale row.
func (db *DB) write(fn func(tx txn) error) error {
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
	for _, ino := range db.created {
		db.noXattr.add(ino)
	}
	return nil
}

// withTx runs fn in one write transaction of database/sql. Callers hold
// db.mu. The namespace paths use withWrite, which costs less per query.
func (db *DB) withTx(fn func(tx *sql.Tx) error) error {
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
