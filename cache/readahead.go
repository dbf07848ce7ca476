package cache

// Read-ahead: a reader that keeps reading an Absent file sequentially gets
// more than it asked for at each fetch, twice as much each time, up to
// readAheadMax; a seek starts over. The first read at offset 0 counts as
// the start of a sequential read (most reads of a file begin there), so
// `head -c 100` costs the first chunk plus readAheadMin, not the file.
//
// The kernel splits one read(2) into requests of at most its read-ahead
// size and may have several in flight, finishing out of order, so
// "sequential" allows readSlack either side of where the last read ended.

const (
	// readAheadMin is the first read-ahead of a sequential reader: about
	// one chunk at the default chunk sizes.
	readAheadMin = 1 << 20
	// readAheadMax caps the read-ahead: enough to keep several chunk
	// fetches in flight on a fast link, little enough that a reader who
	// stops early has not cost much.
	readAheadMax = 32 << 20
	// readSlack is how far from the last read's end a read may start and
	// still count as sequential.
	readSlack = 1 << 20
)

// readState is how one key is being read. It lives in entry, under its mu.
type readState struct {
	started bool  // a read was seen
	next    int64 // where the sequential run's reads have reached
	window  int64 // the next fetch's read-ahead; 0 while reads are random
}

// noteRead records a read of [off, off+n) and reports whether it runs on
// a sequential read: it starts at offset 0, or near where the run's reads
// had reached, and goes past it (a second reader of the same bytes is not
// progress, and must not grow the read-ahead).
func (e *entry) noteRead(off, n int64) (runsOn bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &e.reads
	near := r.started && off >= r.next-readSlack && off <= r.next+readSlack
	switch {
	case near:
		runsOn = off+n > r.next
		r.next = max(r.next, off+n)
	case off == 0:
		r.next, r.window, runsOn = n, 0, true
	default:
		r.next, r.window = off+n, 0 // a seek: no read-ahead until reads run on
	}
	r.started = true
	return runsOn
}

// readAhead returns how many bytes from `from` to fetch ahead of a
// sequential reader now, growing the window for next time. It is called
// with the fill lock held, after the bytes asked for were fetched; when the
// window ahead is already present (another reader's read-ahead brought it)
// it returns 0 and the window stays as it is.
func (e *entry) readAhead(from, size int64) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := min(max(2*e.reads.window, readAheadMin), readAheadMax)
	to := min(from+w, size)
	if to <= from || e.present.covers(from, to) {
		return 0
	}
	e.reads.window = w
	return to - from
}
