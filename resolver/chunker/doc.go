// Package chunker splits a byte stream into content-defined chunks, so that
// an edit to a file changes only the chunks around it and the rest
// deduplicate against what the store already holds.
//
// # Terms
//
//   - Chunk: a contiguous piece of the input. Chunks are at least Min bytes
//     and at most Max bytes long, except that the last chunk of a stream may
//     be shorter than Min.
//   - Boundary (cut point): where one chunk ends and the next begins. It is
//     chosen by the content of the bytes just before it, not by their offset,
//     so inserting or deleting bytes moves the boundaries near the edit only:
//     later boundaries fall on the same content as before (they
//     resynchronise).
//   - Gear hash: the rolling hash of FastCDC (Xia et al., "FastCDC: a Fast
//     and Efficient Content-Defined Chunking Approach for Data
//     Deduplication", USENIX ATC 2016): h = h<<1 + gear[byte]. Its top bits
//     depend on the last 64 bytes only, and a boundary is a position where
//     the top bits selected by a mask are all zero.
//   - Gear table: the 256 64-bit values the hash adds. Here they come from an
//     AES-256-CTR keystream under a 32-byte secret key (the store's chunker
//     subkey), so that someone who sees only chunk sizes cannot tell which
//     known file they came from: with a public table, chunk-size patterns
//     fingerprint files.
//   - Normalized chunking: FastCDC's way of narrowing the size spread. From
//     Min to Avg bytes a boundary needs a mask with two more bits than
//     log2(Avg) (harder to match); past Avg a mask with two fewer bits
//     (easier). No boundary is looked for in the first Min bytes of a chunk
//     (cut-point skipping), and a chunk is cut at Max regardless. The mean
//     chunk size on random data is then a little above Avg: 1.1 to 1.15 Avg
//     with Min = Avg/4 and Max = 4 Avg (TestSizes logs it).
//
// # Use
//
// A Chunker reads from an io.Reader and hands out one chunk per call to
// Next, copying the chunk's bytes into a caller-supplied buffer. With a
// buffer of capacity Max reused from call to call, chunking allocates
// nothing per chunk; Reset reuses a Chunker (and its read buffer) for the
// next stream. A Chunker is not safe for concurrent use.
package chunker
