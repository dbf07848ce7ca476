package index

import "fmt"

// NewEntry is one node for CreateBatch: Node, named Name in directory
// Parent.
type NewEntry struct {
	Parent uint64
	Name   string
	Node   NewNode
}

// CreateBatch makes every entry as Create does, in order, in one write
// transaction, and returns their attributes. It is for tools that load a
// large tree (the benchmark's bulk loader): each entry takes exactly
// Create's path (versions, outbox rows, parent times), and the batch pays
// one commit instead of one per entry. An entry may name, as its parent, a
// directory made earlier in the same batch only by its inode number, so
// callers make directories in one batch and their entries in a later one.
// Any failure rolls the whole batch back.
func (db *DB) CreateBatch(entries []NewEntry) ([]Attr, error) {
	for _, e := range entries {
		if err := checkName(e.Name); err != nil {
			return nil, err
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]Attr, 0, len(entries))
	err := db.write(func(tx txn) error {
		for _, e := range entries {
			a, err := db.createTx(tx, e.Parent, e.Name, e.Node, false)
			if err != nil {
				return fmt.Errorf("create batch: %w", err)
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
