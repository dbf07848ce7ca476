package chunker

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/iotest"
)

func testKey(b byte) [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 's', 'y', 'n', 'c'})
	b := make([]byte, n)
	_, _ = r.Read(b) // ChaCha8.Read never fails
	return b
}

// chunkAll chunks r to the end and returns copies of the chunks, failing t
// on any error and on any chunk outside the size rules.
func chunkAll(t testing.TB, r io.Reader, key [32]byte, p Params) []Chunk {
	t.Helper()
	c := New(r, key, p)
	buf := make([]byte, 0, p.Max)
	var chunks []Chunk
	var off int64
	for {
		ch, err := c.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ch.Offset != off {
			t.Fatalf("chunk %d at offset %d, want %d", len(chunks), ch.Offset, off)
		}
		if ch.Length != len(ch.Data) || ch.Length < 1 || ch.Length > p.Max {
			t.Fatalf("chunk %d: Length %d, len(Data) %d, max %d", len(chunks), ch.Length, len(ch.Data), p.Max)
		}
		off += int64(ch.Length)
		ch.Data = bytes.Clone(ch.Data)
		chunks = append(chunks, ch)
	}
	for i, ch := range chunks[:max(0, len(chunks)-1)] {
		if ch.Length < p.Min {
			t.Fatalf("chunk %d of %d is %d bytes, below min %d", i, len(chunks), ch.Length, p.Min)
		}
	}
	if _, err := c.Next(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after the end = %v, want io.EOF", err)
	}
	return chunks
}

func join(chunks []Chunk) []byte {
	var b []byte
	for _, ch := range chunks {
		b = append(b, ch.Data...)
	}
	return b
}

func lengths(chunks []Chunk) []int {
	l := make([]int, len(chunks))
	for i, ch := range chunks {
		l[i] = ch.Length
	}
	return l
}

func TestReassemble(t *testing.T) {
	p := DefaultParams()
	key := testKey(1)
	sizes := []struct {
		name string
		n    int
	}{
		{"empty", 0}, {"one byte", 1}, {"min-1", p.Min - 1}, {"min", p.Min}, {"min+1", p.Min + 1},
		{"avg", p.Avg}, {"max", p.Max}, {"max+1", p.Max + 1}, {"random 13MiB+7", 13<<20 + 7},
	}
	for _, s := range sizes {
		t.Run(s.name, func(t *testing.T) {
			data := randomBytes(uint64(s.n), s.n)
			chunks := chunkAll(t, bytes.NewReader(data), key, p)
			if !bytes.Equal(join(chunks), data) {
				t.Fatal("chunks do not reassemble to the input")
			}
			if s.n == 0 && len(chunks) != 0 {
				t.Fatalf("empty input gave %d chunks", len(chunks))
			}
			if s.n > 0 && s.n <= p.Min && len(chunks) != 1 {
				t.Fatalf("%d bytes gave %d chunks, want 1", s.n, len(chunks))
			}
		})
	}
	t.Run("zeros are cut at max", func(t *testing.T) {
		// Constant input has the same hash at every position; a key whose
		// gear value for 0 does not make the mask match cuts only at Max.
		data := make([]byte, 3*p.Max+5)
		chunks := chunkAll(t, bytes.NewReader(data), key, p)
		if !bytes.Equal(join(chunks), data) {
			t.Fatal("chunks do not reassemble to the input")
		}
	})
}

func TestSizes(t *testing.T) {
	t.Run("default params average", func(t *testing.T) {
		p := DefaultParams()
		chunks := chunkAll(t, bytes.NewReader(randomBytes(7, 64<<20)), testKey(2), p)
		checkAverage(t, chunks, p)
	})
	t.Run("small params average", func(t *testing.T) {
		// Many more chunks than above, so the mean is tight.
		p := Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
		chunks := chunkAll(t, bytes.NewReader(randomBytes(8, 16<<20)), testKey(3), p)
		checkAverage(t, chunks, p)
	})
	t.Run("min equals max", func(t *testing.T) {
		p := Params{Min: 1000, Avg: 1000, Max: 1000}
		data := randomBytes(9, 10_500)
		chunks := chunkAll(t, bytes.NewReader(data), testKey(3), p)
		want := []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500}
		if got := lengths(chunks); !equalInts(got, want) {
			t.Fatalf("lengths %v, want %v", got, want)
		}
	})
	t.Run("tiny params", func(t *testing.T) {
		p := Params{Min: 1, Avg: 2, Max: 3}
		data := randomBytes(10, 10_000)
		chunks := chunkAll(t, bytes.NewReader(data), testKey(3), p)
		if !bytes.Equal(join(chunks), data) {
			t.Fatal("chunks do not reassemble to the input")
		}
	})
}

