// Package index is syncfs's single source of truth for the namespace, kept in
// SQLite (WAL mode): inodes, directory entries, attributes, extended
// attributes, symlink targets, hard links, the synced content of each file,
// residency, version vectors, the outbox of changes still to upload, the local
// journal and per-device watermarks.
//
// # Words
//
//   - Inode number (ino): the kernel's node ID. Allocated by SQLite's
//     AUTOINCREMENT, so never reused; the root is 1.
//   - File ID: a file's stable identity across devices (random, or "root").
//     Journal records name files by file ID, never by inode number.
//   - Residency: the state of a regular file's content (see State). It is one
//     column, changed only through Transition, in the same transaction as the
//     change that causes it.
//   - Write generation (wgen): bumped by every open-for-write and truncate, so
//     the uploader can tell that the copy it uploaded is still the current
//     one (a compare-and-set when it marks the file Resident).
//   - Content version (cver): names the cache file holding a file's content;
//     bumped when a remote version replaces the content, so open handles keep
//     reading the version they opened.
//   - Outbox: rows naming files and directory entries changed locally and not
//     yet in a sealed journal batch. Repeated changes coalesce on one row.
//   - Journal: the local device's sealed batches, numbered 1, 2, 3... Each
//     batch is recorded here before it is sent and sent again, byte for byte,
//     after a crash.
//   - Watermark: for each other device, the last journal sequence number
//     applied here.
//   - Trash: cache files no longer needed (purged files, replaced versions),
//     removed by the resolver's janitor.
//   - Author: the device that made a version; concurrent versions with
//     equal hybrid times are settled by it.
//   - Home: the entry (parent file ID, name) a file was found under when its
//     version was made; where its conflict copy and a relinked file go.
//   - Base vector (base_vv): the vector of the version a file holds, without
//     the losing versions merged into its vector; a deletion or edit that has
//     seen it needs no conflict copy.
//   - Conflict copy: a losing version kept as "name (conflict <device>
//     <time>).ext", with a file ID derived from the file's ID and the losing
//     vector, so that every device makes the same copy (conflict.go).
//   - Tombstone: the last vector of a deleted file, so that versions its
//     deletion had seen do not bring it back.
//   - Orphan: a live file or directory left with no name by other devices'
//     entries; it is linked again (relinked) at the end of the batch.
//   - Claim: one child named under one entry version. A relink keeps the
//     entry's version, so a version can have several claims; the name is
//     settled from all of them and which files are live (claims.go).
//   - Merge: two directories made under one name on two devices; the one
//     that loses the name is shown inside the winner, as a view recorded in
//     dir_merges and undone when the versions no longer give it (merge.go).
//
// # Concurrency
//
// All writes go through one SQLite connection, serialised by DB.mu, which also
// guards the in-memory handle table (open counts, write-open counts, lookup
// counts) and the attribute overlay (sizes and mtimes of files being written,
// coalesced so that write(2) costs no transaction, and a change of mode,
// owner or times made while a file is open for writing, committed with its
// writes or before any other write transaction). Reads that need no
// overlay-consistency use a pool of reader connections.
//
// Namespace writes run on the writer connection inside BEGIN IMMEDIATE
// (withWrite, through the txn interface) rather than in a *sql.Tx: database/sql
// starts a goroutine for every query of a Tx, which cost more than SQLite
// did. Applying other devices' batches, checkpoints and sealing batches keep
// *sql.Tx (withTx). SQLite statements are cached per connection
// (_stmt_cache_size).
//
// # Group commit
//
// With Options.GroupWindow set (a mount sets DefaultGroupWindow), the file
// system's changes share one write transaction, a group (writeGrouped):
// each runs under a savepoint, so a failing one undoes only itself, and the
// group commits when its window ends, at groupMaxOps changes, and before any
// other write (write, withTx), any read of the reader pool (settled), Sync
// and Close. Until it commits, the reads of the file system's requests see
// it through the writer connection, under mu (view, readAttr); a crash of
// syncfs loses at most the window's changes, none of them fsynced (fsync
// commits, then checkpoints). A change that must be on disk before its
// effect outside the index (a Resident file opened for writing or
// truncated: its cache file is written next) sets commitNow. Groups begin
// only with groupMinFree free on the index's file system, because a group
// that fails to commit loses changes already acknowledged: that is logged,
// and the next Sync fails.
//
// The WAL is checkpointed by a connection of its own every checkpointEvery
// (checkpointLoop), and by the writer only at writerCheckpointPages, which
// lets the WAL start over.
//
// noXattr remembers inodes known to have no extended attribute, so that the
// security.capability lookup the kernel makes before each write(2) costs
// no query (xattrcache.go says when it forgets).
package index
