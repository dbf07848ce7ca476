package resolver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// ErrDamaged reports an object that failed authentication or does not
// decode: tampered with, truncated, swapped or corrupted.
var ErrDamaged = errors.New("object damaged or tampered with")

// codec compresses before sealing. The first plaintext byte says how the
// rest is stored, so incompressible data is kept raw.
type codec struct {
	once sync.Once
	enc  *zstd.Encoder
	dec  *zstd.Decoder
}

const (
	bodyRaw  = 0
	bodyZstd = 1
	// maxPlain bounds what a damaged object can make us allocate.
	maxPlain = 64 << 20
)

func (c *codec) init() {
	c.once.Do(func() {
		c.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		c.dec, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxPlain), zstd.WithDecoderConcurrency(0))
	})
}

func (c *codec) compress(plain []byte) []byte {
	c.init()
	// Room for zstd's worst case, so that incompressible chunks (most of
	// what people store is compressed already) are not copied as out grows.
	out := make([]byte, 1, 1+len(plain)+len(plain)>>7+256)
	out[0] = bodyZstd
	out = c.enc.EncodeAll(plain, out)
	if len(out) >= len(plain)+1 {
		out = append(out[:0], bodyRaw)
		out = append(out, plain...)
	}
	return out
}

func (c *codec) decompress(b []byte) ([]byte, error) {
	c.init()
	if len(b) == 0 {
		return nil, fmt.Errorf("empty body: %w", ErrDamaged)
	}
	switch b[0] {
	case bodyRaw:
		return b[1:], nil
	case bodyZstd:
		out, err := c.dec.DecodeAll(b[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("decompress: %v: %w", err, ErrDamaged)
		}
		return out, nil
	}
	return nil, fmt.Errorf("body encoding %d: %w", b[0], ErrDamaged)
}

// putChunk stores one chunk if it is not there yet.
func (e *Engine) putChunk(ctx context.Context, id string, plain []byte) error {
	sealed := e.repo.Keys.Seal(crypto.KindChunk, id, e.codec.compress(plain))
	err := e.repo.Store.PutIfAbsent(ctx, chunkName(id), bytes.NewReader(sealed), int64(len(sealed)))
	if errors.Is(err, blobstore.ErrExist) {
		return nil // identical plaintext, stored before (dedupe)
	}
	if err != nil {
		return fmt.Errorf("store chunk %s: %w", chunkName(id), err)
	}
	e.stats.addUp(int64(len(sealed)))
	return nil
}

// getChunk fetches, authenticates, decompresses and checks one chunk.
func (e *Engine) getChunk(ctx context.Context, ref index.ChunkRef) ([]byte, error) {
	name := chunkName(ref.ID)
	sealed, err := blobstore.GetAll(ctx, e.repo.Store, name, maxPlain+1024)
	if err != nil {
		return nil, fmt.Errorf("fetch chunk %s: %w", name, err)
	}
	e.stats.addDown(int64(len(sealed)))
	body, err := e.repo.Keys.Open(crypto.KindChunk, ref.ID, sealed)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w: %w", name, ErrDamaged, err)
	}
	plain, err := e.codec.decompress(body)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", name, err)
	}
	if int64(len(plain)) != ref.Len || e.repo.Keys.ChunkID(plain) != ref.ID {
		return nil, fmt.Errorf("chunk %s: content does not match its ID: %w", name, ErrDamaged)
	}
	return plain, nil
}

// batch is the plaintext of a journal object.
type batch struct {
	Format  int            `json:"format"`
	Device  string         `json:"device"`
	Seq     uint64         `json:"seq"`
	Records []index.Record `json:"records"`
}

func (e *Engine) sealJournal(seq uint64, recs []index.Record) ([]byte, error) {
	b, err := json.Marshal(batch{Format: FormatVersion, Device: e.device, Seq: seq, Records: recs})
	if err != nil {
		return nil, err
	}
	return e.repo.Keys.Seal(crypto.KindJournal, journalID(e.device, seq), e.codec.compress(b)), nil
}

func (e *Engine) openJournal(device string, seq uint64, sealed []byte) ([]index.Record, error) {
	name := journalName(device, seq)
	body, err := e.repo.Keys.Open(crypto.KindJournal, journalID(device, seq), sealed)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w: %w", name, ErrDamaged, err)
	}
	plain, err := e.codec.decompress(body)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", name, err)
	}
	var b batch
	if err := json.Unmarshal(plain, &b); err != nil {
		return nil, fmt.Errorf("journal %s: %v: %w", name, err, ErrDamaged)
	}
	if b.Device != device || b.Seq != seq {
		return nil, fmt.Errorf("journal %s: names %s/%d: %w", name, b.Device, b.Seq, ErrDamaged)
	}
	if b.Format != FormatVersion {
		return nil, fmt.Errorf("journal %s: %w: version %d", name, ErrUnknownFormat, b.Format)
	}
	return b.Records, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
