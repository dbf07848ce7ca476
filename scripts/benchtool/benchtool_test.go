package main

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetaLayout(t *testing.T) {
	t.Run("flat", func(t *testing.T) {
		l := newMetaLayout(10, false)
		if len(l.dirs) != 0 || len(l.files) != 10 {
			t.Fatalf("got %d dirs, %d files; want 0, 10", len(l.dirs), len(l.files))
		}
	})
	t.Run("tree", func(t *testing.T) {
		l := newMetaLayout(1000, true)
		wantDirs := treeFanout + treeFanout*treeFanout + treeFanout*treeFanout*treeFanout
		if len(l.dirs) != wantDirs || len(l.files) != 1000 {
			t.Fatalf("got %d dirs, %d files; want %d, 1000", len(l.dirs), len(l.files), wantDirs)
		}
		if got := strings.Count(l.files[0], string(filepath.Separator)); got != treeDepth {
			t.Errorf("file %q is %d levels deep, want %d", l.files[0], got, treeDepth)
		}
	})
}

func TestMetaRun(t *testing.T) {
	for _, tree := range []bool{false, true} {
		name := "flat"
		if tree {
			name = "tree"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "meta")
			phases, err := metaRun(dir, newMetaLayout(300, tree))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range phases {
				names = append(names, p.name)
			}
			if got := strings.Join(names, ","); got != "create,stat,readdir,delete" {
				t.Errorf("phases %s", got)
			}
			left, err := os.ReadDir(dir)
			if err != nil || len(left) != 0 {
				t.Errorf("work dir not emptied: %d entries left, err %v", len(left), err)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	cases := []struct {
		name   string
		better string
		raw, v float64
		want   float64
		ok     bool
	}{
		{"throughput slower", betterHigh, 200, 100, 0.5, true},
		{"time slower", betterLow, 1, 4, 0.25, true},
		{"time faster", betterLow, 2, 1, 2, true},
		{"info has none", betterInfo, 1, 2, 0, false},
		{"failed run", betterHigh, 1, math.NaN(), 0, false},
		{"zero reference", betterHigh, 0, 1, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &row{better: c.better, values: map[string]float64{refTarget: c.raw, "x": c.v}}
			got, ok := r.ratio("x")
			if ok != c.ok || math.Abs(got-c.want) > 1e-9 {
				t.Errorf("ratio = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "raw")
	data := "seq write\tMiB/s\thi\traw\t400\n" +
		"seq write\tMiB/s\thi\tsyncfs\t200\n" +
		"tar x\ts\tlo\traw\t1\n" +
		"tar x\ts\tlo\tsyncfs\tfail\n" +
		"store size\tMiB\tinfo\tsyncfs\t257\n"
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"report", "-in", in, "-out", dir, "-targets", "raw,syncfs"}, &out); err != nil {
		t.Fatal(err)
	}
	t.Run("table", func(t *testing.T) {
		for _, want := range []string{"200 (0.50x)", "failed", "257"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("ratios.dat", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "ratios.dat"))
		if err != nil {
			t.Fatal(err)
		}
		want := "workload\tsyncfs\n\"seq write\"\t0.5000\n\"tar x\"\t-\n"
		if string(b) != want {
			t.Errorf("ratios.dat = %q, want %q", b, want)
		}
	})
	t.Run("bad line", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		if err := os.WriteFile(bad, []byte("a\tb\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := run([]string{"report", "-in", bad, "-out", dir}, &bytes.Buffer{})
		if !errors.Is(err, errBadInput) {
			t.Errorf("err = %v, want errBadInput", err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if err := run(nil, &bytes.Buffer{}); !errors.Is(err, errUsage) {
			t.Errorf("err = %v, want errUsage", err)
		}
	})
}

func TestOps(t *testing.T) {
	t.Run("parse", func(t *testing.T) {
		in := "# HELP x\nsyncfs_fuse_requests_total{op=\"READ\"} 12\nsyncfs_fuse_requests_total{op=\"LOOKUP\"} 3e+06\nother 1\n"
		got, err := parseOps(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if got["READ"] != 12 || got["LOOKUP"] != 3000000 || len(got) != 2 {
			t.Errorf("parsed %v", got)
		}
	})
	t.Run("table", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "ops")
		if err := os.WriteFile(p, []byte("tar x\tCREATE\t10\ntar x\tLOOKUP\t5\nmeta\tLOOKUP\t20\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		tab, err := readOpsTable(p)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		tab.writeMarkdown(&b)
		want := "| op | tar x | meta |\n|---|---:|---:|\n| LOOKUP | 5 | 20 |\n| CREATE | 10 | - |\n"
		if !strings.HasSuffix(b.String(), want) {
			t.Errorf("markdown:\n%s\nwant suffix:\n%s", b.String(), want)
		}
	})
}