func checkAverage(t *testing.T, chunks []Chunk, p Params) {
	t.Helper()
	if len(chunks) < 2 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	body := chunks[:len(chunks)-1] // the last one is cut by the end of input
	total := 0
	for _, ch := range body {
		total += ch.Length
	}
	mean := float64(total) / float64(len(body))
	t.Logf("%d chunks, mean %.0f bytes (avg param %d)", len(chunks), mean, p.Avg)
	if mean < 0.7*float64(p.Avg) || mean > 1.3*float64(p.Avg) {
		t.Fatalf("mean chunk size %.0f outside ±30%% of %d", mean, p.Avg)
	}
}

func TestInsertionResynchronises(t *testing.T) {
	p := DefaultParams()
	key := testKey(4)
	data := randomBytes(11, 32<<20)
	before := chunkAll(t, bytes.NewReader(data), key, p)
	for _, ins := range []struct {
		name string
		at   int
		add  []byte
	}{
		{"3 bytes in the middle", len(data) / 2, []byte("abc")},
		{"1 byte near the start", 1000, []byte{0}},
	} {
		t.Run(ins.name, func(t *testing.T) {
			edited := append(append(bytes.Clone(data[:ins.at]), ins.add...), data[ins.at:]...)
			after := chunkAll(t, bytes.NewReader(edited), key, p)
			if !bytes.Equal(join(after), edited) {
				t.Fatal("chunks do not reassemble to the edited input")
			}
			old := map[[32]byte]bool{}
			for _, ch := range before {
				old[sha256.Sum256(ch.Data)] = true
			}
			changed := 0
			for _, ch := range after {
				if !old[sha256.Sum256(ch.Data)] {
					changed++
				}
			}
			t.Logf("%d of %d chunks changed", changed, len(after))
			if changed > 3 {
				t.Fatalf("%d chunks changed, want at most 3", changed)
			}
		})
	}
}

func TestKeying(t *testing.T) {
	p := Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	data := randomBytes(12, 2<<20)
	a := lengths(chunkAll(t, bytes.NewReader(data), testKey(5), p))
	t.Run("deterministic for one key", func(t *testing.T) {
		b := lengths(chunkAll(t, bytes.NewReader(data), testKey(5), p))
		if !equalInts(a, b) {
			t.Fatal("same key and input gave different boundaries")
		}
	})
	t.Run("different keys differ", func(t *testing.T) {
		b := lengths(chunkAll(t, bytes.NewReader(data), testKey(6), p))
		if equalInts(a, b) {
			t.Fatal("two keys gave the same boundaries")
		}
		common := commonBoundaries(a, b)
		t.Logf("%d and %d chunks, %d boundaries in common", len(a), len(b), common)
		if common > len(a)/4 {
			t.Fatalf("%d of %d boundaries shared between keys", common, len(a))
		}
	})
	t.Run("known answer", func(t *testing.T) {
		// Frozen: boundaries must not move between versions, or new uploads
		// of unchanged files stop deduplicating against old chunks.
		got := lengths(chunkAll(t, bytes.NewReader(randomBytes(13, 64<<10)), testKey(7), Params{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}))
		if !equalInts(got, knownLengths) {
			t.Fatalf("lengths %v, want %v", got, knownLengths)
		}
	})
}

var knownLengths = []int{4730, 3126, 5542, 4325, 5757, 4111, 4395, 4754, 4652, 5063, 7481, 4181, 5007, 2412}

