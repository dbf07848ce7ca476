package index

import "sync"

// maxNoXattr bounds noXattr's memory: past it the set starts again empty
// (about 40 bytes an inode; a full set is about 10 MiB).
const maxNoXattr = 1 << 18

// noXattr remembers inodes known to have no extended attribute at all, so
// that GetXattr and ListXattr answer them without SQLite. The kernel asks
// for security.capability before every write(2) to a file (to know whether
// the write must drop it), so without this each write costs a query.
//
// The set only ever errs towards asking SQLite: an inode is added when it is
// created without attributes, or when a read found none and no change that
// could add one happened meanwhile (gen did not move); every such change
// takes the inode out (forget), and a transaction of database/sql's kind
// (applying other devices' batches, a checkpoint), which may write any
// inode's attributes, empties the set (reset).
type noXattr struct {
	mu   sync.Mutex // guards the following; taken after DB.mu, never before
	gen  uint64
	inos map[uint64]struct{}
}

func newNoXattr() *noXattr { return &noXattr{inos: map[uint64]struct{}{}} }

// has reports whether ino is known to have no attribute.
func (n *noXattr) has(ino uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.inos[ino]
	return ok
}

// generation returns the count of changes so far, to pass to note.
func (n *noXattr) generation() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gen
}

// note adds ino, found without attributes by a read that started at
// generation gen, unless something changed since.
func (n *noXattr) note(ino, gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if gen == n.gen {
		n.addLocked(ino)
	}
}

// add adds ino, which a committed transaction created without attributes.
func (n *noXattr) add(ino uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addLocked(ino)
}

func (n *noXattr) addLocked(ino uint64) {
	if len(n.inos) >= maxNoXattr {
		clear(n.inos)
	}
	n.inos[ino] = struct{}{}
}

// forget takes ino out, after a committed change that may have given it an
// attribute.
func (n *noXattr) forget(ino uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen++
	delete(n.inos, ino)
}

// reset empties the set, after a change that may have given any inode an
// attribute.
func (n *noXattr) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen++
	clear(n.inos)
}
