package fstests

// The chmod and chown groups: who may change mode and owner, what the
// set-ID bits do, and which times move.

var chmodGroup = Group{Name: "chmod", Scripts: []Script{
	{Name: "00 mode of each file type", Steps: `
		expect 0 create n0 0644
		expect 0644 stat n0 mode
		expect 0 chmod n0 0111
		expect 0111 stat n0 mode
		expect 0 unlink n0
		expect 0 mkdir n0 0755
		expect 0 chmod n0 0753
		expect dir,0753 stat n0 type,mode
		expect 0 rmdir n0
		expect 0 mkfifo n0 0644
		expect 0 chmod n0 0310
		expect fifo,0310 stat n0 type,mode
		expect 0 unlink n0
		expect 0 bind n0
		expect 0 chmod n0 0410
		expect socket,0410 stat n0 type,mode
		expect 0 unlink n0
		expect 0 mknod n0 c 0644 1 3
		expect 0 chmod n0 0411
		expect char,0411 stat n0 type,mode
		expect 0 unlink n0
		expect 0 create n1 0644
		expect 0 symlink n1 n0
		expect 0 chmod n0 0321
		expect 0321 stat n0 mode
		expect 0321 lstat n1 mode
		expect symlink,0777 lstat n0 type,mode
		expect 0 open n1 O_RDONLY : fchmod 0 0640
		expect 0640 stat n1 mode
		expect 0 fchmodat AT_FDCWD n0 0600 0
		expect 0600 lstat n1 mode
		expect 0 chmod n1 07777
		expect 07777 stat n1 mode
		expect 0 chmod n1 0
		expect 0 stat n1 mode
	`},
	{Name: "01 ctime and who may chmod", Steps: `
		expect 0 create n0 0644
		save c1 stat n0 ctime
		expect 0 chmod n0 0111
		save c2 stat n0 ctime
		check ${c1} < ${c2}
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 chmod n0 0642
		expect 0642 stat n0 mode
		save c1 stat n0 ctime
		expect EPERM -u 65533 -g 65533 chmod n0 0641
		expect EPERM -u 65533 -g 65534 chmod n0 0641
		expect 0642 stat n0 mode
		save c2 stat n0 ctime
		check ${c1} == ${c2}
		expect EPERM -u 65533 -g 65533 open n0 O_WRONLY : fchmod 0 0641
		expect 0 -u 65534 -g 65534 open n0 O_RDONLY : fchmod 0 0641
		expect 0641 stat n0 mode
		expect 0 mkdir n1 0755
		expect 0 chown n1 65534 65534
		expect 0 -u 65534 -g 65534 chmod n1 0700
		expect EPERM -u 65533 -g 65533 chmod n1 0777
		expect dir,0700 stat n1 type,mode
	`},
	{Name: "02 set-group-ID and sticky bits", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65533
		expect 0 -u 65534 -g 65534 chmod n0 02755
		expect 0755 stat n0 mode
		expect 0 -u 65534 -g 65534,65533 chmod n0 02755
		expect 02755 stat n0 mode
		expect 0 -u 65534 -g 65534 chmod n0 01755
		expect 01755 stat n0 mode
		expect 0 -u 65534 -g 65534 chmod n0 04755
		expect 04755 stat n0 mode
		expect 0 mkdir n1 0755
		expect 0 chown n1 65534 65533
		expect 0 -u 65534 -g 65534 chmod n1 02755
		expect 0755 stat n1 mode
		expect 0 -u 65534 -g 65534 chmod n1 01777
		expect 01777 stat n1 mode
	`},
	{Name: "03 write and truncate clear set-ID bits", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect 0 chmod n0 04777
		expect 1 -u 65534 -g 65534 open n0 O_WRONLY : write 0 x
		expect 0777 stat n0 mode
		expect 0 chmod n0 02777
		expect 1 -u 65534 -g 65534 open n0 O_WRONLY : write 0 x
		expect 0777 stat n0 mode
		expect 0 chmod n0 06777
		expect 1 -u 65534 -g 65534 open n0 O_RDWR : pwrite 0 y 10
		expect 0777 stat n0 mode
		expect 0 chmod n0 02767
		expect 1 -u 65534 -g 65534 open n0 O_WRONLY : write 0 x
		expect 02767 stat n0 mode
		expect 0 chown n0 65534 65533
		expect 0 chmod n0 02767
		expect 1 -u 65534 -g 65534 open n0 O_WRONLY : write 0 x
		expect 0767 stat n0 mode
		expect 0 chown n0 65534 65534
		expect 0 chmod n0 06777
		expect 1 open n0 O_WRONLY : write 0 x
		expect 06777 stat n0 mode
		expect 0 -u 65534 -g 65534 truncate n0 3
		expect 0777 stat n0 mode
		expect 0 chmod n0 06777
		expect 0 -u 65534 -g 65534 open n0 O_RDWR : ftruncate 0 100
		expect 0777,100 stat n0 mode,size
		expect 0 chmod n0 06777
		expect 0 -u 65534 -g 65534 open n0 O_WRONLY,O_TRUNC
		expect 0777,0 stat n0 mode,size
		expect 0 chmod n0 06777
		expect 0 -u 65534 -g 65534 open n0 O_WRONLY : posix_fallocate 0 0 4096
		expect 0777,4096 stat n0 mode,size
	`},
	{Name: "04 errors", Steps: `
		expect 0 create n0 0644
		expect ENOTDIR chmod n0/n1 0644
		expect ENOENT chmod n1 0644
		expect ENOENT chmod n1/n2 0644
		expect ENAMETOOLONG chmod ${name256} 0644
		expect 0 create ${name255} 0644
		expect 0 chmod ${name255} 0620
		expect 0620 stat ${name255} mode
		expect 0 mkdirall ${path4095dir}
		expect 0 create ${path4095} 0644
		expect 0 chmod ${path4095} 0642
		expect 0642 stat ${path4095} mode
		expect ENAMETOOLONG chmod ${path4096} 0642
		expect 0 mkdir n1 0755
		expect 0 create n1/n2 0644
		expect 0 chown n1/n2 65534 65534
		expect 0 -u 65534 -g 65534 chmod n1/n2 0600
		expect 0 chmod n1 0644
		expect EACCES -u 65534 -g 65534 chmod n1/n2 0640
		expect 0 chmod n1 0755
		expect 0600 stat n1/n2 mode
		expect 0 symlink n2 n3
		expect 0 symlink n3 n2
		expect ELOOP chmod n2 0644
		expect ELOOP chmod n2/n0 0644
	`},
}}

