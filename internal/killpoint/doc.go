// Package killpoint is a test hook that makes the process kill itself
// (SIGKILL, as a power cut or the OOM killer would) at a named point the
// n-th time that point is reached, so that crash-safety tests can stop the
// daemon exactly between two steps whose order matters.
//
// # Words
//
//   - Point: a name for a place in the code, such as PointChunkStored
//     ("a chunk is in the store, no journal entry names it yet"). The code
//     calls Reach(point) there.
//   - Plan: what the environment variable SYNCFS_TEST_KILLPOINT asks for,
//     "point:n" (for example "chunk-stored:3": the third time a chunk is
//     stored, die). Without the variable, Reach does nothing but one
//     comparison.
//
// The plan is read from the environment once per process. That is the one
// piece of process-wide state here, on purpose: the hook acts on the whole
// process (it kills it), and threading it through every constructor would
// put a test-only parameter on production APIs.
package killpoint
