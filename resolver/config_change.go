package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
)

// Changes to the config. The store has no compare-and-set, only
// create-if-absent (blobstore.Store.PutIfAbsent, decided atomically by
// every backend), so a change is first claimed under the next number of
// a sequence of change records, configs/<seq>, and only then written to
// config, which stays the object every reader opens (version 1 readers
// included). Two writers that read the same state claim the same number:
// exactly one wins, the other gets ErrConfigChanged and changes nothing.
//
// A record holds the whole config object it writes, so that a writer that
// dies between the claim and the write is finished by the next one, and
// the hash of the config it replaced. Before claiming, a writer makes
// config agree with the newest record: config still holding an older
// state (a claim not written yet, or a write that landed late, after a
// newer one) is replaced by the newest record's config; config holding
// anything else was rewritten by a syncfs that predates the records, and
// is taken as it is. After writing, a writer that finds newer records
// writes the newest one's config again, so that the last write to config
// is always the newest claimed state. See FORMAT.md, "Config changes".

// ErrConfigChanged reports that another device changed the store's config
// between this one's read and its write: nothing was changed here; read
// the config again and retry.
var ErrConfigChanged = errors.New("config changed by another device, retry")

const configsPrefix = "configs/"

func configChangeName(seq uint64) string { return fmt.Sprintf("%s%020d", configsPrefix, seq) }

// configChangeLabel separates a change record's MAC from the config's.
const configChangeLabel = "syncfs config change v1\x00"