func commonBoundaries(a, b []int) int {
	ends := map[int]bool{}
	e := 0
	for _, l := range a[:len(a)-1] {
		e += l
		ends[e] = true
	}
	n := 0
	e = 0
	for _, l := range b[:len(b)-1] {
		e += l
		if ends[e] {
			n++
		}
	}
	return n
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScanMatchesOneByteLoop(t *testing.T) {
	// scan takes two bytes per step; it must find exactly the boundaries of
	// the textbook one-byte gear loop.
	reference := func(h uint64, data []byte, mask uint64, gear *[256]uint64) (int, uint64) {
		for i, b := range data {
			h = h<<1 + gear[b]
			if h&mask == 0 {
				return i, h
			}
		}
		return -1, h
	}
	data := randomBytes(17, 1<<20+3)
	g := gearTable(testKey(11))
	for _, bits := range []int{1, 4, 8, 12} {
		mask := ^uint64(0) << (64 - bits)
		t.Run(itoa(bits)+" bit mask", func(t *testing.T) {
			for start, found := 0, 0; start < len(data); found++ {
				for _, n := range []int{0, 1, 2, 3} { // odd and even lengths
					if start+n > len(data) {
						break
					}
					i1, h1 := reference(5, data[start:start+n], mask, &g)
					i2, h2 := scan(5, data[start:start+n], mask, &g)
					if i1 != i2 || h1 != h2 {
						t.Fatalf("at %d, %d bytes: scan = %d, %x; reference = %d, %x", start, n, i2, h2, i1, h1)
					}
				}
				i1, h1 := reference(uint64(start), data[start:], mask, &g)
				i2, h2 := scan(uint64(start), data[start:], mask, &g)
				if i1 != i2 || h1 != h2 {
					t.Fatalf("at %d: scan = %d, %x; reference = %d, %x", start, i2, h2, i1, h1)
				}
				if i1 < 0 || found > 2000 {
					break
				}
				start += i1 + 1
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReaders(t *testing.T) {
	p := Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	data := randomBytes(14, 1<<20+3)
	want := lengths(chunkAll(t, bytes.NewReader(data), testKey(8), p))
	for _, r := range []struct {
		name string
		r    func() io.Reader
	}{
		{"half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) }},
		{"data with eof", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data[:100<<10])) }},
	} {
		t.Run(r.name, func(t *testing.T) {
			chunks := chunkAll(t, r.r(), testKey(8), p)
			if !bytes.Equal(join(chunks), data[:len(join(chunks))]) {
				t.Fatal("chunks do not reassemble to the input")
			}
			if r.name != "one byte reads" && !equalInts(lengths(chunks), want) {
				t.Fatal("boundaries depend on how the reader splits its reads")
			}
		})
	}
	t.Run("read error is returned and sticky", func(t *testing.T) {
		boom := errors.New("boom")
		c := New(io.MultiReader(bytes.NewReader(data[:50<<10]), iotest.ErrReader(boom)), testKey(8), p)
		buf := make([]byte, 0, p.Max)
		var err error
		for range 100 {
			if _, err = c.Next(buf); err != nil {
				break
			}
		}
		if !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want an error wrapping boom", err)
		}
		if _, err2 := c.Next(buf); !errors.Is(err2, boom) {
			t.Fatalf("Next after the error = %v, want the same error", err2)
		}
	})
	t.Run("reader without progress", func(t *testing.T) {
		c := New(emptyReader{}, testKey(8), p)
		if _, err := c.Next(nil); !errors.Is(err, io.ErrNoProgress) {
			t.Fatalf("Next = %v, want io.ErrNoProgress", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		c := New(bytes.NewReader(data), testKey(8), p)
		buf := make([]byte, 0, p.Max)
		if _, err := c.Next(buf); err != nil {
			t.Fatalf("Next: %v", err)
		}
		c.Reset(bytes.NewReader(data))
		var got []int
		for {
			ch, err := c.Next(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if len(got) == 0 && ch.Offset != 0 {
				t.Fatalf("first chunk after Reset at offset %d", ch.Offset)
			}
			got = append(got, ch.Length)
		}
		if !equalInts(got, want) {
			t.Fatal("boundaries after Reset differ from a fresh Chunker")
		}
	})
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestDataAliasing(t *testing.T) {
	p := Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	data := randomBytes(15, 100<<10)
	t.Run("aliases a big enough buf", func(t *testing.T) {
		c := New(bytes.NewReader(data), testKey(9), p)
		buf := make([]byte, 0, p.Max)
		ch, err := c.Next(buf)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if &ch.Data[0] != &buf[:1][0] {
			t.Fatal("Data does not alias buf")
		}
	})
	t.Run("nil buf allocates", func(t *testing.T) {
		c := New(bytes.NewReader(data), testKey(9), p)
		ch, err := c.Next(nil)
		if err != nil || !bytes.Equal(ch.Data, data[:ch.Length]) {
			t.Fatalf("Next(nil) = %d bytes, %v", len(ch.Data), err)
		}
	})
}

func TestNoAllocationsPerChunk(t *testing.T) {
	p := Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	r := bytes.NewReader(randomBytes(16, 8<<20))
	c := New(r, testKey(10), p)
	buf := make([]byte, 0, p.Max)
	var err error
	allocs := testing.AllocsPerRun(200, func() {
		if _, e := c.Next(buf); e != nil {
			err = e
		}
	})
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per chunk, want 0", allocs)
	}
}

func TestBadParams(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams(), true},
		{"all equal", Params{Min: 1, Avg: 1, Max: 1}, true},
		{"max at cap", Params{Min: 1, Avg: 1, Max: MaxSize}, true},
		{"zero", Params{}, false},
		{"negative min", Params{Min: -1, Avg: 1, Max: 1}, false},
		{"min above avg", Params{Min: 3, Avg: 2, Max: 4}, false},
		{"avg above max", Params{Min: 1, Avg: 5, Max: 4}, false},
		{"max above cap", Params{Min: 1, Avg: 1, Max: MaxSize + 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadParams)) {
				t.Fatalf("Validate() = %v, ok want %v", err, tt.ok)
			}
			if !tt.ok {
				c := New(bytes.NewReader([]byte("data")), testKey(1), tt.p)
				if _, err := c.Next(nil); !errors.Is(err, ErrBadParams) {
					t.Fatalf("Next with bad params = %v, want ErrBadParams", err)
				}
			}
		})
	}
}
