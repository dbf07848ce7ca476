// Package crypto holds every cryptographic operation of a syncfs store. It is
// pure: no I/O, no logging, no global state. Everything is passed in and every
// failure is returned as an error wrapping one of the package's sentinels.
//
// # Terms
//
//   - Passphrase: what the user types. Argon2id with [KDFParams] (kept in the
//     store's config object) turns it into a key-encryption key.
//   - KEK (key-encryption key): the Argon2id output. It does nothing but wrap
//     the master key, so changing the passphrase rewrites one object and never
//     re-encrypts data.
//   - Master key: 32 random bytes made once per store by [NewMasterKey], stored
//     only wrapped (AES-256-GCM under the KEK) in the config object.
//   - Subkeys: [NewKeys] derives with HKDF-SHA256 one independent key per use:
//     content (chunks), metadata (journal batches, trees, snapshots, device
//     records, GC lists), chunk IDs, config authentication and the
//     content-defined chunker. A key is never used for two purposes.
//   - Kind: what a sealed object is ([KindChunk], [KindJournal], ...). Chunks
//     are sealed under the content subkey, every other kind under the
//     metadata subkey.
//   - Sealed object: the stored form of an object; see "Sealed objects".
//   - Chunk ID: a keyed hash of a chunk's plaintext ([Keys.ChunkID]). Equal
//     content gives equal IDs within a store (deduplication) without showing
//     the store's host a plain hash it could match against known files.
//   - Config MAC: the config object is the one object stored unencrypted (it
//     carries the KDF parameters needed to derive the keys); [Keys.ConfigMAC]
//     authenticates it once the master key is unwrapped.
//
// # Sealed objects
//
// A sealed object is laid out as
//
//	format (1 byte, = FormatVersion) | salt (16) | nonce (12) | ciphertext | tag (16)
//
// Its key is HKDF(kind subkey, salt), so each object has its own AES-256-GCM
// key and the random 96-bit nonce stays far inside GCM's limits however many
// objects a store holds. [Overhead] is the size sealing adds.
//
// The additional data is authenticated but not stored. It binds the format
// byte, a label naming the sealing scheme's version, the store ID, the kind
// and the object ID, each length-prefixed, so a sealed object opens only
// under the exact name and store it was written for: swapping, renaming,
// replaying into another store, truncating or flipping any bit all give
// [ErrAuth]. For chunks the ID is the chunk ID alone (never the file), so
// identical chunks deduplicate; the file's chunk list, sealed in its journal
// entry, binds chunks to files.
//
// # Errors
//
// [ErrAuth] is any authentication failure of a sealed object or a MAC.
// [ErrWrongPassphrase] is the failure to unwrap the master key: with GCM a
// wrong passphrase and a corrupted wrapped key cannot be told apart, and the
// wrong passphrase is by far the likelier cause. [ErrBadParams] refuses KDF
// parameters that are unknown or that would make us allocate or compute an
// absurd amount, so a hostile config cannot exhaust the machine.
//
// Randomness comes from crypto/rand. The package panics only if crypto/rand
// fails (which the Go runtime treats as fatal anyway) or if one of its own
// invariants is broken, such as a fixed-size key having the wrong size.
package crypto
