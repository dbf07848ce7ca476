package index

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
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
	if db.noXattr.has(ino) {
		return nil, fmt.Errorf("xattr %q: %w", name, ErrNoData)
	}
	gen := db.noXattr.generation()
	var v []byte
	q, done := db.view()
	err := q.QueryRow("SELECT value FROM xattrs WHERE ino=? AND name=?", ino, []byte(name)).Scan(&v)
	done()
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.GetAttr(ino); err != nil {
			return nil, err
		}
		var any bool
		q, done := db.view()
		err := q.QueryRow("SELECT EXISTS(SELECT 1 FROM xattrs WHERE ino=?)", ino).Scan(&any)
		done()
		if err == nil && !any {
			db.noXattr.note(ino, gen)
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
	if db.noXattr.has(ino) {
		return nil, nil
	}
	q, done := db.view()
	defer done()
	rows, err := q.Query("SELECT name FROM xattrs WHERE ino=? ORDER BY name", ino)
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
	// After the commit, whatever happened: a failed commit may still have
	// written the attribute.
	defer db.noXattr.forget(ino)
	return db.writeGrouped(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
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
		if name == ACLAccess {
			if err := db.setACLAccessTx(tx, a, value, flags&XattrACLKillSgid != 0); err != nil {
				return err
			}
		} else if _, err := tx.Exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?) ON CONFLICT(ino, name) DO UPDATE SET value=excluded.value", ino, []byte(name), value); err != nil {
			return fmt.Errorf("setxattr: %w", err)
		}
		if _, err := tx.Exec("UPDATE inodes SET ctime=? WHERE ino=?", db.now().UnixNano(), ino); err != nil {
			return fmt.Errorf("setxattr: %w", err)
		}
		if a.IsTmpfile() {
			return nil
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
	return db.writeGrouped(func(tx txn) error {
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
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
		if a.IsTmpfile() {
			return nil
		}
		return db.bumpFile(tx, ino, false)
	})
}

func xattrsTx(tx txn, ino uint64) (map[string][]byte, error) {
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

// POSIX ACLs. With the kernel's ACL support on (FUSE_POSIX_ACL), the kernel
// enforces the ACLs it reads through getxattr, and leaves the rest to the
// file system, as ext4 does it: the mode follows an access ACL when one is
// set, chmod rewrites the access ACL, and a new inode inherits its parent's
// default ACL (then the caller's umask does not apply).
const (
	ACLAccess  = "system.posix_acl_access"
	ACLDefault = "system.posix_acl_default"
	// XattrACLKillSgid, or'd into SetXattr's flags, clears the set-group-ID
	// bit when an access ACL is set (the caller is neither in the file's
	// group nor privileged).
	XattrACLKillSgid = 1 << 16
)

// ACL entry tags, as in the kernel's xattr form.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// acl is a parsed ACL; the kernel has validated it before it reaches here.
type acl []aclEntry

func parseACL(b []byte) (acl, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != 2 {
		return nil, fmt.Errorf("ACL of %d bytes: %w", len(b), ErrInvalid)
	}
	var a acl
	for b = b[4:]; len(b) > 0; b = b[8:] {
		a = append(a, aclEntry{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])})
	}
	return a, nil
}

