package chunker

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// BenchmarkNext chunks 64 MiB of random data with the default parameters:
// reading from memory, hashing, and copying each chunk into the caller's
// buffer.
func BenchmarkNext(b *testing.B) {
	p := DefaultParams()
	data := randomBytes(1, 64<<20)
	r := bytes.NewReader(data)
	c := New(r, testKey(1), p)
	buf := make([]byte, 0, p.Max)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(buf); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

// BenchmarkScan measures the boundary scan alone: the gear hash over 1 MiB
// with a mask that (almost) never matches.
func BenchmarkScan(b *testing.B) {
	data := randomBytes(2, 1<<20)
	g := gearTable(testKey(1))
	b.SetBytes(int64(len(data)))
	var h uint64
	for b.Loop() {
		_, h = scan(h, data, ^uint64(0), &g)
	}
}
