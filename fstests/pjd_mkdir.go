package fstests

// The mkdir, rmdir, mkfifo and mknod groups.

var mkdirGroup = Group{Name: "mkdir", Scripts: []Script{
	{Name: "00 mode, owner, counts and times", Steps: `
		expect 0 mkdir n0 0755
		expect dir,0755,2,0,0 lstat n0 type,mode,nlink,uid,gid
		expect 3 stat . nlink
		expect 0 rmdir n0
		expect 2 stat . nlink
		expect 0 -U 022 mkdir n0 0777
		expect 0755 stat n0 mode
		expect 0 rmdir n0
		expect 0 -U 077 mkdir n0 0777
		expect 0700 stat n0 mode
		expect 0 rmdir n0
		expect 0 mkdir n0 01777
		expect 01777 stat n0 mode
		expect 0 rmdir n0
		expect 0 mkdir n0 07777
		expect 01777 stat n0 mode
		expect 0 rmdir n0
		expect 0 mkdir n0 0777
		expect 0 -u 65534 -g 65534 mkdir n0/n1 0755
		expect 65534,65534 stat n0/n1 uid,gid
		expect 0 -u 65534 -g 65533,65534 mkdir n0/n2 0755
		expect 65534,65533 stat n0/n2 uid,gid
		expect 4 stat n0 nlink
		save c1 stat n0 ctime
		save m1 stat n0 mtime
		expect 0 mkdir n0/n3 0755
		save c2 stat n0 ctime
		save m2 stat n0 mtime
		check ${c1} < ${c2}
		check ${m1} < ${m2}
		save a stat n0/n3 atime
		save m stat n0/n3 mtime
		save c stat n0/n3 ctime
		check ${a} == ${m}
		check ${m} == ${c}
		expect 0 mkdir n0/n3/n4 0755
		expect 3 stat n0/n3 nlink
		expect 5 stat n0 nlink
	`},
	{Name: "01 set-group-ID directories", Steps: `
		expect 0 mkdir n0 0777
		expect 0 chown n0 65534 65533
		expect 0 chmod n0 02777
		expect 0 -u 65534 -g 65534 mkdir n0/n1 0755
		expect 02755,65534,65533 stat n0/n1 mode,uid,gid
		expect 0 -u 65534 -g 65534 create n0/n2 0644
		expect 0644,65534,65533 stat n0/n2 mode,uid,gid
		expect 0 -u 65534 -g 65534 mkfifo n0/n3 0644
		expect 65533 stat n0/n3 gid
		expect 0 -u 65534 -g 65534 symlink x n0/n4
		expect 65533 lstat n0/n4 gid
		expect 0 -u 65534 -g 65534 create n0/n5 02755
		expect 0755,65533 stat n0/n5 mode,gid
		expect 0 -u 65534 -g 65534,65533 create n0/n6 02755
		expect 02755,65533 stat n0/n6 mode,gid
		expect 0 -u 65534 -g 65534 create n0/n7 02745
		expect 02745,65533 stat n0/n7 mode,gid
		expect 0 -u 65534 -g 65534 mkdir n0/n1/n8 0700
		expect 02700,65533 stat n0/n1/n8 mode,gid
		expect 0 create n0/n9 02755
		expect 02755,0,65533 stat n0/n9 mode,uid,gid
	`},
	{Name: "02 errors", Steps: `
		expect 0 create n0 0644
		expect 0 mkdir n1 0755
		expect 0 symlink n9 n2
		expect EEXIST mkdir n0 0755
		expect EEXIST mkdir n1 0755
		expect EEXIST mkdir n2 0755
		expect ENOENT stat n9 type
		expect ENOTDIR mkdir n0/n3 0755
		expect ENOENT mkdir n3/n4 0755
		expect 0 mkdir ${name255} 0755
		expect ENAMETOOLONG mkdir ${name256} 0755
		expect 0 mkdirall ${path4095dir}
		expect 0 mkdir ${path4095} 0755
		expect ENAMETOOLONG mkdir ${path4096} 0755
		expect 0 symlink n5 n6
		expect 0 symlink n6 n5
		expect ELOOP mkdir n5/n7 0755
		expect 0 chown n1 65534 65534
		expect 0 chmod n1 0555
		expect EACCES -u 65534 -g 65534 mkdir n1/n8 0755
		expect 0 chmod n1 0644
		expect EACCES -u 65534 -g 65534 mkdir n1/n8 0755
		expect 0 chmod n1 0755
		expect 0 -u 65534 -g 65534 mkdir n1/n8 0755
		expect 0 mkdirat AT_FDCWD n1/n9 0700
		expect dir,0700 stat n1/n9 type,mode
	`},
}}

