package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/resolver/chunker"
)

// FormatVersion is the store format this syncfs writes and reads: version
// 1, frozen (resolver/FORMAT.md; a store written by it is kept under
// testdata/store-v1 and must always open).
const FormatVersion = 1

// Errors a user sees when opening a store, each with its own exit code in
// the CLI.
var (
	ErrNotInitialized     = errors.New("not a syncfs store (no config object)")
	ErrAlreadyInitialized = errors.New("store is not empty")
	ErrUnknownFormat      = errors.New("unknown store format")
	ErrWrongPassphrase    = errors.New("wrong passphrase")
	ErrCorruptConfig      = errors.New("store config is damaged or was tampered with")
	ErrDeviceClash        = errors.New("another process is using this device ID")
)

// Config is the store's config object.
type Config struct {
	Format     int              `json:"format"`
	StoreID    string           `json:"store_id"`
	Created    time.Time        `json:"created"`
	KDF        crypto.KDFParams `json:"kdf"`
	WrappedKey []byte           `json:"wrapped_key"`
	Chunker    chunker.Params   `json:"chunker"`
	InlineMax  int              `json:"inline_max"`
	Conflict   string           `json:"conflict"`
	MAC        []byte           `json:"mac,omitempty"`
}

// InitOptions configure a new store.
type InitOptions struct {
	KDF      *crypto.KDFParams // nil: crypto.DefaultKDFParams
	Conflict string            // "copy" (default) or "newest"
}

func wrapAD(storeID string) []byte { return []byte("syncfs config key v0\x00" + storeID) }

func (c Config) macInput() []byte {
	c.MAC = nil
	b, _ := json.Marshal(c)
	return b
}

// Init writes a new encrypted store's config. It refuses a store that holds
// anything at all.
func Init(ctx context.Context, s blobstore.Store, passphrase []byte, opts InitOptions) (*Repo, error) {
	empty := true
	err := s.List(ctx, "", func(blobstore.Info) error { empty = false; return errStopList })
	if err != nil && !errors.Is(err, errStopList) {
		return nil, fmt.Errorf("check store is empty: %w", err)
	}
	if !empty {
		return nil, ErrAlreadyInitialized
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("empty passphrase: %w", crypto.ErrBadParams)
	}
	kdf := opts.KDF
	if kdf == nil {
		p, err := crypto.DefaultKDFParams()
		if err != nil {
			return nil, err
		}
		kdf = &p
	}
	conflict := opts.Conflict
	if conflict == "" {
		conflict = "copy"
	}
	if conflict != "copy" && conflict != "newest" {
		return nil, fmt.Errorf("conflict policy %q: want copy or newest", conflict)
	}
	mk, err := crypto.NewMasterKey()
	if err != nil {
		return nil, err
	}
	kek, err := crypto.DeriveKEK(passphrase, *kdf)
	if err != nil {
		return nil, err
	}
	storeID := randomHex(16)
	cfg := Config{
		Format:     FormatVersion,
		StoreID:    storeID,
		Created:    time.Now().UTC().Truncate(time.Second),
		KDF:        *kdf,
		WrappedKey: crypto.WrapMasterKey(kek, mk, wrapAD(storeID)),
		Chunker:    chunker.DefaultParams(),
		InlineMax:  4096,
		Conflict:   conflict,
	}
	keys := crypto.NewKeys(mk, storeID)
	cfg.MAC = keys.ConfigMAC(cfg.macInput())
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := blobstore.PutBytesIfAbsent(ctx, s, configName, b); err != nil {
		if errors.Is(err, blobstore.ErrExist) {
			return nil, ErrAlreadyInitialized
		}
		return nil, fmt.Errorf("write config: %w", err)
	}
	return &Repo{Store: s, Keys: keys, Config: cfg, ConfigBytes: b}, nil
}

var errStopList = errors.New("stop listing")

// ReadConfig fetches the raw config object.
func ReadConfig(ctx context.Context, s blobstore.Store) ([]byte, error) {
	b, err := blobstore.GetAll(ctx, s, configName, 1<<20)
	if errors.Is(err, blobstore.ErrNotExist) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return b, nil
}

// OpenConfig unlocks a config object's bytes with the passphrase.
func OpenConfig(b, passphrase []byte) (Config, *crypto.Keys, error) {
	var probe struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || probe.Format == nil {
		return Config{}, nil, fmt.Errorf("%w: not a syncfs config", ErrCorruptConfig)
	}
	if *probe.Format != FormatVersion {
		return Config{}, nil, fmt.Errorf("%w: version %d (this syncfs reads version %d)", ErrUnknownFormat, *probe.Format, FormatVersion)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, nil, fmt.Errorf("%w: %v", ErrCorruptConfig, err)
	}
	if err := cfg.KDF.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrCorruptConfig, err)
	}
	kek, err := crypto.DeriveKEK(passphrase, cfg.KDF)
	if err != nil {
		return Config{}, nil, fmt.Errorf("derive key: %w", err)
	}
	mk, err := crypto.UnwrapMasterKey(kek, cfg.WrappedKey, wrapAD(cfg.StoreID))
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return Config{}, nil, ErrWrongPassphrase
	}
	if err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrCorruptConfig, err)
	}
	keys := crypto.NewKeys(mk, cfg.StoreID)
	if err := keys.VerifyConfigMAC(cfg.macInput(), cfg.MAC); err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrCorruptConfig, err)
	}
	if err := cfg.Chunker.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("%w: %w", ErrCorruptConfig, err)
	}
	if cfg.InlineMax < 0 || cfg.InlineMax > 1<<20 {
		return Config{}, nil, fmt.Errorf("%w: inline limit %d", ErrCorruptConfig, cfg.InlineMax)
	}
	return cfg, keys, nil
}

// Open reads and unlocks a store's config.
func Open(ctx context.Context, s blobstore.Store, passphrase []byte) (*Repo, error) {
	b, err := ReadConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	cfg, keys, err := OpenConfig(b, passphrase)
	if err != nil {
		return nil, err
	}
	return &Repo{Store: s, Keys: keys, Config: cfg, ConfigBytes: b}, nil
}

// Repo is an opened store.
type Repo struct {
	Store       blobstore.Store
	Keys        *crypto.Keys
	Config      Config
	ConfigBytes []byte // as read, for the cache's offline copy
}
