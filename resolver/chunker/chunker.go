package chunker

import (
	"errors"
	"fmt"
	"io"
)

// readBufSize caps the Chunker's read buffer: big enough that a read call
// costs nothing beside hashing its bytes, small enough to be cheap per stream.
const readBufSize = 512 << 10

// maxEmptyReads bounds how often a Reader may return (0, nil) in a row
// before Next gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// Chunk is one content-defined piece of the stream.
type Chunk struct {
	Offset int64  // position of the chunk's first byte in the stream
	Length int    // len(Data)
	Data   []byte // the chunk's bytes; see Chunker.Next for what it aliases
}

// Chunker cuts a stream into content-defined chunks. Make one with New.
type Chunker struct {
	r     io.Reader
	p     Params
	hard  uint64 // boundary mask from Min to Avg
	easy  uint64 // boundary mask from Avg to Max
	gear  [256]uint64
	buf   []byte // read buffer; buf[bpos:bmax] is read but not yet chunked
	bpos  int
	bmax  int
	eof   bool  // r has returned io.EOF
	off   int64 // stream offset of the next chunk
	err   error // sticky: io.EOF once done, or the first failure
	valid error // the result of p.Validate, reported by Next
}

// New returns a Chunker reading r, with boundaries keyed by key (the
// store's chunker subkey) and sizes given by p. Invalid p is reported by
// the first call to Next, as an error wrapping ErrBadParams.
func New(r io.Reader, key [32]byte, p Params) *Chunker {
	c := &Chunker{p: p, gear: gearTable(key), valid: p.Validate()}
	if c.valid == nil {
		c.hard, c.easy = masks(p.Avg)
		c.buf = make([]byte, min(readBufSize, p.Max))
	}
	c.Reset(r)
	return c
}

// Reset makes c chunk r from its start, keeping the key, the parameters and
// the read buffer, so one Chunker can serve many streams without allocating.
// It clears any earlier read error.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.bpos, c.bmax = 0, 0
	c.eof = false
	c.off = 0
	c.err = c.valid
}

// Next returns the next chunk, or io.EOF once the stream is exhausted (an
// empty stream has no chunks). Chunk.Data is buf[:0] with the chunk's bytes
// appended: it aliases buf when cap(buf) >= Length (always so with a buffer
// of capacity Max), and is newly allocated otherwise. Either way it stays
// valid until the caller reuses buf. After an error other than io.EOF the
// Chunker is spent and every later call returns that error.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	if c.err != nil {
		return Chunk{}, c.err
	}
	data := buf[:0]
	n := 0       // length of the chunk so far
	var h uint64 // gear hash since the chunk's Min-th byte
	for n < c.p.Max {
		if c.bpos == c.bmax {
			if c.eof {
				break
			}
			if err := c.fill(); err != nil {
				c.err = err
				return Chunk{}, err
			}
			continue
		}
		avail := c.buf[c.bpos:c.bmax]
		if n < c.p.Min {
			// Cut-point skipping: no boundary can fall here, so do not hash.
			k := min(c.p.Min-n, len(avail))
			data = append(data, avail[:k]...)
			n += k
			c.bpos += k
			continue
		}
		mask, limit := c.easy, c.p.Max-n
		if n < c.p.Avg {
			mask, limit = c.hard, c.p.Avg-n
		}
		seg := avail[:min(limit, len(avail))]
		i, hh := scan(h, seg, mask, &c.gear)
		h = hh
		if i >= 0 {
			seg = seg[:i+1]
		}
		data = append(data, seg...)
		n += len(seg)
		c.bpos += len(seg)
		if i >= 0 {
			break
		}
	}
	if n == 0 {
		c.err = io.EOF
		return Chunk{}, io.EOF
	}
	ch := Chunk{Offset: c.off, Length: n, Data: data}
	c.off += int64(n)
	return ch, nil
}

// fill refills the read buffer with at least one byte or notes the end of
// the stream.
func (c *Chunker) fill() error {
	c.bpos, c.bmax = 0, 0
	for range maxEmptyReads {
		n, err := c.r.Read(c.buf)
		if n < 0 || n > len(c.buf) {
			return fmt.Errorf("chunker: read returned invalid count %d", n)
		}
		c.bmax = n
		switch {
		case errors.Is(err, io.EOF):
			c.eof = true
			return nil
		case err != nil:
			return fmt.Errorf("chunker: read: %w", err)
		case n > 0:
			return nil
		}
	}
	return fmt.Errorf("chunker: read: %w", io.ErrNoProgress)
}
