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
//
// Staged and Resident content is wholly present by definition; only Absent
// content consults the present ranges. The cache never decides residency: the
// index does, and the caller tells the index when Ensure reports a file
// complete.
package cache
