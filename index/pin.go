package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Pinning is local to this device: the pinned column is never journaled, so
// pinning a tree here fetches nothing on other devices (as "available
// offline" in other sync clients). A pinned directory passes the flag on to
// everything below it, including entries that arrive later (created here or
// applied from other devices): see InheritPins.

// ErrPinned reports that a file is pinned and so may not be evicted.
var ErrPinned = errors.New("file is pinned")

// ErrPinInherited reports that unpinning a file or directory was refused
// because its directory is pinned: the pin would come back at once.
var ErrPinInherited = errors.New("pinned through its directory")

// subtreeCTE lists every inode at or below the root ?1, with its path
// relative to the root ("" for the root itself). Directories cannot form
// cycles (rename refuses them), so the recursion ends; a hard-linked file
// appears once per name.
const subtreeCTE = `WITH RECURSIVE t(ino, path) AS (
	SELECT ?1, ''
	UNION ALL
	SELECT d.ino, CASE WHEN t.path = '' THEN CAST(d.name AS TEXT) ELSE t.path || '/' || CAST(d.name AS TEXT) END
	FROM t JOIN inodes p ON p.ino = t.ino AND (p.mode & 61440) = 16384
	JOIN dentries d ON d.parent = t.ino
)`

// FileRef is one inode found by FilesUnder: a root or something below it.
type FileRef struct {
	Root uint64 // the root it was found under
	Path string // relative to the root, "/"-separated; "" for the root itself
	Attr Attr
	Open bool // some handle has it open (so it cannot be evicted now)
}

// FilesUnder returns every inode at or below each root (a directory's whole
// tree, or a single file), for pin, unpin and evict to act on and name.
func (db *DB) FilesUnder(ctx context.Context, roots []uint64) ([]FileRef, error) {
	var out []FileRef
	for _, root := range roots {
		rows, err := db.settled().QueryContext(ctx, subtreeCTE+` SELECT t.path, `+prefixed("i.", attrCols)+` FROM t JOIN inodes i ON i.ino = t.ino ORDER BY t.path`, root)
		if err != nil {
			return nil, fmt.Errorf("list files under %d: %w", root, err)
		}
		n := 0
		for rows.Next() {
			var path string
			a, err := scanAttr(prefixScanner{rows, &path})
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("list files under %d: %w", root, err)
			}
			out = append(out, FileRef{Root: root, Path: path, Attr: a})
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("list files under %d: %w", root, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("inode %d: %w", root, ErrNotExist)
		}
	}
	db.mu.Lock()
	for i := range out {
		db.applyOverlay(&out[i].Attr)
		if h := db.handles[out[i].Attr.Ino]; h != nil && h.opens > 0 {
			out[i].Open = true
		}
	}
	db.mu.Unlock()
	return out, nil
}

// prefixScanner scans a leading extra column, then the attribute columns.
type prefixScanner struct {
	s     scanner
	first any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.s.Scan(append([]any{p.first}, dest...)...)
}

// prefixed qualifies each column of a ", "-separated list with p.
func prefixed(p, cols string) string {
	return p + strings.ReplaceAll(cols, ", ", ", "+p)
}

// PinResult counts what SetPinned changed.
type PinResult struct {
	Files      int   // regular files now pinned (or unpinned)
	Dirs       int   // directories
	FetchFiles int   // pinned files whose content is not (wholly) local
	FetchBytes int64 // their size
}

// SetPinned pins (or unpins) each root and everything below it, in one
// transaction. Unpinning something whose directory is pinned is refused
// with ErrPinInherited, before anything changes: the pin would be inherited
// back at once.
func (db *DB) SetPinned(roots []uint64, pinned bool) (PinResult, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var res PinResult
	err := db.write(func(tx txn) error {
		for _, root := range roots {
			if _, err := db.getAttrTx(tx, root); err != nil {
				return err
			}
			if pinned {
				continue
			}
			var n int
			err := tx.QueryRow(`SELECT count(*) FROM dentries d JOIN inodes p ON p.ino = d.parent WHERE d.ino = ? AND p.pinned != 0`, root).Scan(&n)
			if err != nil {
				return fmt.Errorf("unpin %d: %w", root, err)
			}
			if n > 0 {
				return fmt.Errorf("unpin inode %d: %w", root, ErrPinInherited)
			}
		}
		for _, root := range roots {
			if _, err := tx.Exec(`UPDATE inodes SET pinned = ?2 WHERE ino IN (`+subtreeCTE+` SELECT ino FROM t)`, root, pinned); err != nil {
				return fmt.Errorf("pin %d: %w", root, err)
			}
			var files, dirs, fetch int
			var bytes int64
			err := tx.QueryRow(subtreeCTE+` SELECT
				coalesce(sum((i.mode & 61440) = 32768), 0),
				coalesce(sum((i.mode & 61440) = 16384), 0),
				coalesce(sum((i.mode & 61440) = 32768 AND i.state = ?2), 0),
				coalesce(sum(CASE WHEN (i.mode & 61440) = 32768 AND i.state = ?2 THEN i.size ELSE 0 END), 0)
				FROM (SELECT DISTINCT ino FROM t) u JOIN inodes i ON i.ino = u.ino`, root, StateAbsent).Scan(&files, &dirs, &fetch, &bytes)
			if err != nil {
				return fmt.Errorf("pin %d: %w", root, err)
			}
			res.Files += files
			res.Dirs += dirs
			if pinned {
				res.FetchFiles += fetch
				res.FetchBytes += bytes
			}
		}
		return nil
	})
	return res, err
}

