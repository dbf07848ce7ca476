package chunker

import (
	"errors"
	"fmt"
)

// ErrBadParams reports chunking parameters that are out of order or out of
// range.
var ErrBadParams = errors.New("bad chunking parameters")

// Default chunk sizes: 256 KiB minimum, 1 MiB average, 4 MiB maximum.
const (
	DefaultMin = 256 << 10
	DefaultAvg = 1 << 20
	DefaultMax = 4 << 20
)

// MaxSize is the largest Max accepted: 1 GiB, far above any sensible chunk
// and small enough that sizes fit an int on every platform.
const MaxSize = 1 << 30

// Params are the chunk sizes a Chunker aims for, in bytes.
type Params struct {
	Min int `json:"min"` // no boundary before this many bytes
	Avg int `json:"avg"` // normalization point; the mean size is near it
	Max int `json:"max"` // a chunk is cut here at the latest
}

// DefaultParams returns DefaultMin, DefaultAvg and DefaultMax as Params.
func DefaultParams() Params {
	return Params{Min: DefaultMin, Avg: DefaultAvg, Max: DefaultMax}
}

// Validate reports, as an error wrapping ErrBadParams, parameters that are
// not 1 <= Min <= Avg <= Max <= MaxSize.
func (p Params) Validate() error {
	if p.Min < 1 || p.Min > p.Avg || p.Avg > p.Max || p.Max > MaxSize {
		return fmt.Errorf("%w: want 1 <= min <= avg <= max <= %d, have min %d avg %d max %d",
			ErrBadParams, MaxSize, p.Min, p.Avg, p.Max)
	}
	return nil
}
