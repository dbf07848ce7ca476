package index

import "fmt"

// State is the residency of one regular file's content. Directories, symlinks
// and special files have StateNone.
type State uint8

// The residency states. Their numeric values are stored in the index: never
// renumber them.
const (
	// StateNone is the state of everything that is not a regular file.
	StateNone State = 0
	// StateAbsent: known from the store, content not local or only partly.
	StateAbsent State = 1
	// StateStaged: changed locally since the last upload; the cache file holds
	// all of it and it is never evicted.
	StateStaged State = 2
	// StateResident: the local copy equals the synced version; evictable.
	StateResident State = 3
	// StateTombstoned: the last name and last open handle are gone; kept
	// until the deletion is in the journal, then purged.
	StateTombstoned State = 4
)

var stateNames = [...]string{"none", "absent", "staged", "resident", "tombstoned"}

// String returns the lower-case name used in status output and the
// user.syncfs.state xattr.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// legal lists every allowed move; staying in a state is always allowed.
var legal = map[State][]State{
	StateAbsent:     {StateResident, StateStaged, StateTombstoned},
	StateStaged:     {StateResident, StateTombstoned},
	StateResident:   {StateAbsent, StateStaged, StateTombstoned},
	StateTombstoned: {},
	StateNone:       {StateTombstoned},
}

// Transition reports whether a file may move from one residency state to
// another. It is the only place that knows the state machine; every change of
// the state column goes through it. Staged -> Absent, the move that would lose
// unsynced data, is the one that matters most to refuse.
func Transition(from, to State) error {
	if from == to && from != StateNone {
		return nil
	}
	for _, s := range legal[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("residency %s -> %s: %w", from, to, ErrIllegalTransition)
}
