package index

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
)

func testACL(entries ...aclEntry) acl { return acl(entries) }

const anyID = 0xffffffff

// TestACLRules checks the ACL arithmetic against the kernel's rules
// (posix_acl_equiv_mode, __posix_acl_chmod, posix_acl_create_masq).
func TestACLRules(t *testing.T) {
	plain := testACL(aclEntry{aclUserObj, 6, anyID}, aclEntry{aclGroupObj, 4, anyID}, aclEntry{aclOther, 4, anyID})
	named := testACL(aclEntry{aclUserObj, 7, anyID}, aclEntry{aclUser, 7, 65534}, aclEntry{aclGroupObj, 5, anyID}, aclEntry{aclMask, 6, anyID}, aclEntry{aclOther, 0, anyID})
	t.Run("mode", func(t *testing.T) {
		if perm, equiv := plain.mode(); perm != 0o644 || !equiv {
			t.Errorf("plain: %#o %v, want 0644 equivalent", perm, equiv)
		}
		if perm, equiv := named.mode(); perm != 0o760 || equiv {
			t.Errorf("named: %#o %v, want 0760 (the mask as group) not equivalent", perm, equiv)
		}
	})
	t.Run("chmod", func(t *testing.T) {
		a := append(acl{}, named...)
		a.chmod(0o604)
		want := testACL(aclEntry{aclUserObj, 6, anyID}, aclEntry{aclUser, 7, 65534}, aclEntry{aclGroupObj, 5, anyID}, aclEntry{aclMask, 0, anyID}, aclEntry{aclOther, 4, anyID})
		if !bytes.Equal(a.encode(), want.encode()) {
			t.Errorf("chmod with a mask: %v, want %v", a, want)
		}
		p := append(acl{}, plain...)
		p.chmod(0o570)
		if perm, _ := p.mode(); perm != 0o570 {
			t.Errorf("chmod without a mask: mode %#o, want 0570", perm)
		}
	})
	t.Run("create", func(t *testing.T) {
		a := append(acl{}, named...)
		mode := uint32(syscall.S_IFREG | 0o666)
		if a.createMasq(&mode) || mode != syscall.S_IFREG|0o660 {
			t.Errorf("create under a named default: mode %#o, want 0660 and an access ACL", mode)
		}
		p := append(acl{}, plain...)
		mode = syscall.S_IFDIR | 0o777
		if !p.createMasq(&mode) || mode != syscall.S_IFDIR|0o644 {
			t.Errorf("create under a plain default: mode %#o, want 0644 and no access ACL", mode)
		}
	})
	t.Run("encoding", func(t *testing.T) {
		b := named.encode()
		got, err := parseACL(b)
		if err != nil || !bytes.Equal(got.encode(), b) || len(b) != 4+8*len(named) {
			t.Errorf("round trip: %v %v", got, err)
		}
		for _, bad := range [][]byte{nil, {2, 0, 0}, {1, 0, 0, 0}, append(b, 1)} {
			if _, err := parseACL(bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("parse %v: %v, want ErrInvalid", bad, err)
			}
		}
	})
}

// TestACLInIndex checks the index's side of ACLs: setting an access ACL
// sets the mode (and keeps no ACL the mode already says), chmod rewrites
// it, and new inodes inherit a default ACL instead of taking the umask.
func TestACLInIndex(t *testing.T) {
	db := openTest(t, "a")
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o640)
	named := testACL(aclEntry{aclUserObj, 6, anyID}, aclEntry{aclUser, 6, 65534}, aclEntry{aclGroupObj, 4, anyID}, aclEntry{aclMask, 6, anyID}, aclEntry{aclOther, 0, anyID})
	if err := db.SetXattr(f.Ino, ACLAccess, named.encode(), 0); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.GetAttr(f.Ino); a.Mode != syscall.S_IFREG|0o660 {
		t.Errorf("mode after an access ACL: %#o, want 0660", a.Mode)
	}
	m := uint32(0o604)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &m}); err != nil {
		t.Fatal(err)
	}
	v, err := db.GetXattr(f.Ino, ACLAccess)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := parseACL(v); got[3].perm != 0 || got[4].perm != 4 {
		t.Errorf("ACL after chmod 0604: %v, want the mask --- and other r--", got)
	}
	plain := testACL(aclEntry{aclUserObj, 7, anyID}, aclEntry{aclGroupObj, 5, anyID}, aclEntry{aclOther, 1, anyID})
	if err := db.SetXattr(f.Ino, ACLAccess, plain.encode(), XattrACLKillSgid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetXattr(f.Ino, ACLAccess); !errors.Is(err, ErrNoData) {
		t.Errorf("an ACL the mode says all of is kept: %v", err)
	}
	if a, _ := db.GetAttr(f.Ino); a.Mode != syscall.S_IFREG|0o751 {
		t.Errorf("mode after a plain ACL: %#o, want 0751", a.Mode)
	}

	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	if err := db.SetXattr(d.Ino, ACLDefault, named.encode(), 0); err != nil {
		t.Fatal(err)
	}
	sub, err := db.Create(d.Ino, "sub", NewNode{Mode: syscall.S_IFDIR | 0o777, Umask: 0o077})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Mode != syscall.S_IFDIR|0o660 {
		t.Errorf("directory under a default ACL: mode %#o, want 0660 (the ACL's, the umask ignored)", sub.Mode)
	}
	if v, err := db.GetXattr(sub.Ino, ACLDefault); err != nil || !bytes.Equal(v, named.encode()) {
		t.Errorf("inherited default ACL: %v %v", v, err)
	}
	if _, err := db.GetXattr(sub.Ino, ACLAccess); err != nil {
		t.Errorf("inherited access ACL: %v", err)
	}
	other, err := db.Create(RootIno, "g", NewNode{Mode: syscall.S_IFREG | 0o666, Umask: 0o022})
	if err != nil || other.Mode != syscall.S_IFREG|0o644 {
		t.Errorf("file without a default ACL: mode %#o %v, want 0644", other.Mode, err)
	}
}
