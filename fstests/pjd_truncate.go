package fstests

// The truncate, ftruncate, posix_fallocate and utimensat groups.

var truncateGroup = Group{Name: "truncate", Scripts: []Script{
	{Name: "00 grow and shrink", Steps: `
		expect 0 create n0 0644
		expect 0 truncate n0 1234567
		expect 1234567 lstat n0 size
		expect .... open n0 O_RDONLY : pread 0 4 1000000
		expect 0 truncate n0 567
		expect 567 lstat n0 size
		expect 0 truncate n0 0
		expect 0 lstat n0 size
		expect 5 open n0 O_WRONLY : write 0 hello
		expect 0 truncate n0 2
		expect he open n0 O_RDONLY : read 0 10
		expect 0 truncate n0 4
		expect he.. open n0 O_RDONLY : pread 0 10 0
		save m1 stat n0 mtime
		save c1 stat n0 ctime
		expect 0 truncate n0 100
		save m2 stat n0 mtime
		save c2 stat n0 ctime
		check ${m1} < ${m2}
		check ${c1} < ${c2}
		expect 0 truncate n0 100
		save m3 stat n0 mtime
		save c3 stat n0 ctime
		check ${m2} < ${m3}
		check ${c2} < ${c3}
		expect 0 truncate n0 5000000000
		expect 5000000000 stat n0 size
		expect . open n0 O_RDONLY : pread 0 1 4999999999
		expect xy open n0 O_RDWR : pwrite 0 xy 4500000000 : pread 0 2 4500000000
		expect 0 truncate n0 10
		expect 10 stat n0 size
	`},
	{Name: "01 permissions and errors", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect 0 chmod n0 0646
		expect 0 -u 65533 -g 65533 truncate n0 10
		expect 0 chmod n0 0644
		expect EACCES -u 65533 -g 65533 truncate n0 20
		expect EACCES -u 65533 -g 65534 truncate n0 20
		expect 0 chmod n0 0464
		expect 0 -u 65533 -g 65534 truncate n0 20
		expect 0 chmod n0 0444
		expect EACCES -u 65534 -g 65534 truncate n0 30
		expect 0 truncate n0 30
		expect 30 stat n0 size
		expect 0 mkdir n1 0755
		expect EISDIR truncate n1 0
		expect EINVAL truncate n0 -1
		expect EFBIG|EINVAL truncate n0 999999999999999999
		expect ENOTDIR truncate n0/n2 0
		expect ENOENT truncate n2 0
		expect ENAMETOOLONG truncate ${name256} 0
		expect 0 mkdirall ${path4095dir}
		expect 0 create ${path4095} 0644
		expect 0 truncate ${path4095} 123
		expect 123 stat ${path4095} size
		expect ENAMETOOLONG truncate ${path4096} 0
		expect 0 symlink n3 n4
		expect 0 symlink n4 n3
		expect ELOOP truncate n3 0
		expect 0 symlink n0 n5
		expect 0 truncate n5 7
		expect 7 stat n0 size
		expect 0 chown n1 65534 65534
		expect 0 create n1/n6 0666
		expect 0 chmod n1 0644
		expect EACCES -u 65534 -g 65534 truncate n1/n6 0
	`},
	{Name: "02 ftruncate", Steps: `
		expect 0 create n0 0644
		expect 0 open n0 O_RDWR : ftruncate 0 1234
		expect 1234 stat n0 size
		expect 0 open n0 O_WRONLY : ftruncate 0 12
		expect 12 stat n0 size
		expect EINVAL open n0 O_RDONLY : ftruncate 0 0
		expect 12 stat n0 size
		expect 0 chmod n0 0444
		expect 0 chown n0 65534 65534
		expect EACCES -u 65534 -g 65534 open n0 O_CREAT,O_RDWR 0644 : ftruncate 0 0
		expect 0 open n1 O_CREAT,O_RDWR 0444 : ftruncate 0 55
		expect 55 stat n1 size
		expect 0 mkdir n2 0777
		expect 0 -u 65534 -g 65534 open n2/n3 O_CREAT,O_RDWR 0444 : ftruncate 0 66
		expect 66 stat n2/n3 size
		expect EINVAL open n0 O_RDWR : ftruncate 0 -1
		expect EINVAL open n2 O_RDONLY : ftruncate 0 0
		save m1 stat n1 mtime
		save c1 stat n1 ctime
		expect 0 open n1 O_RDWR : ftruncate 0 77
		save m2 stat n1 mtime
		save c2 stat n1 ctime
		check ${m1} < ${m2}
		check ${c1} < ${c2}
	`},
	{Name: "03 posix_fallocate", Steps: `
		expect 0 create n0 0644
		expect 0 open n0 O_RDWR : posix_fallocate 0 0 567
		expect 567 stat n0 size
		expect 0 open n0 O_WRONLY : posix_fallocate 0 20 100
		expect 567 stat n0 size
		expect 0 open n0 O_RDWR : posix_fallocate 0 1000 1
		expect 1001 stat n0 size
		expect EBADF open n0 O_RDONLY : posix_fallocate 0 0 2000
		expect EINVAL open n0 O_RDWR : posix_fallocate 0 0 0
		expect EINVAL open n0 O_RDWR : posix_fallocate 0 -1 10
		expect 0 open n0 O_RDWR : fallocate 0 FALLOC_FL_KEEP_SIZE 0 100000
		expect 1001 stat n0 size
		expect 1001 open n0 O_RDWR : pwrite 0 abc 0 : fallocate 0 FALLOC_FL_PUNCH_HOLE,FALLOC_FL_KEEP_SIZE 0 4096 : fstat 0 size
		expect 1001 stat n0 size
		expect ... open n0 O_RDONLY : pread 0 3 0
		save m1 stat n0 mtime
		save c1 stat n0 ctime
		expect 0 open n0 O_RDWR : posix_fallocate 0 0 9000
		save m2 stat n0 mtime
		save c2 stat n0 ctime
		check ${m1} < ${m2}
		check ${c1} < ${c2}
		expect 9000 stat n0 size
		expect 0 mkdir n1 0755
		expect EBADF open n1 O_RDONLY : posix_fallocate 0 0 1
	`},
}}

var utimensatGroup = Group{Name: "utimensat", Scripts: []Script{
	{Name: "00 exact times and ctime", Steps: `
		expect 0 create n0 0644
		expect 0 mkdir n1 0755
		expect 0 symlink n0 n2
		expect 0 utimensat AT_FDCWD n0 1900000000 123456789 1950000000 987654321 0
		expect 1900000000123456789,1950000000987654321 stat n0 atime,mtime
		expect 0 utimensat AT_FDCWD n1 1 0 2 1 0
		expect 1000000000,2000000001 stat n1 atime,mtime
		expect 0 utimensat AT_FDCWD n2 3 0 4 0 AT_SYMLINK_NOFOLLOW
		expect 3000000000,4000000000 lstat n2 atime,mtime
		expect 1900000000123456789 stat n2 atime
		expect 0 utimensat AT_FDCWD n2 5 0 6 0 0
		expect 5000000000,6000000000 stat n0 atime,mtime
		expect 0 open n0 O_RDONLY : futimens 0 7 0 8 0
		expect 7000000000,8000000000 stat n0 atime,mtime
		expect 0 open n0 O_WRONLY : write 0 abc : futimens 0 7 0 8 0
		expect 7000000000,8000000000,3 stat n0 atime,mtime,size
		expect 8000000000 open n0 O_WRONLY : write 0 abc : futimens 0 7 0 8 0 : fstat 0 mtime
		save c1 stat n0 ctime
		expect 0 utimensat AT_FDCWD n0 9 0 10 0 0
		save c2 stat n0 ctime
		check ${c1} < ${c2}
		expect 0 utimensat AT_FDCWD n0 11 0 12 0 0
		expect 11000000000,12000000000 stat n0 atime,mtime
		save c3 stat n0 ctime
		expect 0 utimensat AT_FDCWD n0 0 UTIME_OMIT 0 UTIME_OMIT 0
		expect ${c3} stat n0 ctime
		expect 0 utimensat AT_FDCWD n0 13 0 0 UTIME_OMIT 0
		expect 13000000000,12000000000 stat n0 atime,mtime
		expect 0 utimensat AT_FDCWD n0 0 UTIME_OMIT 14 0 0
		expect 13000000000,14000000000 stat n0 atime,mtime
		expect 0 utimensat AT_FDCWD n0 0 UTIME_NOW 0 UTIME_NOW 0
		save a stat n0 atime
		save m stat n0 mtime
		save c stat n0 ctime
		check ${a} == ${m}
		check ${m} == ${c}
		check ${c2} < ${c}
		expect 0 utimensat AT_FDCWD n0 15 0 0 UTIME_NOW 0
		save m2 stat n0 mtime
		check ${m} < ${m2}
		expect 15000000000 stat n0 atime
	`},
	{Name: "01 times outside 32 bits", Steps: `
		expect 0 create n0 0644
		expect 0 utimensat AT_FDCWD n0 4294967296 0 4294967297 999999999 0
		expect 4294967296000000000,4294967297999999999 stat n0 atime,mtime
		expect 0 utimensat AT_FDCWD n0 -1 0 -1000000000 5 0
		expect -1,-1000000000,0,5 stat n0 atime_s,mtime_s,atime_ns,mtime_ns
		expect 0 utimensat AT_FDCWD n0 0 0 0 0 0
		expect 0,0 stat n0 atime,mtime
		expect EINVAL utimensat AT_FDCWD n0 1 1000000000 1 0 0
		expect EINVAL utimensat AT_FDCWD n0 1 0 1 -1 0
	`},
	{Name: "02 who may set times", Steps: `
		expect 0 create n0 0644
		expect 0 chown n0 65534 65534
		expect 0 -u 65534 -g 65534 utimensat AT_FDCWD n0 1 0 2 0 0
		expect 1000000000,2000000000 stat n0 atime,mtime
		expect EPERM -u 65533 -g 65533 utimensat AT_FDCWD n0 3 0 4 0 0
		expect EACCES -u 65533 -g 65533 utimensat AT_FDCWD n0 0 UTIME_NOW 0 UTIME_NOW 0
		expect 1000000000,2000000000 stat n0 atime,mtime
		expect 0 chmod n0 0666
		expect EPERM -u 65533 -g 65533 utimensat AT_FDCWD n0 3 0 4 0 0
		expect 0 -u 65533 -g 65533 utimensat AT_FDCWD n0 0 UTIME_NOW 0 UTIME_NOW 0
		save a stat n0 atime
		check ${a} > 2000000000
		expect EPERM -u 65533 -g 65533 utimensat AT_FDCWD n0 0 UTIME_NOW 5 0 0
		expect 0 chmod n0 0644
		expect 0 -u 65533 -g 65533 utimensat AT_FDCWD n0 0 UTIME_OMIT 0 UTIME_OMIT 0
		expect 0 -u 65534 -g 65534 utimensat AT_FDCWD n0 0 UTIME_NOW 0 UTIME_NOW 0
		expect 0 -u 65534 -g 65534 chmod n0 0444
		expect 0 -u 65534 -g 65534 utimensat AT_FDCWD n0 0 UTIME_NOW 0 UTIME_NOW 0
		expect 0 -u 65534 -g 65534 utimensat AT_FDCWD n0 6 0 7 0 0
		expect 6000000000,7000000000 stat n0 atime,mtime
	`},
	{Name: "03 errors", Steps: `
		expect 0 create n0 0644
		expect ENOENT utimensat AT_FDCWD n1 1 0 1 0 0
		expect ENOTDIR utimensat AT_FDCWD n0/n1 1 0 1 0 0
		expect ENAMETOOLONG utimensat AT_FDCWD ${name256} 1 0 1 0 0
		expect 0 mkdirall ${path4095dir}
		expect 0 create ${path4095} 0644
		expect 0 utimensat AT_FDCWD ${path4095} 1 0 2 0 0
		expect ENAMETOOLONG utimensat AT_FDCWD ${path4096} 1 0 1 0 0
		expect 0 symlink n2 n3
		expect 0 symlink n3 n2
		expect ELOOP utimensat AT_FDCWD n2 1 0 1 0 0
		expect 0 utimensat AT_FDCWD n2 1 0 1 0 AT_SYMLINK_NOFOLLOW
		expect 0 mkdir n4 0755
		expect 0 create n4/n5 0644
		expect 0 chown n4/n5 65534 65534
		expect 0 chmod n4 0644
		expect EACCES -u 65534 -g 65534 utimensat AT_FDCWD n4/n5 1 0 1 0 0
	`},
}}
