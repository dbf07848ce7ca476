package index

import (
	"database/sql"
	"fmt"
)

// claimsSchema is what settling names from their versions (claims.go)
// needs beyond the main schema. When an entry leaves the outbox (sealed
// into a batch, or moot), the version held then is kept as a claim: a
// local change made after it may lose before it is sent and be dropped
// (dropUnsentTx), and the version that went out must then still count,
// as it does on every device that received it.
//
// dir_merges holds the directories merged into another (merge.go): fid,
// made under the name (parent_fid, name) concurrently with into_fid, which
// won it. Derived from the entries' versions, like the names.
//
// relink_claims holds the claims made here by linking an orphan again at
// a name under the version the name held (relinkTx), until they are sent:
// a relink can lose before it is sent (a directory takes the name, or
// another file is linked there again), and its claim stays one of the
// name's here, so it must reach every other device too, whatever the
// outbox sends for the name by then (SealBatch). fresh marks a relink onto
// a version made here and not sent yet: if that version loses before it
// is sent, its relinks go with it (dropUnsentTx).
const claimsSchema = `
CREATE TABLE IF NOT EXISTS relink_claims(
	parent_fid TEXT NOT NULL,
	name       BLOB NOT NULL,
	vv         TEXT NOT NULL,
	hlc        INTEGER NOT NULL,
	author     TEXT NOT NULL,
	child      TEXT NOT NULL,
	fresh      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY(parent_fid, name, vv, hlc, author, child)
);
CREATE TABLE IF NOT EXISTS dir_merges(
	fid        TEXT PRIMARY KEY,
	into_fid   TEXT NOT NULL,
	parent_fid TEXT NOT NULL,
	name       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dir_merges_into ON dir_merges(into_fid);
CREATE INDEX IF NOT EXISTS dir_merges_name ON dir_merges(parent_fid, name);
CREATE TRIGGER IF NOT EXISTS outbox_entry_sent AFTER DELETE ON outbox WHEN old.key LIKE 'd:%'
BEGIN
	INSERT OR IGNORE INTO entry_claims(parent_fid, name, vv, hlc, author, child)
		SELECT parent_fid, name, vv, hlc, author, child FROM dentry_versions
		WHERE parent_fid=old.parent_fid AND name=old.name;
END;
`

// initClaimsSchema creates claimsSchema if it is not there.
func initClaimsSchema(w *sql.DB) error {
	if _, err := w.Exec(claimsSchema); err != nil {
		return fmt.Errorf("create index schema: claims: %w", err)
	}
	return nil
}
