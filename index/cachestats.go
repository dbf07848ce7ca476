package index

import (
	"context"
	"fmt"
	"strings"
	"syscall"
)

// knownBatch is how many keys one query of KnownKeys asks about.
const knownBatch = 500

// KnownKeys reports, for each of keys, whether the index still needs that
// cache file: it is a regular file's current content version, or it is in
// the trash (kept until removed). It answers a batch of a cache walk at a
// time, so that the orphan sweep never holds every file of the index.
func (db *DB) KnownKeys(ctx context.Context, keys []CacheKey) ([]bool, error) {
	out := make([]bool, len(keys))
	pos := make(map[CacheKey][]int, len(keys))
	for i, k := range keys {
		pos[k] = append(pos[k], i)
	}
	mark := func(k CacheKey) {
		for _, i := range pos[k] {
			out[i] = true
		}
	}
	for start := 0; start < len(keys); start += knownBatch {
		part := keys[start:min(start+knownBatch, len(keys))]
		args := make([]any, 0, len(part)+1)
		args = append(args, syscall.S_IFREG)
		for _, k := range part {
			args = append(args, int64(k.Ino))
		}
		in := strings.Repeat("?,", len(part))
		in = in[:len(in)-1]
		queries := []string{
			`SELECT ino, cver FROM inodes WHERE (mode & 61440) = ? AND ino IN (` + in + `)`,
			`SELECT ino, cver FROM trash WHERE ? != 0 AND ino IN (` + in + `)`,
		}
		for _, q := range queries {
			if err := db.scanKeys(ctx, q, args, mark); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (db *DB) scanKeys(ctx context.Context, q string, args []any, fn func(CacheKey)) error {
	rows, err := db.settled().QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("known cache keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k CacheKey
		if err := rows.Scan(&k.Ino, &k.Cver); err != nil {
			return fmt.Errorf("known cache keys: %w", err)
		}
		fn(k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("known cache keys: %w", err)
	}
	return nil
}
