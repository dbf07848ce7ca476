package killpoint

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in    string
		point string
		at    int64
		bad   bool
	}{
		{in: "chunk-stored:3", point: "chunk-stored", at: 3},
		{in: "evict-middle", point: "evict-middle", at: 1},
		{in: "x:0", bad: true},
		{in: "x:-1", bad: true},
		{in: "x:y", bad: true},
		{in: ":2", bad: true},
	} {
		t.Run(c.in, func(t *testing.T) {
			p, err := Parse(c.in, func() {})
			if c.bad {
				if !errors.Is(err, ErrBadPlan) {
					t.Fatalf("Parse(%q) = %v, want ErrBadPlan", c.in, err)
				}
				return
			}
			if err != nil || p.point != c.point || p.at != c.at {
				t.Fatalf("Parse(%q) = %+v, %v", c.in, p, err)
			}
		})
	}
}

func TestReach(t *testing.T) {
	t.Run("kills at the nth arrival only", func(t *testing.T) {
		kills := 0
		p, err := Parse("a:3", func() { kills++ })
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			p.Reach("b")
			p.Reach("a")
			want := 0
			if i >= 3 {
				want = 1
			}
			if kills != want {
				t.Fatalf("after %d arrivals: %d kills, want %d", i, kills, want)
			}
		}
	})
	t.Run("nil plan does nothing", func(t *testing.T) {
		var p *Plan
		p.Reach("a")
	})
	t.Run("package Reach without the variable", func(t *testing.T) {
		t.Setenv(EnvVar, "")
		// fromEnv may have been read already in this process; either way,
		// with no plan naming this point nothing happens.
		Reach("never-planned-point")
	})
}