var rmdirGroup = Group{Name: "rmdir", Scripts: []Script{
	{Name: "00 counts and times", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n0/n1 0755
		expect 3 stat n0 nlink
		save c1 stat n0 ctime
		save m1 stat n0 mtime
		expect 0 rmdir n0/n1
		expect 2 stat n0 nlink
		save c2 stat n0 ctime
		save m2 stat n0 mtime
		check ${c1} < ${c2}
		check ${m1} < ${m2}
		expect ENOENT stat n0/n1 type
		expect 0 rmdir n0
		expect 2 stat . nlink
		expect 0 open . O_RDONLY : mkdir n2 0755 : openat 0 n2 O_RDONLY : rmdir n2 : fstat 1 nlink
		expect ENOENT open . O_RDONLY : mkdir n3 0755 : openat 0 n3 O_RDONLY : rmdir n3 : openat 1 n4 O_CREAT,O_WRONLY 0644
	`},
	{Name: "01 errors", Steps: `
		expect 0 mkdir n0 0755
		expect 0 create n0/n1 0644
		expect ENOTEMPTY rmdir n0
		expect 0 unlink n0/n1
		expect 0 mkdir n0/n1 0755
		expect ENOTEMPTY rmdir n0
		expect 0 rmdir n0/n1
		expect 0 symlink x n0/n1
		expect ENOTEMPTY rmdir n0
		expect 0 unlink n0/n1
		expect 0 create n2 0644
		expect ENOTDIR rmdir n2
		expect ENOTDIR rmdir n2/n3
		expect 0 symlink n0 n4
		expect ENOTDIR rmdir n4
		expect EINVAL rmdir n0/.
		expect ENOTEMPTY rmdir n0/..
		expect ENOENT rmdir n5
		expect ENOENT rmdir n5/n6
		expect 0 mkdir ${name255} 0755
		expect 0 rmdir ${name255}
		expect ENAMETOOLONG rmdir ${name256}
		expect 0 mkdirall ${path4095}
		expect 0 rmdir ${path4095}
		expect ENAMETOOLONG rmdir ${path4096}
		expect 0 symlink n7 n8
		expect 0 symlink n8 n7
		expect ELOOP rmdir n7/n0
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 mkdir n0/n9 0755
		expect 0 chmod n0 0555
		expect EACCES -u 65534 -g 65534 rmdir n0/n9
		expect 0 chmod n0 0644
		expect EACCES -u 65534 -g 65534 rmdir n0/n9
		expect 0 chmod n0 0755
		expect 0 -u 65534 -g 65534 rmdir n0/n9
	`},
}}

var mkfifoGroup = Group{Name: "mkfifo", Scripts: []Script{
	{Name: "00 mode, owner and times", Steps: `
		expect 0 mkfifo n0 0755
		expect fifo,0755,1,0,0 lstat n0 type,mode,nlink,uid,gid
		expect 0 unlink n0
		expect 0 -U 077 mkfifo n0 0777
		expect 0700 stat n0 mode
		expect 0 unlink n0
		expect 0 mkdir n1 0777
		expect 0 -u 65534 -g 65534 mkfifo n1/n2 0644
		expect fifo,65534,65534 stat n1/n2 type,uid,gid
		save c1 stat n1 ctime
		save m1 stat n1 mtime
		expect 0 mkfifo n1/n3 0600
		save c2 stat n1 ctime
		save m2 stat n1 mtime
		check ${c1} < ${c2}
		check ${m1} < ${m2}
		expect 0 mknod n4 f 0640 0 0
		expect fifo,0640 stat n4 type,mode
	`},
	{Name: "01 errors", Steps: `
		expect 0 create n0 0644
		expect EEXIST mkfifo n0 0644
		expect ENOTDIR mkfifo n0/n1 0644
		expect ENOENT mkfifo n1/n2 0644
		expect 0 mkfifo ${name255} 0644
		expect ENAMETOOLONG mkfifo ${name256} 0644
		expect 0 mkdirall ${path4095dir}
		expect 0 mkfifo ${path4095} 0644
		expect ENAMETOOLONG mkfifo ${path4096} 0644
		expect 0 symlink n3 n4
		expect 0 symlink n4 n3
		expect ELOOP mkfifo n3/n5 0644
		expect EEXIST mkfifo n3 0644
		expect 0 mkdir n6 0755
		expect 0 chown n6 65534 65534
		expect 0 chmod n6 0555
		expect EACCES -u 65534 -g 65534 mkfifo n6/n7 0644
		expect 0 chmod n6 0755
		expect 0 -u 65534 -g 65534 mkfifo n6/n7 0644
	`},
}}

var mknodGroup = Group{Name: "mknod", Scripts: []Script{
	{Name: "00 devices, fifos, sockets and files", Steps: `
		expect 0 mknod n0 c 0755 1 3
		expect char,0755,1,3,1,0,0 lstat n0 type,mode,major,minor,nlink,uid,gid
		expect 0 mknod n1 b 0640 8 17
		expect block,0640,8,17 lstat n1 type,mode,major,minor
		expect 0 mknod n2 c 0600 4095 1048575
		expect char,4095,1048575 lstat n2 type,major,minor
		expect 0 mknod n3 f 0644 0 0
		expect fifo,0644 lstat n3 type,mode
		expect 0 mknod n4 s 0644 0 0
		expect socket,0644 lstat n4 type,mode
		expect 0 mknod n5 r 0600 0 0
		expect regular,0600,0 lstat n5 type,mode,size
		expect 0 -U 077 mknod n6 c 0777 1 5
		expect 0700 lstat n6 mode
		expect 0 mkdir n7 0777
		expect EPERM -u 65534 -g 65534 mknod n7/n8 c 0644 1 3
		expect EPERM -u 65534 -g 65534 mknod n7/n8 b 0644 8 0
		expect 0 -u 65534 -g 65534 mknod n7/n8 f 0644 0 0
		expect fifo,65534,65534 lstat n7/n8 type,uid,gid
		expect 0 -u 65534 -g 65534 mknod n7/n9 s 0644 0 0
		expect socket lstat n7/n9 type
		save c1 stat n7 ctime
		expect 0 mknod n7/n10 c 0644 1 3
		save c2 stat n7 ctime
		check ${c1} < ${c2}
		expect 0 mknodat AT_FDCWD n7/n11 b 0644 8 1
		expect block,8,1 lstat n7/n11 type,major,minor
	`},
	{Name: "01 errors", Steps: `
		expect 0 create n0 0644
		expect EEXIST mknod n0 c 0644 1 3
		expect EEXIST mknod n0 f 0644 0 0
		expect ENOTDIR mknod n0/n1 f 0644 0 0
		expect ENOENT mknod n1/n2 c 0644 1 3
		expect ENAMETOOLONG mknod ${name256} f 0644 0 0
		expect 0 mkdirall ${path4095dir}
		expect 0 mknod ${path4095} c 0644 1 3
		expect ENAMETOOLONG mknod ${path4096} c 0644 1 3
		expect 0 mkdir n3 0755
		expect 0 chown n3 65534 65534
		expect 0 chmod n3 0555
		expect EACCES -u 65534 -g 65534 mknod n3/n4 f 0644 0 0
	`},
}}
