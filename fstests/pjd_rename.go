package fstests

// The rename group: rename(2) in all its cases and renameat2's flags.

var renameGroup = Group{Name: "rename", Scripts: []Script{
	{Name: "00 each file type keeps its inode", Steps: `
		expect 0 create n0 0644
		save i0 stat n0 inode
		expect 0 rename n0 n1
		expect ENOENT lstat n0 type
		expect regular,0644,1,${i0} lstat n1 type,mode,nlink,inode
		expect 0 link n1 n0
		expect 0 rename n1 n2
		expect regular,2,${i0} lstat n2 type,nlink,inode
		expect ${i0} lstat n0 inode
		expect 0 mkdir n3 0755
		save i3 stat n3 inode
		expect 0 rename n3 n4
		expect dir,0755,2,${i3} lstat n4 type,mode,nlink,inode
		expect 0 mkfifo n5 0644
		save i5 stat n5 inode
		expect 0 rename n5 n6
		expect fifo,${i5} lstat n6 type,inode
		expect 0 mknod n7 c 0644 1 3
		expect 0 rename n7 n8
		expect char,1,3 lstat n8 type,major,minor
		expect 0 bind n9
		expect 0 rename n9 n10
		expect socket lstat n10 type
		expect 0 symlink n2 n11
		save i11 lstat n11 inode
		expect 0 rename n11 n12
		expect symlink,${i11} lstat n12 type,inode
		expect n2 readlink n12
		expect regular stat n12 type
	`},
	{Name: "01 times", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n1 0755
		expect 0 create n0/n2 0644
		save c1 stat n0/n2 ctime
		save m1 stat n0/n2 mtime
		save d0c stat n0 ctime
		save d0m stat n0 mtime
		save d1c stat n1 ctime
		save d1m stat n1 mtime
		expect 0 rename n0/n2 n1/n3
		save c2 stat n1/n3 ctime
		check ${c1} < ${c2}
		expect ${m1} stat n1/n3 mtime
		save d0c2 stat n0 ctime
		save d0m2 stat n0 mtime
		save d1c2 stat n1 ctime
		save d1m2 stat n1 mtime
		check ${d0c} < ${d0c2}
		check ${d0m} < ${d0m2}
		check ${d1c} < ${d1c2}
		check ${d1m} < ${d1m2}
		expect 0 mkdir n0/n4 0755
		save c1 stat n0/n4 ctime
		save m1 stat n0/n4 mtime
		expect 0 rename n0/n4 n1/n4
		save c2 stat n1/n4 ctime
		check ${c1} < ${c2}
		save m2 stat n1/n4 mtime
		check ${m1} == ${m2}
		expect 0 create n1/n4/n9 0644
		save m3 stat n1/n4 mtime
		save c3 stat n1/n4/n9 ctime
		expect 0 rename n1/n4/n9 n1/n4/n10
		save m4 stat n1/n4 mtime
		check ${m3} < ${m4}
		save c4 stat n1/n4/n10 ctime
		check ${c3} < ${c4}
		expect 0 create n5 0644
		expect 0 create n6 0644
		expect 0 link n6 n7
		save c1 stat n7 ctime
		expect 0 rename n5 n6
		save c2 stat n7 ctime
		check ${c1} < ${c2}
		expect 1 stat n7 nlink
	`},
	{Name: "02 replacing files and directories", Steps: `
		expect 0 create n0 0644
		expect 0 create n1 0600
		save i0 stat n0 inode
		expect 0 rename n0 n1
		expect ENOENT lstat n0 type
		expect 0644,${i0} stat n1 mode,inode
		expect 0 mkdir n2 0755
		expect 0 mkdir n3 0700
		save i2 stat n2 inode
		expect 4 stat . nlink
		expect 0 rename n2 n3
		expect 3 stat . nlink
		expect 0755,${i2},2 stat n3 mode,inode,nlink
		expect 0 create n4 0644
		expect EISDIR rename n4 n3
		expect ENOTDIR rename n3 n4
		expect 0 mkdir n5 0755
		expect 0 create n5/n6 0644
		expect ENOTEMPTY rename n3 n5
		expect 0 symlink n4 n7
		expect 0 rename n7 n4
		expect symlink lstat n4 type
		expect 0 create n8 0644
		expect 0 symlink n9 n10
		expect 0 rename n8 n10
		expect regular lstat n10 type
		expect 0 mkfifo n11 0644
		expect 0 rename n11 n10
		expect fifo lstat n10 type
		expect 0 symlink n3 n12
		expect ENOTDIR rename n5 n12
		expect EISDIR rename n12 n5
		expect 0 rename n12 n10
		expect symlink lstat n10 type
	`},
	{Name: "03 directories move with their dot-dot", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n1 0755
		expect 0 mkdir n0/n2 0755
		expect 0 create n0/n2/n3 0644
		save i1 stat n1 inode
		save i0 stat n0 inode
		expect ${i0} stat n0/n2/.. inode
		expect 3 stat n0 nlink
		expect 2 stat n1 nlink
		expect 0 rename n0/n2 n1/n2
		expect 2 stat n0 nlink
		expect 3 stat n1 nlink
		expect ${i1} stat n1/n2/.. inode
		expect regular stat n1/n2/n3 type
		expect 0 mkdir n0/n4 0755
		expect 0 rename n1/n2 n0/n4
		expect 3 stat n0 nlink
		expect 2 stat n1 nlink
		expect ${i0} stat n0/n4/.. inode
		expect regular stat n0/n4/n3 type
		expect 0 rename n0/n4 n0/n5
		expect 3 stat n0 nlink
		expect ${i0} stat n0/n5/.. inode
	`},
	{Name: "04 EINVAL, same inode, ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n0/n1 0755
		expect EINVAL rename n0 n0/n1/n2
		expect EINVAL rename n0 n0/n2
		expect ENOTEMPTY rename n0/n1 n0
		expect EBUSY rename n0/n1/. n2
		expect EBUSY rename n0/n1 n0/n1/.
		expect EBUSY rename n0/n1/.. n2
		expect 0 rename n0 n0
		expect dir stat n0 type
		expect 0 create n2 0644
		expect 0 link n2 n3
		save c1 stat n2 ctime
		expect 0 rename n2 n3
		expect 2 stat n2 nlink
		expect 2 stat n3 nlink
		expect ${c1} stat n2 ctime
		expect ENOENT rename n4 n5
		expect ENOENT rename n2 n4/n5
		expect ENOTDIR rename n2/n4 n5
		expect ENOTDIR rename n0 n2/n4
		expect 0 rename n2 ${name255}
		expect ENAMETOOLONG rename ${name255} ${name256}
		expect ENAMETOOLONG rename ${name256} n2
		expect 0 mkdirall ${path4095dir}
		expect 0 rename ${name255} ${path4095}
		expect ENAMETOOLONG rename ${path4095} ${path4096}
		expect ENAMETOOLONG rename ${path4096} n2
		expect 0 symlink n6 n7
		expect 0 symlink n7 n6
		expect ELOOP rename n6/n0 n8
		expect ELOOP rename n3 n6/n8
		expect 0 rename n6 n8
		expect symlink lstat n8 type
	`},
	{Name: "05 EACCES and sticky directories", Steps: `
		expect 0 mkdir n0 0755
		expect 0 mkdir n1 0755
		expect 0 chown n0 65534 65534
		expect 0 chown n1 65534 65534
		expect 0 -u 65534 -g 65534 create n0/n2 0644
		expect 0 -u 65534 -g 65534 rename n0/n2 n1/n3
		expect 0 chmod n1 0555
		expect EACCES -u 65534 -g 65534 rename n1/n3 n0/n2
		expect EACCES -u 65534 -g 65534 rename n1/n3 n1/n4
		expect 0 chmod n1 0755
		expect 0 chmod n0 0555
		expect EACCES -u 65534 -g 65534 rename n1/n3 n0/n2
		expect 0 chmod n0 0644
		expect EACCES -u 65534 -g 65534 rename n1/n3 n0/n2
		expect 0 chmod n0 0755
		expect 0 -u 65534 -g 65534 rename n1/n3 n0/n2
		expect 0 -u 65534 -g 65534 mkdir n0/n5 0755
		expect 0 chmod n0/n5 0555
		expect EACCES -u 65534 -g 65534 rename n0/n5 n1/n5
		expect 0 -u 65534 -g 65534 rename n0/n5 n0/n6
		expect 0 chmod n0/n6 0755
		expect 0 -u 65534 -g 65534 rename n0/n6 n1/n5
		expect 0 mkdir n7 0777
		expect 0 chmod n7 01777
		expect 0 -u 65534 -g 65534 create n7/n8 0666
		expect 0 -u 65533 -g 65533 create n7/n9 0666
		expect EPERM -u 65533 -g 65533 rename n7/n8 n7/n10
		expect EPERM -u 65533 -g 65533 rename n7/n9 n7/n8
		expect EPERM -u 65534 -g 65534 rename n7/n8 n7/n9
		expect 0 -u 65534 -g 65534 rename n7/n8 n7/n10
		expect 0 rename n7/n10 n7/n9
		expect 0 -u 65534 -g 65534 create n7/n8 0666
		expect 0 chown n7 65533 65533
		expect 0 -u 65533 -g 65533 rename n7/n8 n7/n11
	`},
	{Name: "06 renameat2 NOREPLACE, EXCHANGE and WHITEOUT", Steps: `
		expect 0 create n0 0644
		expect 0 mkdir n1 0755
		save i0 stat n0 inode
		save i1 stat n1 inode
		expect EEXIST renameat2 AT_FDCWD n0 AT_FDCWD n1 RENAME_NOREPLACE
		expect 0 renameat2 AT_FDCWD n0 AT_FDCWD n2 RENAME_NOREPLACE
		expect ${i0} stat n2 inode
		expect 0 renameat2 AT_FDCWD n2 AT_FDCWD n1 RENAME_EXCHANGE
		expect regular,${i0} stat n1 type,inode
		expect dir,${i1} stat n2 type,inode
		expect ENOENT renameat2 AT_FDCWD n1 AT_FDCWD n3 RENAME_EXCHANGE
		expect EINVAL renameat2 AT_FDCWD n1 AT_FDCWD n2 RENAME_EXCHANGE,RENAME_NOREPLACE
		expect 0 mkdir n4 0755
		expect 2 stat n4 nlink
		expect 0 mkdir n4/n5 0755
		expect 4 stat . nlink
		expect 3 stat n4 nlink
		expect 0 renameat2 AT_FDCWD n1 AT_FDCWD n4/n5 RENAME_EXCHANGE
		expect 5 stat . nlink
		expect 2 stat n4 nlink
		expect ${i0} stat n4/n5 inode
		expect dir stat n1 type
		save ip stat . inode
		expect ${ip} stat n1/.. inode
		expect 0 mkdir n2/n6 0755
		expect EINVAL renameat2 AT_FDCWD n2 AT_FDCWD n2/n6 RENAME_EXCHANGE
		expect 0 renameat2 AT_FDCWD n1 AT_FDCWD n1 RENAME_EXCHANGE
		expect 0 renameat2 AT_FDCWD n4/n5 AT_FDCWD n7 RENAME_WHITEOUT
		expect char,0,0,0 lstat n4/n5 type,mode,major,minor
		expect regular stat n7 type
	`},
}}
