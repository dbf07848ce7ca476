package index

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// PathOf returns one path of an inode from the root ("/a/b"), following
// the first name found at each level: for messages that name a file. An
// inode with no name left gives "(unlinked)".
func (db *DB) PathOf(ino uint64) (string, error) {
	var parts []string
	for i := 0; ino != RootIno; i++ {
		if i > 4096 {
			return "", fmt.Errorf("path of %d: too deep or a cycle", ino)
		}
		var parent uint64
		var name []byte
		q, done := db.view()
		err := q.QueryRow("SELECT parent, name FROM dentries WHERE ino=? ORDER BY id LIMIT 1", ino).Scan(&parent, &name)
		done()
		if errors.Is(err, sql.ErrNoRows) {
			return "(unlinked)", nil
		}
		if err != nil {
			return "", fmt.Errorf("path of %d: %w", ino, err)
		}
		parts = append(parts, string(name))
		ino = parent
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}
