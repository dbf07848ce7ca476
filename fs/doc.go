// Package fs is the FUSE adapter: it implements go-fuse's raw
// fuse.RawFileSystem over the index (the namespace) and the cache (file
// content). The kernel's node ID is the index's inode number, which is never
// reused, so no translation table is needed and the kernel's lookup counts
// need no bookkeeping beyond what the index keeps for open handles.
//
// Each operation decodes its arguments, calls one index or cache operation,
// maps the error (errno.go is the only place that knows errno values) and
// fills the reply. Namespace rules live in the index; fs never talks to the
// store or the resolver: missing content is filled through the cache's
// Fetcher, and remote changes arrive on the index's change feed, which fs
// turns into kernel cache invalidations from its own goroutine.
//
// Operations left to the embedded default return ENOSYS on purpose: locks
// (the kernel's own lock handling is correct on one host), Access (mounted
// with default_permissions, the kernel checks), ioctl, copy_file_range (the
// kernel falls back to read and write).
//
// # POSIX semantics
//
// The mount always has default_permissions, so the kernel checks access
// against mode, owner, groups and POSIX ACLs (FUSE_POSIX_ACL: it reads
// system.posix_acl_* through getxattr), applies the sticky bit, strips
// set-group-ID on chmod and asks, with a SETATTR carrying the mode, for the
// set-ID bits to go on write, truncate and chown. What the kernel leaves to
// the file system lives in the index: the umask or inherited default ACL of
// a new inode (DONT_MASK), the mode an access ACL implies and the ACL chmod
// rewrites, modification and change times (a SETATTR of the size alone is a
// truncate and moves them), and relatime access times, which reads record
// in memory (see FS.accessed) and the periodic flush writes, unjournaled.
// Locks are the kernel's own.
//
// # Metrics
//
// With Options.Metrics set, every request is counted and timed by op
// (metrics.go): go-fuse has no hook around requests, so each method starts
// with a deferred fsys.track. Ops left to the embedded default are not
// counted.
//
// # Write path
//
// write(2) costs no SQLite transaction: bytes go to the cache file and the new
// size and mtime to the index's in-memory overlay, which is committed at
// fsync, release and by the periodic flush. Opening for writing makes the
// file Staged in the open's own transaction. Opens ask for no FLUSH
// (FOPEN_NOFLUSH): close(2) waits for no request, and, as on ext4, it
// reports no error of the index; fsync(2) does.
//
// # Kernel caches
//
// Names and attributes are cached for the mount's timeouts, listings for
// as long as the directory does not change (FOPEN_CACHE_DIR; see OpenDir),
// and the content of files read through the daemon while their version is
// unchanged (FOPEN_KEEP_CACHE). Remote changes drop what they touch, from
// the change feed (invalidate).
package fs