// InheritPins pins every linked inode whose directory is pinned but which
// is not pinned itself: files created or renamed into a pinned tree, and
// entries applied from other devices. It repeats until nothing changes (a
// new directory passes the pin on to its own entries in the next pass) and
// returns how many inodes it pinned.
func (db *DB) InheritPins() (int, error) {
	// Most rounds find nothing: ask a reader first, so that the periodic
	// sweep does not hold the writer (and so every fs operation) for a scan.
	var need int
	err := db.settled().QueryRow(`SELECT EXISTS(SELECT 1 FROM inodes p JOIN dentries d ON d.parent = p.ino JOIN inodes c ON c.ino = d.ino
		WHERE p.pinned != 0 AND (p.mode & 61440) = 16384 AND c.pinned = 0)`).Scan(&need)
	if err != nil {
		return 0, fmt.Errorf("inherit pins: %w", err)
	}
	if need == 0 {
		return 0, nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	total := 0
	err = db.write(func(tx txn) error {
		for {
			res, err := tx.Exec(`UPDATE inodes SET pinned = 1 WHERE pinned = 0 AND ino IN (
				SELECT d.ino FROM inodes p JOIN dentries d ON d.parent = p.ino
				WHERE p.pinned != 0 AND (p.mode & 61440) = 16384)`)
			if err != nil {
				return fmt.Errorf("inherit pins: %w", err)
			}
			n, _ := res.RowsAffected()
			if n == 0 {
				return nil
			}
			total += int(n)
		}
	})
	return total, err
}

// PinFetch is a pinned file whose content is not wholly local.
type PinFetch struct {
	Ino  uint64
	Cver int64
	Size int64
}

// PinnedAbsent returns up to limit linked, pinned, Absent files: the ones
// the engine must fetch.
func (db *DB) PinnedAbsent(limit int) ([]PinFetch, error) {
	rows, err := db.settled().Query(`SELECT ino, cver, size FROM inodes WHERE pinned != 0 AND state = ? AND nlink > 0
		AND (mode & 61440) = 32768 ORDER BY ino LIMIT ?`, StateAbsent, limit)
	if err != nil {
		return nil, fmt.Errorf("pinned absent files: %w", err)
	}
	defer rows.Close()
	var out []PinFetch
	for rows.Next() {
		var p PinFetch
		if err := rows.Scan(&p.Ino, &p.Cver, &p.Size); err != nil {
			return nil, fmt.Errorf("pinned absent files: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PinBacklog returns how many pinned files, of how many bytes, are still
// to fetch.
func (db *DB) PinBacklog() (files int, bytes int64, err error) {
	err = db.settled().QueryRow(`SELECT count(*), coalesce(sum(size), 0) FROM inodes WHERE pinned != 0 AND state = ? AND nlink > 0
		AND (mode & 61440) = 32768`, StateAbsent).Scan(&files, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("pin backlog: %w", err)
	}
	return files, bytes, nil
}

// PinBacklogUnder is PinBacklog for the trees at the given roots only (a
// file under two of them counts twice).
func (db *DB) PinBacklogUnder(ctx context.Context, roots []uint64) (files int, bytes int64, err error) {
	for _, root := range roots {
		var n int
		var b int64
		err := db.settled().QueryRowContext(ctx, subtreeCTE+` SELECT count(*), coalesce(sum(i.size), 0)
			FROM (SELECT DISTINCT ino FROM t) u JOIN inodes i ON i.ino = u.ino
			WHERE i.pinned != 0 AND i.state = ?2 AND i.nlink > 0 AND (i.mode & 61440) = 32768`, root, StateAbsent).Scan(&n, &b)
		if err != nil {
			return 0, 0, fmt.Errorf("pin backlog under %d: %w", root, err)
		}
		files += n
		bytes += b
	}
	return files, bytes, nil
}

// Evictable is a file whose cache file may be freed: Resident, or Absent
// with some ranges fetched; not pinned and not open.
type Evictable struct {
	Key   CacheKey
	State State
	Size  int64
}

// EvictionCandidates returns every file the evictor may free, in no order
// (the cache knows which were used last).
func (db *DB) EvictionCandidates() ([]Evictable, error) {
	rows, err := db.settled().Query(`SELECT ino, cver, state, size FROM inodes WHERE pinned = 0 AND state IN (?, ?)
		AND (mode & 61440) = 32768`, StateResident, StateAbsent)
	if err != nil {
		return nil, fmt.Errorf("eviction candidates: %w", err)
	}
	var out []Evictable
	for rows.Next() {
		var e Evictable
		if err := rows.Scan(&e.Key.Ino, &e.Key.Cver, &e.State, &e.Size); err != nil {
			rows.Close()
			return nil, fmt.Errorf("eviction candidates: %w", err)
		}
		out = append(out, e)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("eviction candidates: %w", err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	kept := out[:0]
	for _, e := range out {
		if h := db.handles[e.Key.Ino]; h == nil || h.opens == 0 {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// KnownFile is one regular file's current content version, for fsck.
type KnownFile struct {
	Key    CacheKey
	State  State
	Size   int64
	Pinned bool
}

// StagedFiles lists the Staged regular files' cache keys and sizes (the
// committed ones: the overlay is empty before anything serves the index).
// Unlike KnownCacheFiles it holds only the few files not yet uploaded, not
// every file of the index.
func (db *DB) StagedFiles(ctx context.Context) ([]KnownFile, error) {
	// The state is a literal: the partial index inodes_staged answers it.
	rows, err := db.settled().QueryContext(ctx, fmt.Sprintf(`SELECT ino, cver, size FROM inodes WHERE state = %d AND (mode & 61440) = ?`, StateStaged), syscall.S_IFREG)
	if err != nil {
		return nil, fmt.Errorf("staged files: %w", err)
	}
	defer rows.Close()
	var files []KnownFile
	for rows.Next() {
		f := KnownFile{State: StateStaged}
		if err := rows.Scan(&f.Key.Ino, &f.Key.Cver, &f.Size); err != nil {
			return nil, fmt.Errorf("staged files: %w", err)
		}
		files = append(files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("staged files: %w", err)
	}
	return files, nil
}

// KnownCacheFiles returns every regular file's current cache key and state,
// and the keys in the trash (known, waiting to be removed), for fsck to
// compare with the cache directory.
func (db *DB) KnownCacheFiles(ctx context.Context) (files []KnownFile, trash []CacheKey, err error) {
	rows, err := db.settled().QueryContext(ctx, `SELECT ino, cver, state, size, pinned FROM inodes WHERE (mode & 61440) = ?`, syscall.S_IFREG)
	if err != nil {
		return nil, nil, fmt.Errorf("known cache files: %w", err)
	}
	for rows.Next() {
		var f KnownFile
		var pinned int
		if err := rows.Scan(&f.Key.Ino, &f.Key.Cver, &f.State, &f.Size, &pinned); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("known cache files: %w", err)
		}
		f.Pinned = pinned != 0
		files = append(files, f)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("known cache files: %w", err)
	}
	db.mu.Lock()
	for i := range files {
		if p := db.overlay[files[i].Key.Ino]; p != nil && p.dirty {
			files[i].Size = p.size
		}
	}
	db.mu.Unlock()
	trash, err = db.Trash(1 << 30)
	return files, trash, err
}

// ChunkUse names a chunk and one file whose synced content refers to it.
type ChunkUse struct {
	ID  string
	Ino uint64
}

// ChunkUses returns each chunk the synced content of linked Absent and
// Resident files refers to, once, with one file that uses it, for fsck --store.
func (db *DB) ChunkUses(ctx context.Context) ([]ChunkUse, error) {
	rows, err := db.settled().QueryContext(ctx, `SELECT ino, content FROM inodes WHERE content IS NOT NULL AND nlink > 0 AND state IN (?, ?)`,
		StateAbsent, StateResident)
	if err != nil {
		return nil, fmt.Errorf("chunk uses: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []ChunkUse
	for rows.Next() {
		var ino uint64
		var cb []byte
		if err := rows.Scan(&ino, &cb); err != nil {
			return nil, fmt.Errorf("chunk uses: %w", err)
		}
		var c Content
		if len(cb) == 0 {
			continue
		}
		if err := json.Unmarshal(cb, &c); err != nil {
			return nil, fmt.Errorf("chunk uses: content of inode %d: %w", ino, err)
		}
		for _, ch := range c.Chunks {
			if !seen[ch.ID] {
				seen[ch.ID] = true
				out = append(out, ChunkUse{ID: ch.ID, Ino: ino})
			}
		}
	}
	return out, rows.Err()
}