func (a acl) encode() []byte {
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+8*len(a)), 2)
	for _, e := range a {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// mode returns the permission bits the ACL implies, and whether the mode
// says all it does (no named users or groups, no mask), in which case no
// ACL need be kept (the kernel's posix_acl_equiv_mode).
func (a acl) mode() (perm uint32, equiv bool) {
	equiv = true
	for _, e := range a {
		p := uint32(e.perm & 7)
		switch e.tag {
		case aclUserObj:
			perm |= p << 6
		case aclGroupObj:
			perm |= p << 3
		case aclOther:
			perm |= p
		case aclMask:
			perm = perm&^0o070 | p<<3
			equiv = false
		default:
			equiv = false
		}
	}
	// A mask entry sorts after the group entries, so it has the last word
	// on the group bits; the loop above already gave it that.
	return perm, equiv
}

// chmod sets the owner, group class and other entries from a new mode (the
// kernel's __posix_acl_chmod): the group class is the mask if there is one.
func (a acl) chmod(mode uint32) {
	hasMask := false
	for _, e := range a {
		hasMask = hasMask || e.tag == aclMask
	}
	for i := range a {
		switch e := &a[i]; {
		case e.tag == aclUserObj:
			e.perm = uint16(mode >> 6 & 7)
		case e.tag == aclMask, e.tag == aclGroupObj && !hasMask:
			e.perm = uint16(mode >> 3 & 7)
		case e.tag == aclOther:
			e.perm = uint16(mode & 7)
		}
	}
}

// createMasq fits an inherited ACL and a new inode's mode to each other
// (the kernel's posix_acl_create_masq): each keeps only what both allow.
// It reports whether the mode alone then says everything.
func (a acl) createMasq(mode *uint32) (equiv bool) {
	equiv = true
	var group, mask *aclEntry
	m := *mode
	for i := range a {
		e := &a[i]
		switch e.tag {
		case aclUserObj:
			e.perm &= uint16(m >> 6 & 7)
			m &= uint32(e.perm)<<6 | ^uint32(0o700)
		case aclUser, aclGroup:
			equiv = false
		case aclGroupObj:
			group = e
		case aclOther:
			e.perm &= uint16(m & 7)
			m &= uint32(e.perm) | ^uint32(0o007)
		case aclMask:
			mask = e
			equiv = false
		}
	}
	if mask != nil {
		group = mask
	}
	if group != nil {
		group.perm &= uint16(m >> 3 & 7)
		m &= uint32(group.perm)<<3 | ^uint32(0o070)
	}
	*mode = m
	return equiv
}

// setACLAccessTx sets an inode's access ACL and the mode it implies, or,
// if the mode says all the ACL does, just the mode.
func (db *DB) setACLAccessTx(tx txn, a Attr, value []byte, killSgid bool) error {
	parsed, err := parseACL(value)
	if err != nil {
		return err
	}
	perm, equiv := parsed.mode()
	mode := a.Mode&^0o777 | perm
	if killSgid {
		mode &^= syscall.S_ISGID
	}
	if equiv {
		_, err = tx.Exec("DELETE FROM xattrs WHERE ino=? AND name=?", a.Ino, []byte(ACLAccess))
	} else {
		_, err = tx.Exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?) ON CONFLICT(ino, name) DO UPDATE SET value=excluded.value", a.Ino, []byte(ACLAccess), value)
	}
	if err != nil {
		return fmt.Errorf("set access ACL: %w", err)
	}
	if _, err := tx.Exec("UPDATE inodes SET mode=? WHERE ino=?", mode, a.Ino); err != nil {
		return fmt.Errorf("set access ACL: %w", err)
	}
	return nil
}

// chmodACLTx rewrites an inode's access ACL, if it has one, for a new mode.
func chmodACLTx(tx txn, ino uint64, mode uint32) error {
	var v []byte
	err := tx.QueryRow("SELECT value FROM xattrs WHERE ino=? AND name=?", ino, []byte(ACLAccess)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("chmod access ACL: %w", err)
	}
	a, err := parseACL(v)
	if err != nil {
		return err
	}
	a.chmod(mode)
	if _, err := tx.Exec("UPDATE xattrs SET value=? WHERE ino=? AND name=?", a.encode(), ino, []byte(ACLAccess)); err != nil {
		return fmt.Errorf("chmod access ACL: %w", err)
	}
	return nil
}

// inheritACLTx works out a new inode's mode and the ACLs it inherits from
// its parent's default ACL, by name: without a default ACL, the mode less
// the caller's umask and no ACLs.
func inheritACLTx(tx txn, parent uint64, mode, umask uint32) (uint32, map[string][]byte, error) {
	var v []byte
	err := tx.QueryRow("SELECT value FROM xattrs WHERE ino=? AND name=?", parent, []byte(ACLDefault)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return mode &^ (umask & 0o777), nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("inherit ACL: %w", err)
	}
	a, err := parseACL(v)
	if err != nil {
		return 0, nil, err
	}
	acls := map[string][]byte{}
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		acls[ACLDefault] = v
	}
	if !a.createMasq(&mode) {
		acls[ACLAccess] = a.encode()
	}
	return mode, acls, nil
}
