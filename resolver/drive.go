package resolver

import "context"

// Driving the engine by hand: a tool that loads a large tree into a device
// without a mount (the benchmark's bulk loader) runs the same uploader
// rounds and periodic checkpoint as Run's loops do, when it chooses.

// UploadRound runs one uploader round now, as Run's upload loop does:
// it sends batches sealed earlier, uploads a round of Staged files and
// seals and sends the next batch. more reports that another round may find
// work. Unlike Flush it does not count the queue first, which scans every
// inode: a caller that makes many files drains the queue after each group
// of them by calling UploadRound until more is false.
func (e *Engine) UploadRound(ctx context.Context) (more bool, err error) {
	return e.upload(ctx)
}

// CheckpointIfDue writes a checkpoint now if the journals have grown
// Options.CheckpointEvery batches past the newest one (never if it is 0),
// as a mounted device does after a pull round, but waiting for it. While
// Run's own periodic checkpoint is being written it does nothing.
func (e *Engine) CheckpointIfDue(ctx context.Context) error {
	every := e.opts.CheckpointEvery
	if every <= 0 || !e.checkpointing.CompareAndSwap(false, true) {
		return nil
	}
	defer e.checkpointing.Store(false)
	return e.checkpointIfDue(ctx, uint64(every))
}
