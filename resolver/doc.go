// Package resolver is the sync engine between the index and cache on one
// side and the encrypted store on the other.
//
// # Words
//
//   - Repo: an opened store: the blobstore, the keys unwrapped from its
//     config with the passphrase, and the config's settings.
//   - Config: the one unencrypted object, "config": format version, store ID,
//     KDF parameters and salt, the wrapped master key and the chunker
//     parameters, authenticated with a MAC under a key only the passphrase
//     unlocks.
//   - Chunk: a piece of file content cut by the content-defined chunker,
//     stored as chunks/<xx>/<id>, where id is the keyed hash of its plaintext
//     and the body is compressed, then sealed.
//   - Journal batch: journal/<device>/<seq>: a sealed, compressed list of
//     index records (new file versions and directory entry versions).
//   - Uploader: takes Staged files, stores their chunks, seals the next
//     batch (recorded in the index first), sends it with create-if-absent,
//     then lets the index mark the files Resident by compare-and-set.
//   - Fetcher: implements cache.Fetcher: reads the chunks covering a range,
//     authenticates, decompresses and checks them.
//   - Pinner: fetches every chunk of pinned Absent files through the cache
//     and marks them Resident; pins pass down to new entries of pinned
//     directories.
//   - Evictor: while the cache holds more bytes than its budget, frees the
//     least recently used Resident (or partly fetched) content that is not
//     pinned and not open. Staged content is never freed.
//   - Puller: for every other device, fetches journal/<device>/<watermark+1>
//     until there is none, and applies each batch to the index.
//
// # Goroutines
//
// Engine.Run owns every background loop (upload, pull, janitor, and the
// pinner and evictor of residency.go) and returns when its context ends;
// Flush and Sync ask the loops for work and wait with the caller's context. No engine lock is held across store I/O.
package resolver
