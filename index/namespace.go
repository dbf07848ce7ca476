package index

import (
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// MaxNameLen is the longest name of one directory entry, in bytes.
const MaxNameLen = 255

// NewNode describes an inode to create.
type NewNode struct {
	Mode   uint32 // type and permission bits; S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK
	UID    uint32
	GID    uint32
	Rdev   uint32
	Target string // symlink target
	// Umask is the creating process's umask. It applies to Mode unless
	// the parent has a default ACL, which then decides instead (the
	// kernel leaves both to the file system when it supports ACLs; when it
	// does not, it has already applied the umask, and again changes
	// nothing).
	Umask uint32
}

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Offset uint64 // where the next listing resumes: the entry's row ID, shifted past "." and ".."
	Name   string
	Attr   Attr
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("name %q: %w", name, ErrInvalid)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name of %d bytes: %w", len(name), ErrNameTooLong)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return fmt.Errorf("name %q: %w", name, ErrInvalid)
		}
	}
	return nil
}

// lookupTx returns the inode named name in parent.
func (db *DB) lookupTx(tx txn, parent uint64, name string) (Attr, error) {
	a, err := scanAttr(tx.QueryRow("SELECT i.ino, i.file_id, i.mode, i.nlink, i.uid, i.gid, i.rdev, i.size, i.atime, i.mtime, i.ctime, i.state, i.pinned, i.cver, i.wgen FROM dentries d JOIN inodes i ON d.ino=i.ino WHERE d.parent=? AND d.name=?", parent, []byte(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return Attr{}, fmt.Errorf("lookup %q: %w", name, ErrNotExist)
	}
	if err != nil {
		return Attr{}, fmt.Errorf("lookup %q: %w", name, err)
	}
	db.applyOverlay(&a)
	return a, nil
}

// Lookup returns the attributes of the entry name in directory parent.
func (db *DB) Lookup(parent uint64, name string) (Attr, error) {
	if len(name) > MaxNameLen {
		return Attr{}, fmt.Errorf("lookup: %w", ErrNameTooLong)
	}
	var a Attr
	err := db.readAttr(func(q txn) ([]*Attr, error) {
		var err error
		a, err = scanAttr(q.QueryRow("SELECT i.ino, i.file_id, i.mode, i.nlink, i.uid, i.gid, i.rdev, i.size, i.atime, i.mtime, i.ctime, i.state, i.pinned, i.cver, i.wgen FROM dentries d JOIN inodes i ON d.ino=i.ino WHERE d.parent=? AND d.name=?", parent, []byte(name)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("lookup %q: %w", name, ErrNotExist)
		}
		if err != nil {
			return nil, fmt.Errorf("lookup %q: %w", name, err)
		}
		return []*Attr{&a}, nil
	})
	return a, err
}

func (db *DB) dirTx(tx txn, ino uint64) (Attr, error) {
	a, err := db.getAttrTx(tx, ino)
	if err != nil {
		return a, err
	}
	if !a.IsDir() {
		return a, fmt.Errorf("inode %d: %w", ino, ErrNotDir)
	}
	if a.Nlink == 0 {
		// A removed directory takes no new entries.
		return a, fmt.Errorf("inode %d removed: %w", ino, ErrNotExist)
	}
	return a, nil
}

// touchDir sets a directory's mtime and ctime, for an entry change.
func (db *DB) touchDir(tx txn, ino uint64, now int64, nlinkDelta int) error {
	return db.bumpFileTouch(tx, ino, false, &dirTouch{now, nlinkDelta})
}

// Create makes a new inode of n's type named name in parent: a file,
// directory, symlink, fifo, socket or device. A new regular file is Staged
// (even empty, it must reach the store).
func (db *DB) Create(parent uint64, name string, n NewNode) (Attr, error) {
	if err := checkName(name); err != nil {
		return Attr{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.writeGrouped(func(tx txn) error {
		var err error
		out, err = db.createTx(tx, parent, name, n, false)
		return err
	})
	return out, err
}

// createTx is Create inside a transaction; openWrite also opens the new
// file for writing (CreateOpen). A new inode's first version is written
// with its row, and a taken name is found by the entry's UNIQUE constraint:
// a create was 19 statements, and is 11.
func (db *DB) createTx(tx txn, parent uint64, name string, n NewNode, openWrite bool) (Attr, error) {
	p, err := db.dirTx(tx, parent)
	if err != nil {
		return Attr{}, err
	}
	now := db.now().UnixNano()
	typ := n.Mode & syscall.S_IFMT
	if typ == 0 {
		typ = syscall.S_IFREG
	}
	nlink, state := 1, StateNone
	var target []byte
	switch typ {
	case syscall.S_IFDIR:
		nlink = 2
	case syscall.S_IFREG:
		state = StateStaged
	case syscall.S_IFLNK:
		target = []byte(n.Target)
	case syscall.S_IFIFO, syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFSOCK:
	default:
		return Attr{}, fmt.Errorf("create %q: file type %o: %w", name, typ, ErrInvalid)
	}
	delta := 0
	if typ == syscall.S_IFDIR {
		delta = 1
	}
	if err := db.touchDir(tx, parent, now, delta); err != nil {
		return Attr{}, err
	}
	// The new inode's first version, as bumpFile would give it.
	hlc := db.tick()
	first := &firstVersion{vv: VV{db.device: uint64(hlc)}, hlc: hlc, homeParent: p.FileID, homeName: name}
	if openWrite && typ == syscall.S_IFREG {
		first.wgen = 1 // openTx's step for a writer
	}
	a, err := db.insertInodeTx(tx, p, n, typ, nlink, state, target, now, first)
	if err != nil {
		return Attr{}, fmt.Errorf("create %q: %w", name, err)
	}
	if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, []byte(name), a.Ino); err != nil {
		if isUniqueViolation(err) {
			return Attr{}, fmt.Errorf("create %q: %w", name, ErrExist)
		}
		return Attr{}, fmt.Errorf("create %q: %w", name, err)
	}
	if err := db.queueFile(tx, a.Ino); err != nil {
		return Attr{}, err
	}
	if err := db.bumpDentryOf(tx, parent, p.FileID, name, a.FileID); err != nil {
		return Attr{}, err
	}
	db.applyOverlay(&a)
	return a, nil
}

// firstVersion is a new inode's first version, written with its row.
type firstVersion struct {
	vv         VV
	hlc        int64
	homeParent string
	homeName   string
	wgen       int64
}

// insertInodeTx adds an inode of type typ for n under directory p: the
// group and set-group-ID bit a set-group-ID directory passes on, the
// umask or inherited ACLs, and the row, with its first version if first is
// not nil. It returns the row's attributes.
func (db *DB) insertInodeTx(tx txn, p Attr, n NewNode, typ uint32, nlink int, state State, target []byte, now int64, first *firstVersion) (Attr, error) {
	gid := n.GID
	mode := typ | n.Mode&0o7777
	if p.Mode&syscall.S_ISGID != 0 {
		// BSD group semantics under a setgid directory, as ext4 does.
		gid = p.GID
		if typ == syscall.S_IFDIR {
			mode |= syscall.S_ISGID
		}
	}
	var acls map[string][]byte
	switch {
	case typ == syscall.S_IFLNK:
	case db.noXattr.has(p.Ino):
		// No default ACL to inherit: only the umask applies.
		mode &^= n.Umask & 0o777
	default:
		var err error
		if mode, acls, err = inheritACLTx(tx, p.Ino, mode, n.Umask); err != nil {
			return Attr{}, err
		}
	}
	a := Attr{FileID: db.randomID(16), Mode: mode, Nlink: uint32(nlink), UID: n.UID, GID: gid, Rdev: n.Rdev,
		Size: int64(len(target)), Atime: now, Mtime: now, Ctime: now, State: state}
	vv, hlc, author, homeParent, homeName := "{}", int64(0), "", "", []byte(nil)
	if first != nil {
		vv, hlc, author, homeParent, homeName = first.vv.encode(), first.hlc, db.device, first.homeParent, []byte(first.homeName)
		a.Wgen = first.wgen
	}
	res, err := tx.Exec(`INSERT INTO inodes(file_id, mode, uid, gid, rdev, nlink, size, atime, mtime, ctime, target, state, wgen, vv, base_vv, hlc, author, home_parent, home_name)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.FileID, a.Mode, a.UID, a.GID, a.Rdev, a.Nlink, a.Size, now, now, now, target, a.State, a.Wgen, vv, vv, hlc, author, homeParent, homeName)
	if err != nil {
		return Attr{}, err
	}
	id, _ := res.LastInsertId()
	a.Ino = uint64(id)
	if len(acls) == 0 {
		db.created = append(db.created, a.Ino)
	}
	for k, v := range acls {
		if _, err := tx.Exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?)", a.Ino, []byte(k), v); err != nil {
			return Attr{}, err
		}
	}
	if first != nil {
		db.lastLocal.Store(time.Now().UnixNano()) // as bumpFile: a scheduling hint
	}
	return a, nil
}

// CreateTmpfile makes a regular file with no name in directory parent, for
// open(2)'s O_TMPFILE. It is Staged and unjournaled (see IsTmpfile) until
// Link names it; if its last handle closes first, it is purged.
func (db *DB) CreateTmpfile(parent uint64, n NewNode) (Attr, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.writeGrouped(func(tx txn) error {
		p, err := db.dirTx(tx, parent)
		if err != nil {
			return err
		}
		a, err := db.insertInodeTx(tx, p, n, syscall.S_IFREG, 0, StateStaged, nil, db.now().UnixNano(), nil)
		if err != nil {
			return fmt.Errorf("create a tmpfile: %w", err)
		}
		out, err = db.getAttrTx(tx, a.Ino)
		return err
	})
	return out, err
}

// Link adds the name newName in newParent for the existing inode ino.
func (db *DB) Link(ino, newParent uint64, newName string) (Attr, error) {
	if err := checkName(newName); err != nil {
		return Attr{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	var out Attr
	err := db.writeGrouped(func(tx txn) error {
		p, err := db.dirTx(tx, newParent)
		if err != nil {
			return err
		}
		a, err := db.getAttrTx(tx, ino)
		if err != nil {
			return err
		}
		if a.IsDir() {
			return fmt.Errorf("link directory: %w", ErrPermission)
		}
		if a.Nlink == 0 && !a.IsTmpfile() {
			return fmt.Errorf("link removed file: %w", ErrNotExist)
		}
		now := db.now().UnixNano()
		if _, err := tx.Exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", newParent, []byte(newName), ino); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("link %q: %w", newName, ErrExist)
			}
			return fmt.Errorf("link %q: %w", newName, err)
		}
		if err := db.touchDir(tx, newParent, now, 0); err != nil {
			return err
		}
		// The new link count joins the new version's statement. A
		// tmpfile's first name is its creation, content and all.
		row, err := readVersionTx(tx, ino)
		if err != nil {
			return err
		}
		if err := db.bumpRowTx(tx, row, "nlink=nlink+1, ctime=?5", now); err != nil {
			return err
		}
		if err := db.bumpDentryOf(tx, newParent, p.FileID, newName, a.FileID); err != nil {
			return err
		}
		out = a
		out.Nlink++
		out.Ctime = max(out.Ctime, now)
		return nil
	})
	return out, err
}

// Unlink removes the non-directory entry name from parent.
func (db *DB) Unlink(parent uint64, name string) error {
	return db.remove(parent, name, false)
}

// Rmdir removes the empty directory name from parent.
func (db *DB) Rmdir(parent uint64, name string) error {
	if name == "." {
		return fmt.Errorf("rmdir \".\": %w", ErrInvalid)
	}
	if name == ".." {
		return fmt.Errorf("rmdir \"..\": %w", ErrNotEmpty)
	}
	return db.remove(parent, name, true)
}

func (db *DB) remove(parent uint64, name string, dir bool) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("remove: %w", ErrNameTooLong)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.writeGrouped(func(tx txn) error {
		p, err := db.getAttrTx(tx, parent)
		if err != nil {
			return err
		}
		a, err := db.lookupTx(tx, parent, name)
		if err != nil {
			return err
		}
		if dir && !a.IsDir() {
			return fmt.Errorf("rmdir %q: %w", name, ErrNotDir)
		}
		if !dir && a.IsDir() {
			return fmt.Errorf("unlink %q: %w", name, ErrIsDir)
		}
		return db.dropEntryTx(tx, parent, p.FileID, name, a, db.now().UnixNano())
	})
}

// dropEntryTx removes the entry (parent, name) naming a, updating link
// counts; a directory must be empty. pfid is the parent's file ID, if the
// caller has it ("" otherwise).
func (db *DB) dropEntryTx(tx txn, parent uint64, pfid, name string, a Attr, now int64) error {
	if a.IsDir() {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM dentries WHERE parent=?", a.Ino).Scan(&n); err != nil {
			return fmt.Errorf("remove %q: %w", name, err)
		}
		if n > 0 {
			return fmt.Errorf("remove %q: %w", name, ErrNotEmpty)
		}
		if err := db.dropMergedTx(tx, a.FileID, now); err != nil {
			return err
		}
	}
	if _, err := tx.Exec("DELETE FROM dentries WHERE parent=? AND name=?", parent, []byte(name)); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	delta := 0
	nlink := a.Nlink - 1
	if a.IsDir() {
		delta = -1
		nlink = 0
	}
	if err := db.touchDir(tx, parent, now, delta); err != nil {
		return err
	}
	var err error
	if pfid != "" {
		err = db.bumpDentryOf(tx, parent, pfid, name, "")
	} else {
		err = db.bumpDentry(tx, parent, name)
	}
	if err != nil {
		return err
	}
	return db.setNlinkTx(tx, a, nlink, now)
}

// setNlinkTx sets an inode's link count; at zero a regular file becomes
// Tombstoned. The row itself stays until the deletion is journaled and no
// handle or kernel reference remains (see maybePurge).
func (db *DB) setNlinkTx(tx txn, a Attr, nlink uint32, now int64) error {
	state := a.State
	if nlink == 0 {
		if err := Transition(a.State, StateTombstoned); err != nil {
			return err
		}
		state = StateTombstoned
	}
	row, err := readVersionTx(tx, a.Ino)
	if err != nil {
		return err
	}
	row.state = state // the version's row as the update leaves it
	return db.bumpRowTx(tx, row, "nlink=?5, ctime=?6, state=?7", nlink, now, state)
}

// RenameFlags are renameat2's flags.
type RenameFlags uint32

// The renameat2 flags syncfs supports.
const (
	RenameNoReplace RenameFlags = 1 << 0
	RenameExchange  RenameFlags = 1 << 1
	// RenameWhiteout leaves a whiteout (a character device 0/0, as
	// overlayfs uses) at the old name; only RenameWhiteout takes it.
	RenameWhiteout RenameFlags = 1 << 2
)

// Rename moves the entry (oldParent, oldName) to (newParent, newName), with
// rename(2)'s rules for replacing an existing target.
func (db *DB) Rename(oldParent uint64, oldName string, newParent uint64, newName string, flags RenameFlags) error {
	if flags&RenameWhiteout != 0 {
		return fmt.Errorf("rename flags %#x: %w", flags, ErrInvalid)
	}
	return db.rename(oldParent, oldName, newParent, newName, flags, NewNode{})
}

// RenameWhiteout is Rename that also leaves a whiteout, owned by uid and
// gid (the caller, as ext4 makes it), at the old name, in the same
// transaction (renameat2's RENAME_WHITEOUT).
func (db *DB) RenameWhiteout(oldParent uint64, oldName string, newParent uint64, newName string, flags RenameFlags, uid, gid uint32) error {
	if flags&RenameExchange != 0 {
		return fmt.Errorf("rename flags %#x: %w", flags, ErrInvalid)
	}
	return db.rename(oldParent, oldName, newParent, newName, flags|RenameWhiteout, NewNode{Mode: syscall.S_IFCHR, UID: uid, GID: gid})
}

func (db *DB) rename(oldParent uint64, oldName string, newParent uint64, newName string, flags RenameFlags, whiteout NewNode) error {
	if err := checkName(newName); err != nil {
		return err
	}
	if len(oldName) > MaxNameLen {
		return fmt.Errorf("rename: %w", ErrNameTooLong)
	}
	if flags&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 || flags&(RenameNoReplace|RenameExchange) == RenameNoReplace|RenameExchange {
		return fmt.Errorf("rename flags %#x: %w", flags, ErrInvalid)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.writeGrouped(func(tx txn) error {
		if err := db.renameTx(tx, oldParent, oldName, newParent, newName, flags); err != nil {
			return err
		}
		if flags&RenameWhiteout == 0 {
			return nil
		}
		_, err := db.createTx(tx, oldParent, oldName, whiteout, false)
		return err
	})
}

func (db *DB) renameTx(tx txn, oldParent uint64, oldName string, newParent uint64, newName string, flags RenameFlags) error {
	if _, err := db.dirTx(tx, oldParent); err != nil {
		return err
	}
	if _, err := db.dirTx(tx, newParent); err != nil {
		return err
	}
	src, err := db.lookupTx(tx, oldParent, oldName)
	if err != nil {
		return err
	}
	dst, derr := db.lookupTx(tx, newParent, newName)
	exists := derr == nil
	if derr != nil && !errors.Is(derr, ErrNotExist) {
		return derr
	}
	if flags&RenameExchange != 0 && !exists {
		return fmt.Errorf("rename exchange %q: %w", newName, ErrNotExist)
	}
	if flags&RenameNoReplace != 0 && exists {
		return fmt.Errorf("rename %q: %w", newName, ErrExist)
	}
	if exists && dst.Ino == src.Ino {
		return nil // the same inode under both names: nothing to do
	}
	// A directory may not move into itself or below itself.
	if src.IsDir() {
		if err := db.checkNotAncestor(tx, src.Ino, newParent); err != nil {
			return err
		}
	}
	if flags&RenameExchange != 0 && dst.IsDir() {
		if err := db.checkNotAncestor(tx, dst.Ino, oldParent); err != nil {
			return err
		}
	}
	now := db.now().UnixNano()
	if flags&RenameExchange != 0 {
		return db.exchangeTx(tx, oldParent, oldName, src, newParent, newName, dst, now)
	}
	if exists {
		if src.IsDir() && !dst.IsDir() {
			return fmt.Errorf("rename %q: %w", newName, ErrNotDir)
		}
		if !src.IsDir() && dst.IsDir() {
			return fmt.Errorf("rename %q: %w", newName, ErrIsDir)
		}
		if err := db.dropEntryTx(tx, newParent, "", newName, dst, now); err != nil {
			return err
		}
	}
	if _, err := tx.Exec("UPDATE dentries SET parent=?, name=? WHERE parent=? AND name=?", newParent, []byte(newName), oldParent, []byte(oldName)); err != nil {
		return fmt.Errorf("rename %q: %w", oldName, err)
	}
	if src.IsDir() && oldParent != newParent {
		if err := db.touchDir(tx, oldParent, now, -1); err != nil {
			return err
		}
		if err := db.touchDir(tx, newParent, now, 1); err != nil {
			return err
		}
	} else {
		if err := db.touchDir(tx, oldParent, now, 0); err != nil {
			return err
		}
		if newParent != oldParent {
			if err := db.touchDir(tx, newParent, now, 0); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec("UPDATE inodes SET ctime=? WHERE ino=?", now, src.Ino); err != nil {
		return fmt.Errorf("rename %q: %w", oldName, err)
	}
	if err := db.bumpDentry(tx, oldParent, oldName); err != nil {
		return err
	}
	if err := db.bumpDentry(tx, newParent, newName); err != nil {
		return err
	}
	// After the entries: the file's version looks at the names it holds
	// by them (bumpRowTx).
	return db.bumpFile(tx, src.Ino, false)
}

func (db *DB) exchangeTx(tx txn, oldParent uint64, oldName string, src Attr, newParent uint64, newName string, dst Attr, now int64) error {
	if _, err := tx.Exec("UPDATE dentries SET ino=? WHERE parent=? AND name=?", dst.Ino, oldParent, []byte(oldName)); err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	if _, err := tx.Exec("UPDATE dentries SET ino=? WHERE parent=? AND name=?", src.Ino, newParent, []byte(newName)); err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	if oldParent != newParent && src.IsDir() != dst.IsDir() {
		d := 1
		if dst.IsDir() {
			d = -1
		}
		// src moved to newParent, dst to oldParent.
		if err := db.touchDir(tx, oldParent, now, -d); err != nil {
			return err
		}
		if err := db.touchDir(tx, newParent, now, d); err != nil {
			return err
		}
	} else {
		if err := db.touchDir(tx, oldParent, now, 0); err != nil {
			return err
		}
		if err := db.touchDir(tx, newParent, now, 0); err != nil {
			return err
		}
	}
	for _, ino := range []uint64{src.Ino, dst.Ino} {
		if _, err := tx.Exec("UPDATE inodes SET ctime=? WHERE ino=?", now, ino); err != nil {
			return fmt.Errorf("exchange: %w", err)
		}
		if err := db.bumpFile(tx, ino, false); err != nil {
			return err
		}
	}
	if err := db.bumpDentry(tx, oldParent, oldName); err != nil {
		return err
	}
	return db.bumpDentry(tx, newParent, newName)
}

// checkNotAncestor fails with ErrInvalid if dir is ino or lies below it.
func (db *DB) checkNotAncestor(tx txn, ino, dir uint64) error {
	for i := 0; i < 1<<16; i++ {
		if dir == ino {
			return fmt.Errorf("move directory into itself: %w", ErrInvalid)
		}
		if dir == RootIno {
			return nil
		}
		err := tx.QueryRow("SELECT parent FROM dentries WHERE ino=? LIMIT 1", dir).Scan(&dir)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk up: %w", err)
		}
	}
	return fmt.Errorf("directory chain too deep: %w", ErrInvalid)
}

// Readlink returns a symlink's target.
func (db *DB) Readlink(ino uint64) (string, error) {
	var mode uint32
	var target []byte
	q, done := db.view()
	err := q.QueryRow("SELECT mode, target FROM inodes WHERE ino=?", ino).Scan(&mode, &target)
	done()
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("readlink %d: %w", ino, ErrNotExist)
	}
	if err != nil {
		return "", fmt.Errorf("readlink %d: %w", ino, err)
	}
	if mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", fmt.Errorf("readlink %d: %w", ino, ErrInvalid)
	}
	return string(target), nil
}

// ParentOf returns the inode of the directory holding a directory (for
// ".."); the root is its own parent.
func (db *DB) ParentOf(ino uint64) (uint64, error) {
	if ino == RootIno {
		return RootIno, nil
	}
	var p uint64
	q, done := db.view()
	err := q.QueryRow("SELECT parent FROM dentries WHERE ino=? LIMIT 1", ino).Scan(&p)
	done()
	if errors.Is(err, sql.ErrNoRows) {
		return RootIno, nil
	}
	if err != nil {
		return 0, fmt.Errorf("parent of %d: %w", ino, err)
	}
	return p, nil
}

// ReadDir lists up to limit entries of directory dir that come after offset
// (0 = from the start), in row-ID order, one query for names and attributes.
// Offsets 1 and 2 are "." and "..", which the caller adds.
func (db *DB) ReadDir(dir uint64, offset uint64, limit int) ([]DirEntry, error) {
	after := int64(0)
	if offset > 2 {
		after = int64(offset - 2)
	}
	var out []DirEntry
	err := db.readAttr(func(q txn) ([]*Attr, error) {
		var err error
		out, err = db.readDirRows(q, dir, after, limit)
		as := make([]*Attr, len(out))
		for i := range out {
			as[i] = &out[i].Attr
		}
		return as, err
	})
	return out, err
}

func (db *DB) readDirRows(q txn, dir uint64, after int64, limit int) ([]DirEntry, error) {
	// Whether each entry has extended attributes comes along: `ls -l`
	// asks for ACLs of every entry it lists, and an entry known to have
	// none is answered from memory (noXattr).
	gen := db.noXattr.generation()
	rows, err := q.Query(`SELECT d.id, d.name, i.ino, i.file_id, i.mode, i.nlink, i.uid, i.gid, i.rdev, i.size, i.atime, i.mtime, i.ctime, i.state, i.pinned, i.cver, i.wgen,
		EXISTS(SELECT 1 FROM xattrs x WHERE x.ino=i.ino)
		FROM dentries d JOIN inodes i ON d.ino=i.ino WHERE d.parent=? AND d.id>? ORDER BY d.id LIMIT ?`, dir, after, limit)
	if err != nil {
		return nil, fmt.Errorf("readdir %d: %w", dir, err)
	}
	defer rows.Close()
	var out []DirEntry
	for rows.Next() {
		var id int64
		var name []byte
		var a Attr
		var pinned int
		var xattrs bool
		if err := rows.Scan(&id, &name, &a.Ino, &a.FileID, &a.Mode, &a.Nlink, &a.UID, &a.GID, &a.Rdev, &a.Size, &a.Atime, &a.Mtime, &a.Ctime, &a.State, &pinned, &a.Cver, &a.Wgen, &xattrs); err != nil {
			return nil, fmt.Errorf("readdir %d: %w", dir, err)
		}
		a.Pinned = pinned != 0
		if !xattrs {
			db.noXattr.note(a.Ino, gen)
		}
		out = append(out, DirEntry{Offset: uint64(id) + 2, Name: string(name), Attr: a})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readdir %d: %w", dir, err)
	}
	return out, nil
}
