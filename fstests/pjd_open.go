package fstests

import (
	"fmt"
	"strings"
)

// The open group: creation, the flags, and every errno open gives on Linux.

var openGroup = Group{Name: "open", Scripts: []Script{
	{Name: "00 create, mode, owner and times", Steps: `
		expect 0 open n0 O_CREAT,O_WRONLY 0755
		expect regular,0755,0,0,1 lstat n0 type,mode,uid,gid,nlink
		expect 0 unlink n0
		expect 0 -U 022 open n0 O_CREAT,O_WRONLY 0777
		expect 0755 stat n0 mode
		expect 0 unlink n0
		expect 0 -U 077 open n0 O_CREAT,O_WRONLY 0777
		expect 0700 stat n0 mode
		expect 0 unlink n0
		expect 0 open n0 O_CREAT,O_WRONLY 04751
		expect 04751 stat n0 mode
		expect 0 mkdir n1 0777
		expect 0 -u 65534 -g 65534 open n1/n2 O_CREAT,O_RDWR 0640
		expect 65534,65534,0640 stat n1/n2 uid,gid,mode
		expect 0 -u 65534 -g 65533,65534 open n1/n3 O_CREAT,O_RDWR 0640
		expect 65534,65533 stat n1/n3 uid,gid
		save c1 stat n1 ctime
		save m1 stat n1 mtime
		expect 0 open n1/n4 O_CREAT,O_WRONLY 0644
		save c2 stat n1 ctime
		save m2 stat n1 mtime
		check ${c1} < ${c2}
		check ${m1} < ${m2}
		save a stat n1/n4 atime
		save m stat n1/n4 mtime
		save c stat n1/n4 ctime
		check ${a} == ${m}
		check ${m} == ${c}
		expect 0 open n1/n4 O_CREAT,O_RDONLY 0600
		save c3 stat n1 ctime
		check ${c2} == ${c3}
		expect regular,0644 stat n1/n4 type,mode
		expect 0 create n5 0600
		expect regular,0600,0 stat n5 type,mode,size
		expect EEXIST create n5 0600
	`},
	{Name: "01 O_TRUNC, O_APPEND, unlinked but open", Steps: `
		expect 2 open n0 O_CREAT,O_WRONLY 0644 : write 0 ab
		save m1 stat n0 mtime
		save c1 stat n0 ctime
		expect 0 open n0 O_WRONLY,O_TRUNC
		expect 0 stat n0 size
		save m2 stat n0 mtime
		save c2 stat n0 ctime
		check ${m1} < ${m2}
		check ${c1} < ${c2}
		expect 0 open n0 O_RDWR,O_TRUNC
		save m3 stat n0 mtime
		check ${m2} < ${m3}
		expect 0 mkfile n1 5
		expect 0 open n1 O_RDONLY,O_TRUNC
		expect 0 stat n1 size
		expect 3 open n0 O_WRONLY,O_APPEND : write 0 abc
		expect 2 open n0 O_WRONLY,O_APPEND : pwrite 0 de 0
		expect abcde open n0 O_RDONLY : read 0 100
		expect 6 open n0 O_RDWR,O_APPEND : lseek 0 0 SEEK_SET : write 0 f : lseek 0 0 SEEK_CUR
		expect 6 stat n0 size
		expect abcdef open n0 O_RDONLY : read 0 100
		expect 0 open n2 O_CREAT,O_RDWR 0644 : unlink n2 : fstat 0 nlink
		expect data open n2 O_CREAT,O_RDWR 0644 : unlink n2 : pwrite 0 data 0 : pread 0 10 0
		expect ENOENT stat n2 type
		expect 4 open n3 O_CREAT,O_RDWR 0644 : open n3 O_RDONLY : unlink n3 : pwrite 0 more 0 : close 0 : fstat 1 size
		expect more open n3 O_CREAT,O_RDWR 0644 : open n3 O_RDONLY : unlink n3 : pwrite 0 more 0 : close 0 : pread 1 10 0
	`},
	{Name: "02 O_DIRECTORY, O_NOFOLLOW, O_PATH and symlinks", Steps: `
		expect 0 mkdir n0 0755
		expect 0 create n1 0644
		expect 0 open n0 O_RDONLY,O_DIRECTORY
		expect ENOTDIR open n1 O_RDONLY,O_DIRECTORY
		expect EINVAL open n2 O_CREAT,O_DIRECTORY,O_RDONLY 0644
		expect ENOENT stat n2 type
		expect 0 symlink n1 n3
		expect ELOOP open n3 O_RDONLY,O_NOFOLLOW
		expect symlink open n3 O_PATH,O_NOFOLLOW : fstat 0 type
		expect regular open n3 O_RDONLY : fstat 0 type
		expect 0 symlink n4 n5
		expect ENOENT open n5 O_RDONLY
		expect EEXIST open n5 O_CREAT,O_EXCL,O_WRONLY 0644
		expect 0 open n5 O_CREAT,O_WRONLY 0640
		expect regular,0640 lstat n4 type,mode
		expect 0 symlink n0 n6
		expect 0 open n6 O_RDONLY,O_DIRECTORY
		expect ENOTDIR open n3 O_RDONLY,O_DIRECTORY
	`},
	{Name: "03 ENOTDIR, ENOENT, ENAMETOOLONG, ELOOP", Steps: `
		expect 0 create n0 0644
		expect ENOTDIR open n0/n1 O_RDONLY
		expect ENOTDIR open n0/n1 O_CREAT,O_WRONLY 0644
		expect ENOENT open n1 O_RDONLY
		expect ENOENT open n1/n2 O_CREAT,O_WRONLY 0644
		expect 0 open ${name255} O_CREAT,O_WRONLY 0620
		expect 0620 stat ${name255} mode
		expect ENAMETOOLONG open ${name256} O_CREAT,O_WRONLY 0620
		expect ENAMETOOLONG open ${name256} O_RDONLY
		expect 0 mkdirall ${path4095dir}
		expect 0 open ${path4095} O_CREAT,O_WRONLY 0642
		expect 0642 stat ${path4095} mode
		expect ENAMETOOLONG open ${path4096} O_CREAT,O_WRONLY 0642
		expect 0 symlink n2 n3
		expect 0 symlink n3 n2
		expect ELOOP open n2 O_RDONLY
		expect ELOOP open n2 O_CREAT,O_WRONLY 0644
		expect ELOOP open n2/n4 O_RDONLY
	`},
	{Name: "04 EACCES", Steps: `
		expect 0 mkdir n0 0755
		expect 0 create n0/n1 0644
		expect 0 chown n0/n1 65534 65534
		expect 0 -u 65534 -g 65534 open n0/n1 O_RDONLY
		expect 0 chmod n0 0644
		expect EACCES -u 65534 -g 65534 open n0/n1 O_RDONLY
		expect 0 chmod n0 0555
		expect 0 -u 65534 -g 65534 open n0/n1 O_RDWR
		expect EACCES -u 65534 -g 65534 open n0/n2 O_CREAT,O_WRONLY 0644
		expect ENOENT stat n0/n2 type
		expect 0 chmod n0 0755
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 open n0/n2 O_CREAT,O_WRONLY 0644
		expect 0 chmod n0/n1 0444
		expect EACCES -u 65534 -g 65534 open n0/n1 O_RDONLY,O_TRUNC
		expect 0 open n0/n1 O_WRONLY,O_TRUNC
		expect 0 mkdir n3 0755
		expect 0 chown n3 65534 65534
		expect 0 chmod n3 0300
		expect 0 -u 65534 -g 65534 open n3/n4 O_CREAT,O_WRONLY 0644
		expect EACCES -u 65534 -g 65534 open n3 O_RDONLY
		expect 0 chmod n3 0500
		expect 0 -u 65534 -g 65534 open n3 O_RDONLY,O_DIRECTORY
		expect EACCES -u 65534 -g 65534 open n3/n5 O_CREAT,O_WRONLY 0644
		expect 0 -u 65534 -g 65534 open n3/n4 O_RDONLY
	`},
	{Name: "05 EISDIR, ENXIO, EEXIST", Steps: `
		expect 0 mkdir n0 0755
		expect EISDIR open n0 O_WRONLY
		expect EISDIR open n0 O_RDWR
		expect EISDIR open n0 O_RDONLY,O_TRUNC
		expect EISDIR open n0 O_CREAT,O_RDONLY 0644
		expect 0 open n0 O_RDONLY
		expect 0 mkfifo n1 0644
		expect ENXIO open n1 O_WRONLY,O_NONBLOCK
		expect 0 open n1 O_RDONLY,O_NONBLOCK
		expect ab open n1 O_RDONLY,O_NONBLOCK : open n1 O_WRONLY,O_NONBLOCK : write 1 ab : read 0 5
		expect 0 create n2 0644
		expect 0 symlink n9 n3
		expect 0 bind n4
		expect EEXIST open n0 O_CREAT,O_EXCL,O_RDONLY 0644
		expect EEXIST open n1 O_CREAT,O_EXCL,O_RDONLY 0644
		expect EEXIST open n2 O_CREAT,O_EXCL,O_RDONLY 0644
		expect EEXIST open n3 O_CREAT,O_EXCL,O_RDONLY 0644
		expect EEXIST open n4 O_CREAT,O_EXCL,O_RDONLY 0644
		expect ENXIO open n4 O_RDONLY
	`},
	{Name: "07 O_TMPFILE", Steps: `
		expect 0,0 open . O_TMPFILE,O_RDWR 0600 : fstat 0 nlink,size
		expect 0 open . O_TMPFILE,O_RDWR 0640 : pwrite 0 data 0 : linkat 0 (empty) AT_FDCWD n0 AT_EMPTY_PATH
		expect regular,0640,1,4 stat n0 type,mode,nlink,size
		expect data open n0 O_RDONLY : read 0 10
		expect ENOENT open . O_TMPFILE,O_RDWR,O_EXCL 0600 : linkat 0 (empty) AT_FDCWD n1 AT_EMPTY_PATH
		expect ENOENT stat n1 type
		expect 0 -U 022 open . O_TMPFILE,O_WRONLY 0666 : linkat 0 (empty) AT_FDCWD n2 AT_EMPTY_PATH
		expect 0644 stat n2 mode
		expect 0 open . O_TMPFILE,O_RDWR 0600 : linkat 0 (empty) AT_FDCWD n3 AT_EMPTY_PATH : linkat 0 (empty) AT_FDCWD n4 AT_EMPTY_PATH
		expect 2 stat n3 nlink
		expect 0 mkdir n5 0777
		expect 0 -u 65534 -g 65534 open n5 O_TMPFILE,O_RDWR 0600 : fchmod 0 0640 : fchown 0 -1 65534
		expect 0 chmod n5 0755
		expect EACCES -u 65534 -g 65534 open n5 O_TMPFILE,O_RDWR 0600
		expect ENOTDIR open n0 O_TMPFILE,O_RDWR 0600
		expect EINVAL open . O_TMPFILE,O_RDONLY 0600
		expect n0,n2,n3,n4,n5 readdir .
	`},
	openPermissions(),
}}

