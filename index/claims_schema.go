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
const claimsSchema = `
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
