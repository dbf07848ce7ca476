// Package cache keeps file content on the local disk: one sparse cache file
// per file version (an inode's content version), and for versions not wholly
// local, the byte ranges that are present.
//
// # Words
//
//   - Key: an inode number and content version. A remote version or an
//     eviction moves the version on, so a new key names a new file and an old
//     open handle keeps reading the bytes it opened.
//   - Present ranges: for content that is being fetched, which bytes are in
//     the cache file. A range is recorded only after its bytes are written and
//     synced, so after a crash the cache may refetch, but never serves a hole
//     as data.
//   - Fetcher: whoever fills missing ranges (the resolver). The cache declares
//     the interface; it never knows about stores, chunks or keys.
//   - Access log: when each key was last used (opened or read through
//     Ensure): the uses since the last save are kept in memory, and
//     SaveAccess merges them into access.log (a sorted binary file, read a
//     record at a time) at most as often as the caller asks; the resolver's evictor frees the least
//     recently used Resident content first when the cache is over its byte
//     budget. Walk lists what is on disk a batch at a time (the orphan
//     sweep); Scan lists all of it at once (fsck).
//   - Usage: the bytes the cache's files take on disk, kept as a running
//     total across mounts (usage.go) rather than measured by a walk of the
//     directory at each mount or evictor round. A walk sets it again when a
//     daemon did not stop cleanly, and every so often.
//
// Staged and Resident content is wholly present by definition; only Absent
// content consults the present ranges. The cache never decides residency: the
// index does, and the caller tells the index when Ensure reports a file
// complete.
package cache
