package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1234", want: 1234},
		{in: "500M", want: 500 << 20},
		{in: "10G", want: 10 << 30},
		{in: "10GiB", want: 10 << 30},
		{in: "1.5k", want: 1536},
		{in: "2TB", want: 2 << 40},
		{in: "0", want: 0},
		{in: "unlimited", want: 0},
		{in: "", bad: true},
		{in: "12X", bad: true},
		{in: "-1G", bad: true},
		{in: "G", bad: true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseSize(c.in)
			if (err != nil) != c.bad || got != c.want {
				t.Fatalf("parseSize(%q) = %d, %v", c.in, got, err)
			}
		})
	}
}

func TestDefaultBudget(t *testing.T) {
	b, err := defaultBudget(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b < budgetMin || b > budgetMax {
		t.Fatalf("default budget %d outside [%d, %d]", b, budgetMin, budgetMax)
	}
}
