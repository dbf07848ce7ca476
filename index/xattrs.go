package index

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotSupported reports an extended attribute name outside the namespaces
// syncfs keeps (user, trusted, security and the POSIX ACLs), as ext4 does.
var ErrNotSupported = errors.New("operation not supported")

// xattrNamespaces are the prefixes of the attribute names syncfs stores.
var xattrNamespaces = []string{"user.", "trusted.", "security."}

// checkXattrName accepts a name in a namespace syncfs keeps, with something
// after the prefix.
func checkXattrName(name string) error {
	for _, ns := range xattrNamespaces {
		if strings.HasPrefix(name, ns) {
			if len(name) == len(ns) {
				return fmt.Errorf("xattr name %q: %w", name, ErrInvalid)
			}
			return nil
		}
	}
	if name == "system.posix_acl_access" || name == "system.posix_acl_default" {
		return nil
	}
	return fmt.Errorf("xattr name %q: %w", name, ErrNotSupported)
}

// Xattr flags, as setxattr(2) takes them.
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// GetXattr returns the value of an extended attribute.
func (db *DB) GetXattr(ino uint64, name string) ([]byte, error) {
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	var v []byte
	err := db.r.QueryRow("SELECT value FROM xattrs WHERE ino=? AND name=?", ino, []byte(name)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.GetAttr(ino); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("xattr %q: %w", name, ErrNoData)
	}
	if err != nil {
		return nil, fmt.Errorf("xattr %q: %w", name, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// ListXattr returns the names of an inode's extended attributes.
func (db *DB) ListXattr(ino uint64) ([]string, error) {
	if _, err := db.GetAttr(ino); err != nil {
		return nil, err
	}
	rows, err := db.r.Query("SELECT name FROM xattrs WHERE ino=? ORDER BY name", ino)
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		out = append(out, string(n))
	}
	return out, rows.Err()
}

// SetXattr sets an extended attribute, with XattrCreate / XattrReplace
// semantics. It changes the file's ctime and version.
func (db *DB) SetXattr(ino uint64, name string, value []byte, flags int) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(name) > 255 {
		return fmt.Errorf("xattr name: %w", ErrInvalid)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.withTx(func(tx *sql.Tx) error {
		if _, err := db.getAttrTx(tx, ino); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM xattrs WHERE ino=? AND name=?", ino, []byte(name)).Scan(&n); err != nil {
			return fmt.Errorf("setxattr: %w", err)
		}
		if flags&XattrCreate != 0 && n > 0 {
			return fmt.Errorf("setxattr %q: %w", name, ErrExist)
		}
		if flags&XattrReplace != 0 && n == 0 {
			return fmt.Errorf("setxattr %q: %w", name, ErrNoData)
		}
		if value == nil {
			value = []byte{}
		}
		if _, err := tx.Exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?) ON CONFLICT(ino, name) DO UPDATE SET value=excluded.value", ino, []byte(name), value); err != nil {
			return fmt.Errorf("setxattr: %w", err)
		}
		if _, err := tx.Exec("UPDATE inodes SET ctime=? WHERE ino=?", db.now().UnixNano(), ino); err != nil {
			return fmt.Errorf("setxattr: %w", err)
		}
		return db.bumpFile(tx, ino, false)
	})
}

// RemoveXattr removes an extended attribute.
func (db *DB) RemoveXattr(ino uint64, name string) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.withTx(func(tx *sql.Tx) error {
		if _, err := db.getAttrTx(tx, ino); err != nil {
			return err
		}
		res, err := tx.Exec("DELETE FROM xattrs WHERE ino=? AND name=?", ino, []byte(name))
		if err != nil {
			return fmt.Errorf("removexattr: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("removexattr %q: %w", name, ErrNoData)
		}
		if _, err := tx.Exec("UPDATE inodes SET ctime=? WHERE ino=?", db.now().UnixNano(), ino); err != nil {
			return fmt.Errorf("removexattr: %w", err)
		}
		return db.bumpFile(tx, ino, false)
	})
}

func xattrsTx(tx *sql.Tx, ino uint64) (map[string][]byte, error) {
	rows, err := tx.Query("SELECT name, value FROM xattrs WHERE ino=?", ino)
	if err != nil {
		return nil, fmt.Errorf("read xattrs: %w", err)
	}
	defer rows.Close()
	var out map[string][]byte
	for rows.Next() {
		var n, v []byte
		if err := rows.Scan(&n, &v); err != nil {
			return nil, fmt.Errorf("read xattrs: %w", err)
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[string(n)] = v
	}
	return out, rows.Err()
}