var chownGroup = Group{Name: "chown", Scripts: []Script{
	{Name: "00 root changes owners", Steps: `
		expect 0 create n0 0644
		expect 0,0 stat n0 uid,gid
		expect 0 chown n0 123 456
		expect 123,456 stat n0 uid,gid
		expect 0 chown n0 -1 789
		expect 123,789 stat n0 uid,gid
		expect 0 chown n0 321 -1
		expect 321,789 stat n0 uid,gid
		expect 0 mkdir n1 0755
		expect 0 chown n1 123 456
		expect dir,123,456 stat n1 type,uid,gid
		expect 0 mkfifo n2 0644
		expect 0 chown n2 123 456
		expect fifo,123,456 stat n2 type,uid,gid
		expect 0 symlink n0 n3
		expect 0 chown n3 1 2
		expect 1,2 stat n0 uid,gid
		expect 0,0 lstat n3 uid,gid
		expect 0 lchown n3 3 4
		expect 3,4 lstat n3 uid,gid
		expect 1,2 stat n0 uid,gid
		expect 0 fchownat AT_FDCWD n3 5 6 AT_SYMLINK_NOFOLLOW
		expect 5,6 lstat n3 uid,gid
		expect 0 open n0 O_RDONLY : fchown 0 7 8
		expect 7,8 stat n0 uid,gid
	`},
	{Name: "01 who may chown", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect EPERM -u 65534 -g 65534 chown n0 65533 65534
		expect EPERM -u 65533 -g 65533 chown n0 65534 65533
		expect EPERM -u 65534 -g 65534 chown n0 65534 65533
		expect 0 -u 65534 -g 65534,65533 chown n0 65534 65533
		expect 65534,65533 stat n0 uid,gid
		expect 0 -u 65534 -g 65533,65532 chown n0 -1 65532
		expect 65534,65532 stat n0 uid,gid
		expect 0 -u 65534 -g 65534 chown n0 65534 -1
		expect 0 -u 65534 -g 65534 chown n0 -1 -1
		expect 65534,65532 stat n0 uid,gid
		expect EPERM -u 65533 -g 65532 chown n0 -1 65532
		expect 0 -u 65534 -g 65534,65533 open n0 O_RDONLY : fchown 0 -1 65533
		expect 65534,65533 stat n0 uid,gid
		expect 0 symlink n0 n1
		expect 0 lchown n1 65534 65534
		expect 0 -u 65534 -g 65534,65532 lchown n1 -1 65532
		expect 65534,65532 lstat n1 uid,gid
		expect 65534,65533 stat n0 uid,gid
	`},
	{Name: "02 ctime", Steps: `
		expect 0 create n0 0644
		save c1 stat n0 ctime
		expect 0 chown n0 65534 65534
		save c2 stat n0 ctime
		check ${c1} < ${c2}
		expect 0 -u 65534 -g 65534 chown n0 -1 -1
		save c3 stat n0 ctime
		check ${c2} < ${c3}
		expect EPERM -u 65533 -g 65533 chown n0 65533 65533
		save c4 stat n0 ctime
		check ${c3} == ${c4}
		expect 0 mkdir n1 0755
		save c1 stat n1 ctime
		expect 0 chown n1 65534 65534
		save c2 stat n1 ctime
		check ${c1} < ${c2}
		expect 0 symlink n0 n2
		save c1 lstat n2 ctime
		expect 0 lchown n2 65534 65534
		save c2 lstat n2 ctime
		check ${c1} < ${c2}
	`},
	{Name: "03 set-ID bits on chown", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect 0 chmod n0 06555
		expect 06555 stat n0 mode
		expect 0 -u 65534 -g 65534,65533 chown n0 65534 65533
		expect 0555,65534,65533 stat n0 mode,uid,gid
		expect 0 chmod n0 06555
		expect 0 -u 65534 -g 65534,65533 chown n0 -1 65534
		expect 0555,65534,65534 stat n0 mode,uid,gid
		expect 0 chmod n0 06555
		expect 0 chown n0 65533 65533
		expect 0555,65533,65533 stat n0 mode,uid,gid
		expect 0 chmod n0 06545
		expect 0 chown n0 65534 65534
		expect 02545 stat n0 mode
		expect 0 chmod n0 06555
		expect 0 chown n0 -1 -1
		expect 0555 stat n0 mode
		expect 0 mkdir n1 0755
		expect 0 chown n1 65534 65534
		expect 0 chmod n1 06755
		expect 0 -u 65534 -g 65534,65533 chown n1 65534 65533
		expect 06755 stat n1 mode
	`},
	{Name: "04 errors", Steps: `
		expect 0 create n0 0644
		expect ENOTDIR chown n0/n1 1 1
		expect ENOENT chown n1 1 1
		expect ENOENT lchown n1 1 1
		expect ENAMETOOLONG chown ${name256} 1 1
		expect ENAMETOOLONG lchown ${name256} 1 1
		expect 0 mkdirall ${path4095dir}
		expect 0 create ${path4095} 0644
		expect 0 chown ${path4095} 1 2
		expect 1,2 stat ${path4095} uid,gid
		expect ENAMETOOLONG chown ${path4096} 1 1
		expect 0 mkdir n1 0755
		expect 0 create n1/n2 0644
		expect 0 chown n1/n2 65534 65534
		expect 0 chmod n1 0644
		expect EACCES -u 65534 -g 65534 chown n1/n2 65534 65534
		expect 0 chmod n1 0755
		expect 0 symlink n3 n4
		expect 0 symlink n4 n3
		expect ELOOP chown n3 1 1
		expect 0 lchown n3 1 1
		expect ELOOP chown n3/n0 1 1
	`},
}}
