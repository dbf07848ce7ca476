package s3

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// envBenchSize sets the bytes BenchmarkPut uploads per iteration, e.g.
// "1GiB", "256MiB" or a plain byte count. Unset, the benchmark skips, so that
// a plain `go test -bench .` (or CI) never pushes a gigabyte by accident.
const envBenchSize = "SYNCFS_BENCH_PUT_SIZE"

// benchSize parses envBenchSize.
func benchSize(b *testing.B) int64 {
	b.Helper()
	v := os.Getenv(envBenchSize)
	if v == "" {
		b.Skipf("set %s (e.g. 1GiB) to run", envBenchSize)
	}
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			v, mult = n, m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a size such as 1GiB", envBenchSize, os.Getenv(envBenchSize))
	}
	return n * mult
}

// repeatReader is an io.ReaderAt of any size that repeats one random block,
// so that a gigabyte body costs a megabyte of memory and nothing compresses.
type repeatReader struct{ block []byte }

func (r repeatReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		i := int((off + int64(n)) % int64(len(r.block)))
		n += copy(p[n:], r.block[i:])
	}
	return n, nil
}

// BenchmarkPut measures upload (and download) throughput to the S3 test
// server: one object of the whole size (multipart, DefaultConcurrency parts
// in flight), and the same bytes as 1 MiB objects from 4 goroutines, as the
// uploader sends chunks.
func BenchmarkPut(b *testing.B) {
	size := benchSize(b)
	s, err := Open(b.Context(), newBucket(b, server(b)))
	if err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		b.Fatal(err)
	}
	body := repeatReader{block: block}

	b.Run("OneObject", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := s.Put(b.Context(), "bench/one", body, size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OneObjectGet", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			rc, err := s.Get(b.Context(), "bench/one", 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != size {
				b.Fatalf("read %d of %d bytes: %v", n, size, err)
			}
		}
	})
	b.Run("1MiBObjects", func(b *testing.B) {
		const part = 1 << 20
		count := (size + part - 1) / part
		b.SetBytes(count * part)
		for b.Loop() {
			if err := putMany(b.Context(), s, body, count, part, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// putMany stores count objects of size bytes from workers goroutines.
func putMany(ctx context.Context, s *Store, body io.ReaderAt, count, size int64, workers int) error {
	work := make(chan int64)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range work {
				if err := s.Put(ctx, fmt.Sprintf("bench/many/%06d", i), body, size); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range count {
		select {
		case work <- i:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}
