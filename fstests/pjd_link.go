package fstests

// The link, unlink, symlink and access groups: names, link counts, stable
// inode numbers, the sticky bit, permission checks, and the errors.

var linkGroup = Group{Name: "link", Scripts: []Script{
	{Name: "00 link counts, inodes and times", Steps: `
		expect 0 create n0 0644
		expect regular,0644,1 lstat n0 type,mode,nlink
		save i0 stat n0 inode
		expect 0 link n0 n1
		expect regular,0644,2,${i0} lstat n0 type,mode,nlink,inode
		expect regular,0644,2,${i0} lstat n1 type,mode,nlink,inode
		expect 0 link n1 n2
		expect 3 stat n0 nlink
		expect 0 chmod n1 0201
		expect 0 chown n1 65534 65533
		expect regular,0201,3,65534,65533 lstat n0 type,mode,nlink,uid,gid
		expect regular,0201,3,65534,65533 lstat n2 type,mode,nlink,uid,gid
		expect 0 unlink n0
		expect ENOENT lstat n0 type
		expect 2,${i0} lstat n1 nlink,inode
		expect 0 unlink n2
		expect 1 lstat n1 nlink
		save c1 stat n1 ctime
		save dc1 stat . ctime
		save dm1 stat . mtime
		expect 0 link n1 n3
		save c2 stat n1 ctime
		save dc2 stat . ctime
		save dm2 stat . mtime
		check ${c1} < ${c2}
		check ${dc1} < ${dc2}
		check ${dm1} < ${dm2}
		expect ${c2} stat n3 ctime
		save m1 stat n1 mtime
		expect 0 mkdir n4 0755
		expect 0 link n1 n4/n5
		expect 3,${i0} stat n4/n5 nlink,inode
		expect ${m1} stat n1 mtime
	`},
	{Name: "01 each file type", Steps: `
		expect 0 mkfifo n0 0644
		expect 0 link n0 n1
		expect fifo,2 lstat n1 type,nlink
		expect 0 bind n2
		expect 0 link n2 n3
		expect socket,2 lstat n3 type,nlink
		expect 0 mknod n4 c 0644 1 3
		expect 0 link n4 n5
		expect char,2,1,3 lstat n5 type,nlink,major,minor
		expect 0 create n6 0644
		expect 0 symlink n6 n7
		expect 0 link n7 n8
		expect symlink,2 lstat n8 type,nlink
		expect 1 stat n6 nlink
		expect 0 linkat AT_FDCWD n7 AT_FDCWD n9 AT_SYMLINK_FOLLOW
		expect regular,2 lstat n9 type,nlink
	`},
	{Name: "02 errors", Steps: `
		expect 0 create n0 0644
		expect 0 mkdir n1 0755
		expect EPERM link n1 n2
		expect ENOTDIR link n0/n1 n2
		expect ENOTDIR link n0 n0/n2
		expect ENOENT link n3 n4
		expect ENOENT link n0 n3/n4
		expect EEXIST link n0 n1
		expect EEXIST link n0 n0
		expect 0 symlink n99 n5
		expect EEXIST link n0 n5
		expect 0 link n0 ${name255}
		expect ENAMETOOLONG link n0 ${name256}
		expect ENAMETOOLONG link ${name256} n6
		expect 0 mkdirall ${path4095dir}
		expect 0 link n0 ${path4095}
		expect ENAMETOOLONG link n0 ${path4096}
		expect 0 symlink n7 n8
		expect 0 symlink n8 n7
		expect ELOOP link n7/n0 n9
		expect ELOOP link n0 n7/n9
		expect 0 link n5 n9
		expect symlink,2 lstat n9 type,nlink
		expect 0 linkat AT_FDCWD n5 AT_FDCWD n11 0
		expect symlink,3 lstat n11 type,nlink
		expect ENOENT linkat AT_FDCWD n5 AT_FDCWD n10 AT_SYMLINK_FOLLOW
	`},
	{Name: "03 EACCES", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n1 0755
		expect 0 chown n0 65534 65534
		expect 0 chown n1 65534 65534
		expect 0 -u 65534 -g 65534 create n0/n2 0644
		expect 0 -u 65534 -g 65534 link n0/n2 n1/n3
		expect 0 chmod n1 0555
		expect EACCES -u 65534 -g 65534 link n0/n2 n1/n4
		expect 0 chmod n1 0655
		expect EACCES -u 65534 -g 65534 link n0/n2 n1/n4
		expect 0 chmod n1 0755
		expect 0 chmod n0 0655
		expect EACCES -u 65534 -g 65534 link n0/n2 n1/n4
		expect 0 chmod n0 0755
		expect 0 -u 65534 -g 65534 link n0/n2 n1/n4
		expect 3 stat n0/n2 nlink
	`},
}}

var unlinkGroup = Group{Name: "unlink", Scripts: []Script{
	{Name: "00 each file type, counts and times", Steps: `
		expect 0 create n0 0644
		expect 0 unlink n0
		expect ENOENT lstat n0 type
		expect 0 symlink n1 n0
		expect 0 unlink n0
		expect 0 mkfifo n0 0644
		expect 0 unlink n0
		expect 0 mknod n0 b 0644 7 0
		expect 0 unlink n0
		expect 0 bind n0
		expect 0 unlink n0
		expect 0 create n0 0644
		expect 0 link n0 n1
		expect 0 link n0 n2
		save c1 stat n1 ctime
		save dc1 stat . ctime
		save dm1 stat . mtime
		expect 0 unlink n0
		expect 2 stat n1 nlink
		save c2 stat n1 ctime
		save dc2 stat . ctime
		save dm2 stat . mtime
		check ${c1} < ${c2}
		check ${dc1} < ${dc2}
		check ${dm1} < ${dm2}
		expect 0 mkdir n3 0755
		expect 3 stat . nlink
		expect EISDIR unlink n3
		expect 0 unlinkat AT_FDCWD n3 AT_REMOVEDIR
		expect 2 stat . nlink
		expect 0 create n4 0644
		expect ENOTDIR unlinkat AT_FDCWD n4 AT_REMOVEDIR
	`},
	{Name: "01 errors", Steps: `
		expect 0 create n0 0644
		expect ENOTDIR unlink n0/n1
		expect ENOENT unlink n1
		expect ENOENT unlink n1/n2
		expect 0 create ${name255} 0644
		expect 0 unlink ${name255}
		expect ENAMETOOLONG unlink ${name256}
		expect 0 mkdirall ${path4095dir}
		expect 0 create ${path4095} 0644
		expect 0 unlink ${path4095}
		expect ENAMETOOLONG unlink ${path4096}
		expect 0 symlink n2 n3
		expect 0 symlink n3 n2
		expect ELOOP unlink n2/n0
		expect 0 unlink n2
		expect 0 mkdir n4 0755
		expect 0 chown n4 65534 65534
		expect 0 -u 65534 -g 65534 create n4/n5 0644
		expect 0 chmod n4 0555
		expect EACCES -u 65534 -g 65534 unlink n4/n5
		expect 0 chmod n4 0655
		expect EACCES -u 65534 -g 65534 unlink n4/n5
		expect 0 chmod n4 0755
		expect 0 -u 65534 -g 65534 unlink n4/n5
	`},
	{Name: "02 sticky directories", Steps: `
		expect 0 mkdir n0 0755
		expect 0 chmod n0 01777
		expect 0 chown n0 65532 65532
		expect 0 -u 65534 -g 65534 create n0/n1 0644
		expect EPERM -u 65533 -g 65533 unlink n0/n1
		expect EPERM -u 65533 -g 65534 unlink n0/n1
		expect 0 -u 65534 -g 65534 unlink n0/n1
		expect 0 -u 65534 -g 65534 create n0/n1 0666
		expect 0 -u 65532 -g 65532 unlink n0/n1
		expect 0 -u 65534 -g 65534 create n0/n1 0644
		expect 0 unlink n0/n1
		expect 0 -u 65534 -g 65534 mkfifo n0/n2 0644
		expect EPERM -u 65533 -g 65533 unlink n0/n2
		expect 0 -u 65534 -g 65534 symlink n9 n0/n3
		expect EPERM -u 65533 -g 65533 unlink n0/n3
		expect 0 -u 65534 -g 65534 unlink n0/n3
		expect 0 -u 65534 -g 65534 mkdir n0/n4 0777
		expect EPERM -u 65533 -g 65533 rmdir n0/n4
		expect 0 -u 65534 -g 65534 rmdir n0/n4
		expect 0 chmod n0 0777
		expect 0 -u 65533 -g 65533 unlink n0/n2
	`},
}}

var symlinkGroup = Group{Name: "symlink", Scripts: []Script{
	{Name: "00 attributes and targets", Steps: `
		expect 0 create n0 0644
		expect 0 symlink n0 n1
		expect symlink,0777,2,1 lstat n1 type,mode,size,nlink
		expect regular lstat n0 type
		expect n0 readlink n1
		expect 0 mkdir n2 0777
		expect 0 -u 65534 -g 65534 symlink /a/b/c n2/n3
		expect symlink,65534,65534,6 lstat n2/n3 type,uid,gid,size
		expect /a/b/c readlink n2/n3
		save c1 stat n2 ctime
		save m1 stat n2 mtime
		expect 0 symlink ../x n2/n4
		save c2 stat n2 ctime
		save m2 stat n2 mtime
		check ${c1} < ${c2}
		check ${m1} < ${m2}
		save a lstat n2/n4 atime
		save m lstat n2/n4 mtime
		check ${a} == ${m}
		expect 0 symlink ${target4095} n5
		expect ${target4095} readlink n5
		expect 4095 lstat n5 size
		expect ENAMETOOLONG symlink ${target4096} n6
		expect ENOENT symlink (empty) n6
		expect ENOENT lstat n6 type
		expect EINVAL readlink n0
		expect EINVAL readlink n2
		expect ENOENT readlink n7
	`},
	{Name: "01 errors", Steps: `
		expect 0 create n0 0644
		expect 0 mkdir n1 0755
		expect 0 symlink n9 n2
		expect EEXIST symlink x n0
		expect EEXIST symlink x n1
		expect EEXIST symlink x n2
		expect ENOTDIR symlink x n0/n3
		expect ENOENT symlink x n3/n4
		expect 0 symlink x ${name255}
		expect ENAMETOOLONG symlink x ${name256}
		expect 0 mkdirall ${path4095dir}
		expect 0 symlink x ${path4095}
		expect ENAMETOOLONG symlink x ${path4096}
		expect 0 symlink n5 n6
		expect 0 symlink n6 n5
		expect ELOOP symlink x n5/n7
		expect ELOOP stat n5 type
		expect 0 chown n1 65534 65534
		expect 0 chmod n1 0555
		expect EACCES -u 65534 -g 65534 symlink x n1/n8
		expect 0 chmod n1 0644
		expect EACCES -u 65534 -g 65534 symlink x n1/n8
		expect 0 chmod n1 0755
		expect 0 -u 65534 -g 65534 symlink x n1/n8
	`},
}}

var accessGroup = Group{Name: "access", Scripts: []Script{
	{Name: "00 modes, users, groups and ACLs", Steps: `
		expect 0 create n0 0640
		expect 0 chown n0 65534 65533
		expect 0 -u 65534 -g 65534 access n0 R_OK,W_OK
		expect EACCES -u 65534 -g 65534 access n0 X_OK
		expect 0 -u 65533 -g 65533 access n0 R_OK
		expect EACCES -u 65533 -g 65533 access n0 W_OK
		expect 0 -u 65532 -g 65532,65533 access n0 R_OK
		expect EACCES -u 65532 -g 65532 access n0 R_OK
		expect 0 -u 65532 -g 65532 access n0 F_OK
		expect 0 access n0 R_OK,W_OK
		expect EACCES access n0 X_OK
		expect 0 chmod n0 0641
		expect 0 access n0 X_OK
		expect 0 -u 65532 -g 65532 access n0 X_OK
		expect 0 setfacl n0 access u::rw-,u:65532:rw-,g::r--,m::rw-,o::--x
		expect 0 -u 65532 -g 65532 access n0 R_OK,W_OK
		expect ENOENT access n1 F_OK
		expect 0 mkdir n2 0700
		expect 0 create n2/n3 0644
		expect EACCES -u 65534 -g 65534 access n2/n3 F_OK
		expect 0 access n2/n3 R_OK
		expect 0 faccessat AT_FDCWD n2/n3 R_OK AT_EACCESS
		expect 0 symlink n0 n4
		expect 0 -u 65532 -g 65532 access n4 W_OK
		expect ENOTDIR access n0/n5 F_OK
	`},
}}
