package index

// Record is one entry of a journal batch: the new state of one file or of
// one directory entry. Records name files by file ID. Exactly one field is set.
type Record struct {
	File   *FileRecord   `json:"f,omitempty"`
	Dentry *DentryRecord `json:"d,omitempty"`
}

// FileRecord is a version of a file's attributes and content.
type FileRecord struct {
	ID      string            `json:"id"`
	Mode    uint32            `json:"mode"`
	UID     uint32            `json:"uid"`
	GID     uint32            `json:"gid"`
	Rdev    uint32            `json:"rdev,omitempty"`
	Mtime   int64             `json:"mtime"`
	Ctime   int64             `json:"ctime"`
	Target  []byte            `json:"target,omitempty"` // symlink target
	Xattrs  map[string][]byte `json:"xattrs,omitempty"`
	Content *Content          `json:"content,omitempty"` // regular files only
	Deleted bool              `json:"deleted,omitempty"`
	VV      VV                `json:"vv"`
	HLC     int64             `json:"hlc"`
	// Dev is the device that made this version, when it is not the device
	// whose journal carries it (a conflict copy made on behalf of the
	// losing device). Empty: the journal's device.
	Dev string `json:"dev,omitempty"`
	// Parent and Name are the entry the file was found under when this
	// version was made (its home): where a conflict copy goes, and where a
	// file that lost all its names is linked again. Empty in old records.
	Parent string `json:"parent,omitempty"`
	Name   []byte `json:"name,omitempty"`
	// Base is, in a deletion, the live version it removed (as its author
	// made it): an edit concurrent with that version and losing to it is
	// kept as a conflict copy rather than undoing the deletion.
	Base *VersionRef `json:"base,omitempty"`
	// ConflictOf is, in a conflict copy's record, the file ID of the file
	// it keeps a losing version of. Empty: not a copy (or an old record).
	ConflictOf string `json:"conflict_of,omitempty"`
	// Resolved marks a conflict copy settled by hand and kept as it is
	// (syncfs conflicts resolve --keep both): no longer listed as a
	// conflict. Once any version of a copy says so, it stays so.
	Resolved bool `json:"resolved,omitempty"`
}

// VersionRef names one version of a file: its vector, hybrid time and
// author.
type VersionRef struct {
	VV  VV     `json:"vv"`
	HLC int64  `json:"hlc"`
	Dev string `json:"dev"`
}

// DentryRecord is a version of one directory entry: the name Name in the
// directory Parent now names Child, or nothing if Child is empty.
type DentryRecord struct {
	Parent string `json:"parent"`
	Name   []byte `json:"name"`
	Child  string `json:"child,omitempty"`
	VV     VV     `json:"vv"`
	HLC    int64  `json:"hlc"`
	Dev    string `json:"dev,omitempty"` // as FileRecord.Dev
}

// Content is a version of a regular file's bytes: inline for small files,
// else the list of chunks that concatenate to it.
type Content struct {
	Size   int64      `json:"size"`
	Inline []byte     `json:"inline,omitempty"`
	Chunks []ChunkRef `json:"chunks,omitempty"`
}

// ChunkRef names one content chunk by its keyed ID and plaintext length.
type ChunkRef struct {
	ID  string `json:"id"`
	Len int64  `json:"len"`
}
