// Package local is the blobstore.Store kept in a local directory: the
// default store, and how a USB disk or a NAS share is used.
//
// Layout: object "a/b/c" is the file <root>/a/b/c. Directories are made as
// Puts need them and removed by Delete once empty (never the root). The root
// itself must exist before Open; Create makes it.
//
// Terms:
//   - Temp file: a file whose name starts with ".tmp-". Put writes the new
//     object into one in the target's directory, fsyncs it, and only then
//     gives it the object's name (restic's local backend does the same). A
//     crash can leave temp files behind; List never reports them and no
//     object name may contain a component with that prefix.
//   - Commit: the step that names the temp file. Put renames it over the
//     target, which replaces the object atomically. PutIfAbsent hard-links it
//     to the target, which fails with EEXIST if the name is taken, so the
//     check and the create are one atomic step even across processes; the
//     temp name is then removed. Both then fsync the directory.
//
// Errors: ENOENT maps to blobstore.ErrNotExist, EACCES, EPERM and EROFS to
// blobstore.ErrPermission, ENOSPC and EDQUOT to blobstore.ErrNoSpace, and
// ETIMEDOUT (network filesystems) to blobstore.ErrTransient; the original
// error stays in the chain. Others, such as EIO, are returned wrapped with
// the operation and object name. Names are checked with
// blobstore.CheckName, so a name can never reach outside the root.
//
// The store needs a filesystem with hard links for PutIfAbsent (ext4, XFS,
// btrfs, APFS, NFS and most NAS shares have them; FAT and exFAT do not).
package local
