package fstests

// The xattr and lseek groups: extended attributes in every namespace a
// user can reach, and SEEK_DATA / SEEK_HOLE.

var xattrGroup = Group{Name: "xattr", Scripts: []Script{
	{Name: "00 user namespace", Steps: `
		expect 0 create n0 0644
		expect ENODATA getxattr n0 user.a
		expect (empty) listxattr n0
		expect 0 setxattr n0 user.a hello 0
		expect hello getxattr n0 user.a
		expect 5 xattrsize n0 user.a
		expect ERANGE getxattrn n0 user.a 2
		expect 5 getxattrn n0 user.a 5
		expect 0 setxattr n0 user.b (empty) 0
		expect (empty) getxattr n0 user.b
		expect user.a,user.b listxattr n0
		expect ERANGE listxattrn n0 3
		expect 14 listxattrn n0 14
		expect EEXIST setxattr n0 user.a x XATTR_CREATE
		expect hello getxattr n0 user.a
		expect 0 setxattr n0 user.a world XATTR_REPLACE
		expect world getxattr n0 user.a
		expect ENODATA setxattr n0 user.c x XATTR_REPLACE
		expect 0 setxattr n0 user.c x XATTR_CREATE
		expect 0 removexattr n0 user.c
		expect ENODATA removexattr n0 user.c
		expect ENODATA getxattr n0 user.c
		expect user.a,user.b listxattr n0
		save c1 stat n0 ctime
		expect 0 setxattr n0 user.d v 0
		save c2 stat n0 ctime
		check ${c1} < ${c2}
		expect 0 removexattr n0 user.d
		save c3 stat n0 ctime
		check ${c2} < ${c3}
		save m stat n0 mtime
		check ${m} < ${c3}
		expect 0 mkdir n1 0755
		expect 0 setxattr n1 user.dir v 0
		expect v getxattr n1 user.dir
		expect user.dir listxattr n1
		expect 0 link n0 n2
		expect world getxattr n2 user.a
		expect 0 rename n2 n3
		expect user.a,user.b listxattr n3
		expect fd open n0 O_RDONLY : fsetxattr 0 user.f fd 0 : fgetxattr 0 user.f
		expect fd getxattr n0 user.f
		expect 0 setxattr n0 user.big ${name255} 0
		expect ${name255} getxattr n0 user.big
		expect 0 setxattr n0 ${xattr255} x 0
		expect x getxattr n0 ${xattr255}
		expect ERANGE setxattr n0 ${xattr256} x 0
		expect ERANGE getxattr n0 ${xattr256}
		expect ENOTSUP setxattr n0 other.a x 0
		expect ENOTSUP getxattr n0 other.a
		expect ENOTSUP setxattr n0 usera x 0
	`},
	{Name: "01 user attributes need a file or directory", Steps: `
		expect 0 create n0 0644
		expect 0 symlink n0 n1
		expect EPERM lsetxattr n1 user.a x 0
		expect ENODATA lgetxattr n1 user.a
		expect 0 setxattr n1 user.a x 0
		expect x getxattr n0 user.a
		expect 0 mkfifo n2 0644
		expect EPERM setxattr n2 user.a x 0
		expect ENODATA getxattr n2 user.a
		expect 0 mknod n3 c 0644 1 3
		expect EPERM setxattr n3 user.a x 0
	`},
	{Name: "02 permissions", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 setxattr n0 user.a v 0
		expect EACCES -u 65533 -g 65533 setxattr n0 user.a w 0
		expect EACCES -u 65533 -g 65533 removexattr n0 user.a
		expect v -u 65533 -g 65533 getxattr n0 user.a
		expect user.a -u 65533 -g 65533 listxattr n0
		expect 0 chmod n0 0640
		expect EACCES -u 65533 -g 65533 getxattr n0 user.a
		expect user.a -u 65533 -g 65533 listxattr n0
		expect 0 chmod n0 0666
		expect 0 -u 65533 -g 65533 setxattr n0 user.a w 0
		expect w getxattr n0 user.a
		expect 0 mkdir n1 0777
		expect 0 chmod n1 01777
		expect EPERM -u 65533 -g 65533 setxattr n1 user.a x 0
		expect 0 chown n1 65533 65533
		expect 0 -u 65533 -g 65533 setxattr n1 user.a x 0
	`},
	{Name: "03 trusted and security namespaces", Steps: `
		expect 0 create n0 0666
		expect 0 setxattr n0 trusted.t tv 0
		expect tv getxattr n0 trusted.t
		expect 0 setxattr n0 security.s sv 0
		expect sv getxattr n0 security.s
		expect 0 setxattr n0 user.u uv 0
		expect security.s,trusted.t,user.u listxattr n0
		expect EPERM -u 65534 -g 65534 setxattr n0 trusted.t x 0
		expect ENODATA -u 65534 -g 65534 getxattr n0 trusted.t
		expect EPERM -u 65534 -g 65534 removexattr n0 trusted.t
		expect security.s,user.u -u 65534 -g 65534 listxattr n0
		expect sv -u 65534 -g 65534 getxattr n0 security.s
		expect EPERM -u 65534 -g 65534 setxattr n0 security.s x 0
		expect 0 removexattr n0 trusted.t
		expect 0 removexattr n0 security.s
		expect user.u listxattr n0
		expect 0 symlink n0 n1
		expect 0 lsetxattr n1 trusted.l x 0
		expect x lgetxattr n1 trusted.l
		expect trusted.l llistxattr n1
		expect ENODATA getxattr n1 trusted.l
	`},
	{Name: "04 POSIX ACL attributes are validated", Steps: `
		expect 0 create n0 0644
		expect ENOTSUP setxattr n0 system.posix_acl_access garbage 0
		expect ENODATA getxattr n0 system.posix_acl_access
	`},
}}

var lseekGroup = Group{Name: "lseek", Scripts: []Script{
	{Name: "00 SEEK_DATA and SEEK_HOLE", Steps: `
		expect 1048576 open n0 O_CREAT,O_RDWR 0644 : pwrite 0 x 1048576 : lseek 0 0 SEEK_DATA
		expect 1048577 stat n0 size
		expect 0 open n0 O_RDONLY : lseek 0 0 SEEK_HOLE
		expect 1048577 open n0 O_RDONLY : lseek 0 1048576 SEEK_HOLE
		expect ENXIO open n0 O_RDONLY : lseek 0 1048577 SEEK_DATA
		expect ENXIO open n0 O_RDONLY : lseek 0 1048577 SEEK_HOLE
		expect 1048576 open n0 O_RDONLY : lseek 0 1048576 SEEK_DATA
		expect 0 truncate n0 3145728
		expect 1052672 open n0 O_RDONLY : lseek 0 1048577 SEEK_HOLE
		expect ENXIO open n0 O_RDONLY : lseek 0 2097152 SEEK_DATA
		expect 0 create n1 0644
		expect ENXIO open n1 O_RDONLY : lseek 0 0 SEEK_DATA
		expect ENXIO open n1 O_RDONLY : lseek 0 0 SEEK_HOLE
		expect 3 open n2 O_CREAT,O_RDWR 0644 : write 0 abc : lseek 0 0 SEEK_HOLE
		expect 0 open n2 O_RDONLY : lseek 0 0 SEEK_DATA
		expect EINVAL open n2 O_RDONLY : lseek 0 -1 SEEK_SET
		expect 13 open n2 O_RDONLY : lseek 0 10 SEEK_END
	`},
}}
