package fstests

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The acl group: POSIX ACLs through system.posix_acl_access and
// system.posix_acl_default: the mode they imply, chmod rewriting them,
// enforcement for other users, and inheritance from a default ACL.

// ACL entry tags, as the kernel's xattr form (posix_acl_xattr.h) has them.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroupID  = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

var aclTags = map[string]uint16{"u": aclUser, "g": aclGroupID, "m": aclMask, "o": aclOther}

func aclXattrName(typ string) (string, error) {
	switch typ {
	case "access":
		return "system.posix_acl_access", nil
	case "default":
		return "system.posix_acl_default", nil
	}
	return "", fmt.Errorf("ACL type %q: want access or default", typ)
}

// encodeACLText turns "u::rw-,u:65534:r--,g::r--,m::r--,o::---" into the
// kernel's xattr form.
func encodeACLText(spec string) ([]byte, error) {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range strings.Split(spec, ",") {
		f := strings.Split(e, ":")
		if len(f) != 3 || len(f[2]) != 3 {
			return nil, fmt.Errorf("ACL entry %q", e)
		}
		tag, ok := aclTags[f[0]]
		if !ok {
			return nil, fmt.Errorf("ACL entry %q: unknown tag", e)
		}
		id := uint32(0xffffffff)
		if f[1] != "" {
			v, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("ACL entry %q: %w", e, err)
			}
			id = uint32(v)
		} else if tag == aclUser {
			tag = aclUserObj
		} else if tag == aclGroupID {
			tag = aclGroupObj
		}
		var perm uint16
		for i, c := range f[2] {
			if c != '-' {
				perm |= 4 >> i
			}
		}
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b, nil
}

// decodeACLText is encodeACLText's inverse.
func decodeACLText(b []byte) (string, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != 2 {
		return "", fmt.Errorf("malformed ACL of %d bytes", len(b))
	}
	var out []string
	for b = b[4:]; len(b) > 0; b = b[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])
		var name, who string
		switch tag {
		case aclUserObj:
			name = "u"
		case aclUser:
			name, who = "u", fmt.Sprint(id)
		case aclGroupObj:
			name = "g"
		case aclGroupID:
			name, who = "g", fmt.Sprint(id)
		case aclMask:
			name = "m"
		case aclOther:
			name = "o"
		default:
			return "", fmt.Errorf("ACL tag %#x", tag)
		}
		rwx := []byte("rwx")
		for i := range rwx {
			if perm&(4>>i) == 0 {
				rwx[i] = '-'
			}
		}
		out = append(out, name+":"+who+":"+string(rwx))
	}
	return strings.Join(out, ","), nil
}

func setfacl(c *chain, a []string) (string, error) {
	name, err := aclXattrName(a[1])
	if err != nil {
		return "", err
	}
	v, err := encodeACLText(a[2])
	if err != nil {
		return "", err
	}
	return done(unix.Setxattr(a[0], name, v, 0))
}

func getfacl(c *chain, a []string) (string, error) {
	name, err := aclXattrName(a[1])
	if err != nil {
		return "", err
	}
	v, err := xattrValue(func(b []byte) (int, error) { return unix.Getxattr(a[0], name, b) })
	if err != nil {
		return "", err
	}
	return decodeACLText([]byte(v))
}

var aclsGroup = Group{Name: "acl", Scripts: []Script{
	{Name: "00 access ACL and the mode", Steps: `
		expect 0 create n0 0640
		expect ENODATA getfacl n0 access
		expect 0 setfacl n0 access u::rw-,u:65534:rw-,g::r--,m::rw-,o::---
		expect 0660 stat n0 mode
		expect u::rw-,u:65534:rw-,g::r--,m::rw-,o::--- getfacl n0 access
		expect system.posix_acl_access listxattr n0
		expect 0 -u 65534 -g 65534 open n0 O_RDWR
		expect EACCES -u 65533 -g 65533 open n0 O_RDONLY
		expect 0 chmod n0 0604
		expect u::rw-,u:65534:rw-,g::r--,m::---,o::r-- getfacl n0 access
		expect EACCES -u 65534 -g 65534 open n0 O_WRONLY
		expect 0 -u 65534 -g 65534 open n0 O_RDONLY
		save c1 stat n0 ctime
		expect 0 setfacl n0 access u::rwx,g::r-x,o::r--
		expect 0754 stat n0 mode
		save c2 stat n0 ctime
		check ${c1} < ${c2}
		expect ENODATA getfacl n0 access
		expect 0 setfacl n0 access u::rw-,g::---,g:65533:r--,m::r--,o::---
		expect 0640 stat n0 mode
		expect 0 -u 65532 -g 65532,65533 open n0 O_RDONLY
		expect 0 removexattr n0 system.posix_acl_access
		expect 0640 stat n0 mode
		expect EACCES -u 65532 -g 65532,65533 open n0 O_RDONLY
		expect EINVAL setfacl n0 access u::rw-,u:65534:rw-,g::r--,o::---
		expect EACCES setfacl n0 default u::rw-,g::r--,o::---
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 setfacl n0 access u::rw-,u:65533:r--,g::r--,m::r--,o::---
		expect EPERM -u 65533 -g 65533 setfacl n0 access u::rw-,g::r--,o::---
	`},
	{Name: "01 default ACL inheritance", Steps: `
		expect 0 mkdir n0 0755
		expect 0 setfacl n0 default u::rwx,u:65534:rwx,g::r-x,m::rwx,o::---
		expect u::rwx,u:65534:rwx,g::r-x,m::rwx,o::--- getfacl n0 default
		expect ENODATA getfacl n0 access
		expect 0 -U 022 create n0/n1 0666
		expect 0660 stat n0/n1 mode
		expect u::rw-,u:65534:rwx,g::r-x,m::rw-,o::--- getfacl n0/n1 access
		expect ENODATA getfacl n0/n1 default
		expect 0 -U 022 mkdir n0/n2 0777
		expect 0770 stat n0/n2 mode
		expect u::rwx,u:65534:rwx,g::r-x,m::rwx,o::--- getfacl n0/n2 access
		expect u::rwx,u:65534:rwx,g::r-x,m::rwx,o::--- getfacl n0/n2 default
		expect 0 -U 022 mkdir n0/n2/n3 0750
		expect 0750 stat n0/n2/n3 mode
		expect u::rwx,u:65534:rwx,g::r-x,m::r-x,o::--- getfacl n0/n2/n3 access
		expect 0 -U 022 mkfifo n0/n4 0666
		expect 0660 stat n0/n4 mode
		expect 0 -U 022 symlink x n0/n5
		expect 0777 lstat n0/n5 mode
		expect EACCES -u 65534 -g 65534 create n0/n6 0600
		expect 0 setfacl n0 default u::rwx,g::r-x,o::r-x
		expect 0 -U 077 create n0/n7 0666
		expect 0644 stat n0/n7 mode
		expect ENODATA getfacl n0/n7 access
		expect 0 removexattr n0 system.posix_acl_default
		expect ENODATA getfacl n0 default
		expect 0 -U 027 create n0/n8 0666
		expect 0640 stat n0/n8 mode
		expect 0 -U 0 create n9 0666
		expect 0666 stat n9 mode
	`},
}}