// configChange is the record configs/<seq>.
type configChange struct {
	Format int       `json:"format"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Base   string    `json:"base"`   // SHA-256 (hex) of the config object replaced
	Config []byte    `json:"config"` // the config object written, byte for byte
	MAC    []byte    `json:"mac,omitempty"`
}

func (c configChange) macInput() []byte {
	c.MAC = nil
	b, _ := json.Marshal(c)
	return append([]byte(configChangeLabel), b...)
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// configHead is the store's config as a writer sees it.
type configHead struct {
	seq    uint64 // the newest change record's number; 0: none
	newest *configChange
	raw    []byte // the config object, made to agree with newest
	cfg    Config
}

// readConfigChanges returns the store's change records, oldest first,
// each checked with repo's keys.
func readConfigChanges(ctx context.Context, repo *Repo) ([]configChange, error) {
	var seqs []uint64
	err := repo.Store.List(ctx, configsPrefix, func(i blobstore.Info) error {
		n, err := strconv.ParseUint(strings.TrimPrefix(i.Name, configsPrefix), 10, 64)
		if err != nil || configChangeName(n) != i.Name || n == 0 {
			return fmt.Errorf("%w: unexpected object %s", ErrCorruptConfig, i.Name)
		}
		seqs = append(seqs, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list config changes: %w", err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]configChange, 0, len(seqs))
	for _, n := range seqs {
		b, err := blobstore.GetAll(ctx, repo.Store, configChangeName(n), 1<<20)
		if err != nil {
			return nil, fmt.Errorf("read config change %d: %w", n, err)
		}
		var c configChange
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("%w: config change %d: %v", ErrCorruptConfig, n, err)
		}
		if c.Format != FormatVersion || c.Seq != n {
			return nil, fmt.Errorf("%w: config change %d: format %d, number %d", ErrCorruptConfig, n, c.Format, c.Seq)
		}
		if err := repo.Keys.VerifyConfigMAC(c.macInput(), c.MAC); err != nil {
			return nil, fmt.Errorf("%w: config change %d: %w", ErrCorruptConfig, n, err)
		}
		if _, err := verifyConfigBytes(repo, c.Config); err != nil {
			return nil, fmt.Errorf("config change %d: %w", n, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// verifyConfigBytes parses a config object and checks it with repo's keys:
// the same store, the same format, an intact MAC.
func verifyConfigBytes(repo *Repo, b []byte) (Config, error) {
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrCorruptConfig, err)
	}
	if cfg.Format != FormatVersion {
		return Config{}, fmt.Errorf("%w: version %d (this syncfs reads version %d)", ErrUnknownFormat, cfg.Format, FormatVersion)
	}
	if cfg.StoreID != repo.Config.StoreID {
		return Config{}, fmt.Errorf("%w: store ID changed from %s to %s", ErrCorruptConfig, repo.Config.StoreID, cfg.StoreID)
	}
	if err := repo.Keys.VerifyConfigMAC(cfg.macInput(), cfg.MAC); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrCorruptConfig, err)
	}
	return cfg, nil
}

// readConfigHead reads the change records and the config, and makes the
// config agree with the newest record if it holds an older state.
func readConfigHead(ctx context.Context, repo *Repo) (configHead, error) {
	changes, err := readConfigChanges(ctx, repo)
	if err != nil {
		return configHead{}, err
	}
	raw, err := ReadConfig(ctx, repo.Store)
	if err != nil {
		return configHead{}, err
	}
	h := configHead{raw: raw}
	if len(changes) > 0 {
		h.newest = &changes[len(changes)-1]
		h.seq = h.newest.Seq
		if cur := hashHex(raw); cur != hashHex(h.newest.Config) && olderState(changes, cur) {
			if err := blobstore.PutBytes(ctx, repo.Store, configName, h.newest.Config); err != nil {
				return configHead{}, fmt.Errorf("finish config change %d: %w", h.seq, err)
			}
			h.raw = h.newest.Config
		}
	}
	if h.cfg, err = verifyConfigBytes(repo, h.raw); err != nil {
		return configHead{}, err
	}
	return h, nil
}

// olderState reports whether a config object hashing to sum is a state
// the change records have been through: one a change replaced, or one a
// change wrote.
func olderState(changes []configChange, sum string) bool {
	for _, c := range changes {
		if c.Base == sum || hashHex(c.Config) == sum {
			return true
		}
	}
	return false
}

// changeConfig applies edit to the store's current config and writes the
// result as the next change. edit returns false to change nothing. A
// concurrent change by another writer gives ErrConfigChanged and leaves
// the store as that writer made it. beforeClaim, if not nil, runs between
// the read and the claim (tests use it to interleave writers).
func changeConfig(ctx context.Context, repo *Repo, edit func(*Config) bool, beforeClaim func()) error {
	h, err := readConfigHead(ctx, repo)
	if err != nil {
		return err
	}
	cfg := h.cfg
	if !edit(&cfg) {
		repo.Config, repo.ConfigBytes = h.cfg, h.raw
		return nil
	}
	cfg.MAC = repo.Keys.ConfigMAC(cfg.macInput())
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	c := configChange{Format: FormatVersion, Seq: h.seq + 1, Time: time.Now().UTC(), Base: hashHex(h.raw), Config: b}
	c.MAC = repo.Keys.ConfigMAC(c.macInput())
	rec, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("write config change: %w", err)
	}
	if beforeClaim != nil {
		beforeClaim()
	}
	if err := blobstore.PutBytesIfAbsent(ctx, repo.Store, configChangeName(c.Seq), rec); err != nil {
		if errors.Is(err, blobstore.ErrExist) {
			return changedBy(ctx, repo, c.Seq)
		}
		return fmt.Errorf("claim config change %d: %w", c.Seq, err)
	}
	if err := blobstore.PutBytes(ctx, repo.Store, configName, b); err != nil {
		// Claimed: the next writer finishes it.
		return fmt.Errorf("write config (change %d is claimed and will be finished by the next change): %w", c.Seq, err)
	}
	repo.Config, repo.ConfigBytes = cfg, b
	return settleConfig(ctx, repo, c.Seq)
}

// changedBy describes the change that took number seq first, and makes
// the config agree with the newest record (a write of ours may have
// landed after it).
func changedBy(ctx context.Context, repo *Repo, seq uint64) error {
	h, err := readConfigHead(ctx, repo)
	if err != nil {
		return fmt.Errorf("%w (reading it again: %v)", ErrConfigChanged, err)
	}
	repo.Config, repo.ConfigBytes = h.cfg, h.raw
	at := ""
	if h.newest != nil {
		at = " at " + h.newest.Time.Format(time.DateTime) + " UTC"
	}
	return fmt.Errorf("%w: change %d was made first%s (conflict policy now %s)", ErrConfigChanged, seq, at, policyOf(h.cfg))
}

// settleConfig makes sure the last write to config is the newest claimed
// state: if changes newer than seq were claimed while this writer wrote
// change seq, the newest one's config is written again (its writer may
// have written before this one did).
func settleConfig(ctx context.Context, repo *Repo, seq uint64) error {
	for range 8 {
		changes, err := readConfigChanges(ctx, repo)
		if err != nil {
			return err
		}
		if len(changes) == 0 || changes[len(changes)-1].Seq <= seq {
			return nil
		}
		newest := changes[len(changes)-1]
		cfg, err := verifyConfigBytes(repo, newest.Config)
		if err != nil {
			return err
		}
		if err := blobstore.PutBytes(ctx, repo.Store, configName, newest.Config); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		repo.Config, repo.ConfigBytes, seq = cfg, newest.Config, newest.Seq
	}
	return nil
}