// openPermissions is pjdfstest's open/06.t: each access mode against files
// whose mode grants one class (owner, group, other) some of read and write,
// opened by the owner, a group member (by primary and by supplementary
// group) and anyone else. The expected result follows from the mode bits;
// ext4 proves that rule.
func openPermissions() Script {
	type who struct {
		flags string
		shift uint
	}
	users := []who{
		{"-u 65534 -g 65534", 6},       // the owner
		{"-u 65533 -g 65534", 3},       // a member of the file's group
		{"-u 65533 -g 65533,65534", 3}, // a member through a supplementary group
		{"-u 65533 -g 65533", 0},       // anyone else
	}
	accesses := []struct {
		flag string
		need uint32
	}{{"O_RDONLY", 4}, {"O_WRONLY", 2}, {"O_RDWR", 6}}
	var b strings.Builder
	b.WriteString("expect 0 create n0 0644\nexpect 0 chown n0 65534 65534\n")
	for _, m := range []uint32{0o600, 0o060, 0o006, 0o400, 0o040, 0o004, 0o200, 0o020, 0o002, 0o000, 0o777, 0o066, 0o606} {
		fmt.Fprintf(&b, "expect 0 chmod n0 %#o\n", m)
		for _, u := range users {
			for _, a := range accesses {
				want := "0"
				if (m>>u.shift)&7&a.need != a.need {
					want = "EACCES"
				}
				fmt.Fprintf(&b, "expect %s %s open n0 %s\n", want, u.flags, a.flag)
			}
		}
	}
	return Script{Name: "06 permission matrix", Steps: b.String()}
}
