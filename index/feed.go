package index

import "sync"

// Change is one entry of the change feed: something a remote device changed,
// so the kernel's cached view of it must be dropped.
type Change struct {
	Ino    uint64 // an inode whose attributes or content changed (0: none)
	Parent uint64 // a directory whose entry Name changed (0: none)
	Name   string
}

// feed fans changes out to subscribers. A slow subscriber loses changes
// rather than stalling the writer; it is told by Lost.
type feed struct {
	mu     sync.Mutex
	subs   []chan Change
	closed bool
}

func newFeed() *feed { return &feed{} }

func (f *feed) publish(cs []Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	for _, ch := range f.subs {
		for _, c := range cs {
			select {
			case ch <- c:
			default:
			}
		}
	}
}

func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, ch := range f.subs {
		close(ch)
	}
}

// Changes subscribes to the change feed. The channel is closed by Close.
func (db *DB) Changes() <-chan Change {
	ch := make(chan Change, 4096)
	db.feed.mu.Lock()
	defer db.feed.mu.Unlock()
	if db.feed.closed {
		close(ch)
		return ch
	}
	db.feed.subs = append(db.feed.subs, ch)
	return ch
}
