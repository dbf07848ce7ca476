package main

// This file keeps DESIGN.md's package arrows true. It lives in cmd/syncfs
// only because cmd sits at the top of the arrows; every identifier in it
// starts with "layering" so that it cannot collide with the CLI's own names.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// layeringRule forbids the packages in the trees from to depend, directly or
// through other syncfs packages, on any package in the trees deny. Trees are
// module-relative import paths ("fs" covers fs and fs/...; "" is the whole
// module). A package may always depend on its own component (see
// layeringComponent), so "imports no other syncfs package" is deny "".
type layeringRule struct {
	name string
	from []string
	deny []string
	why  string
}

// layeringRules returns DESIGN.md's arrows ("cmd -> fs -> index/cache;
// resolver -> index/cache/crypto/blobstore; no package reaches up") as rules.
// Only non-test imports count: a test may wire anything it needs.
func layeringRules() []layeringRule {
	return []layeringRule{
		{
			name: "fs_not_store_side",
			from: []string{"fs"},
			deny: []string{"blobstore", "resolver", "crypto"},
			why:  "fs is the FUSE adapter over index and cache; it meets the resolver only there and never calls the store",
		},
		{
			name: "lower_not_upper",
			from: []string{"index", "cache", "crypto", "blobstore"},
			deny: []string{"fs", "resolver", "cmd"},
			why:  "index, cache, crypto and blobstore sit below fs, resolver and cmd; no package reaches up",
		},
		{
			name: "blobstore_leaf",
			from: []string{"blobstore"},
			deny: []string{""},
			why:  "blobstore implementations depend on no other syncfs package",
		},
		{
			name: "crypto_leaf",
			from: []string{"crypto"},
			deny: []string{""},
			why:  "crypto is pure: no I/O and no other syncfs package",
		},
		{
			name: "cache_not_index",
			from: []string{"cache"},
			deny: []string{"index", "fs", "resolver"},
			why:  "cache keeps content only; index and cache are siblings that fs and resolver combine",
		},
		{
			name: "resolver_not_fs",
			from: []string{"resolver"},
			deny: []string{"fs"},
			why:  "resolver and fs meet only in index and cache (the Fetcher interface and the change feed)",
		},
		{
			name: "metrics_below_fs",
			from: []string{"metrics"},
			deny: []string{"fs", "index", "cache", "resolver", "crypto", "cmd"},
			why:  "metrics is recorded into by fs and cmd; only its storemetrics wrapper may know blobstore, and nothing it imports may reach fs's forbidden packages",
		},
		{
			name: "nothing_imports_cmd",
			from: []string{""},
			deny: []string{"cmd"},
			why:  "cmd only wires the parts together; nothing depends on it",
		},
	}
}

// layeringViolation is one forbidden dependency, with the import chain that
// makes it (from first, forbidden package last).
type layeringViolation struct {
	rule  string
	chain []string
}

func (v layeringViolation) String() string {
	names := make([]string, len(v.chain))
	for i, p := range v.chain {
		names[i] = layeringDisplay(p)
	}
	return strings.Join(names, " -> ")
}

// message explains the violation: the chain, the edge that crosses the
// line, and why the line is there.
func (v layeringViolation) message(r layeringRule) string {
	from, to := v.chain[0], v.chain[len(v.chain)-1]
	msg := fmt.Sprintf("forbidden dependency %s: %s must not import %s", v, layeringDisplay(from), layeringDisplay(to))
	if len(v.chain) > 2 {
		msg += fmt.Sprintf(", even indirectly (the edge %s -> %s brings it in)",
			layeringDisplay(v.chain[len(v.chain)-2]), layeringDisplay(to))
	}
	return msg + ": " + r.why
}

func layeringDisplay(rel string) string {
	if rel == "" {
		return "(module root)"
	}
	return rel
}

// layeringIn reports whether the module-relative package rel lies in tree.
func layeringIn(rel, tree string) bool {
	return tree == "" || rel == tree || strings.HasPrefix(rel, tree+"/")
}

// layeringComponent returns the unit within which imports are free: the
// first path element, or the first two under cmd (each command is its own).
func layeringComponent(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if parts[0] == "cmd" && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

func layeringMatchesAny(rel string, trees []string) bool {
	return slices.ContainsFunc(trees, func(tree string) bool { return layeringIn(rel, tree) })
}

// layeringRuleApplies reports whether any package in imports falls under the
// rule, so that a rule whose packages do not exist yet is skipped.
func layeringRuleApplies(imports map[string][]string, r layeringRule) bool {
	for rel := range imports {
		if layeringMatchesAny(rel, r.from) {
			return true
		}
	}
	return false
}

// layeringCheck returns the rule's violations in imports, a graph from each
// module-relative package to the module-relative packages it imports. For
// each package under the rule it walks the graph breadth-first, so each
// reported chain is a shortest one, and stops at the first forbidden package
// on a path rather than reporting everything behind it.
func layeringCheck(imports map[string][]string, r layeringRule) []layeringViolation {
	var out []layeringViolation
	for _, start := range slices.Sorted(maps.Keys(imports)) {
		if !layeringMatchesAny(start, r.from) {
			continue
		}
		parent := map[string]string{start: start}
		queue := []string{start}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, q := range slices.Sorted(slices.Values(imports[p])) {
				if _, seen := parent[q]; seen {
					continue
				}
				parent[q] = p
				if layeringComponent(q) != layeringComponent(start) && layeringMatchesAny(q, r.deny) {
					out = append(out, layeringViolation{rule: r.name, chain: layeringChain(parent, start, q)})
					continue
				}
				queue = append(queue, q)
			}
		}
	}
	return out
}

func layeringChain(parent map[string]string, start, end string) []string {
	chain := []string{end}
	for p := end; p != start; {
		p = parent[p]
		chain = append(chain, p)
	}
	slices.Reverse(chain)
	return chain
}

// layeringPackage is the part of `go list -json` output this test reads.
type layeringPackage struct {
	ImportPath string
	Imports    []string
	Module     *struct {
		Path string
		Main bool
	}
	Error *struct {
		Err string
	}
}

// layeringGraph runs `go list -e -deps -json ./...` at the module root and
// returns the module's packages, module-relative, each with the module
// packages it imports (test files excluded), plus any package load errors.
func layeringGraph(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command: %v", err)
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		t.Fatalf("go env GOMOD: not inside a module (%q)", gomod)
	}
	cmd := exec.CommandContext(ctx, goBin, "list", "-e", "-deps", "-json", "./...")
	cmd.Dir = filepath.Dir(gomod)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}

	var pkgs []layeringPackage
	module := ""
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p layeringPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Module != nil && p.Module.Main {
			module = p.Module.Path
		}
		pkgs = append(pkgs, p)
	}
	if module == "" {
		t.Fatalf("go list listed no package of the main module")
	}

	rel := func(path string) (string, bool) {
		if path == module {
			return "", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	graph := map[string][]string{}
	var loadErrs []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		if p.Error != nil {
			loadErrs = append(loadErrs, fmt.Sprintf("%s: %s", p.ImportPath, p.Error.Err))
		}
		var deps []string
		for _, imp := range p.Imports {
			if to, ok := rel(imp); ok {
				deps = append(deps, to)
			}
		}
		graph[from] = deps
	}
	return graph, loadErrs
}

// TestLayering checks the module's real import graph against DESIGN.md's
// arrows.
func TestLayering(t *testing.T) {
	graph, loadErrs := layeringGraph(t)
	for _, e := range loadErrs {
		// A package that does not load is the build's failure to report;
		// its imports may be incomplete here, so say so.
		t.Logf("package load error (its imports may be incomplete): %s", e)
	}
	for _, r := range layeringRules() {
		t.Run(r.name, func(t *testing.T) {
			if !layeringRuleApplies(graph, r) {
				t.Skipf("no package under %q exists yet", r.from)
			}
			for _, v := range layeringCheck(graph, r) {
				t.Error(v.message(r))
			}
		})
	}
}

// TestLayeringCheck proves the checker on made-up graphs, since the real one
// is (we hope) clean and so cannot show that violations are caught.
func TestLayeringCheck(t *testing.T) {
	rules := layeringRules()
	tests := []struct {
		name    string
		imports map[string][]string
		want    []string // "rule: chain"
	}{
		{
			name:    "allowed arrows",
			imports: map[string][]string{"cmd/syncfs": {"fs", "resolver"}, "fs": {"index", "cache"}, "resolver": {"index", "cache", "crypto", "blobstore"}, "index": nil, "cache": nil, "crypto": nil, "blobstore": nil},
		},
		{
			name:    "own subpackages",
			imports: map[string][]string{"blobstore/s3": {"blobstore", "blobstore/internal/retry"}, "blobstore": nil, "blobstore/internal/retry": {"blobstore"}, "cmd/syncfs": {"cmd/syncfs/internal/flags"}, "cmd/syncfs/internal/flags": nil},
		},
		{
			name:    "fs imports blobstore directly",
			imports: map[string][]string{"fs": {"blobstore"}, "blobstore": nil},
			want:    []string{"fs_not_store_side: fs -> blobstore"},
		},
		{
			name:    "fs reaches crypto through index",
			imports: map[string][]string{"fs": {"index"}, "index": {"crypto"}, "crypto": nil},
			want:    []string{"fs_not_store_side: fs -> index -> crypto"},
		},
		{
			name:    "fs subpackage imports a resolver subpackage",
			imports: map[string][]string{"fs/internal/x": {"resolver/gc"}, "resolver/gc": nil},
			want:    []string{"fs_not_store_side: fs/internal/x -> resolver/gc"},
		},
		{
			name:    "blobstore imports crypto",
			imports: map[string][]string{"blobstore/s3": {"crypto"}, "crypto": nil},
			want:    []string{"blobstore_leaf: blobstore/s3 -> crypto"},
		},
		{
			name:    "crypto imports the module root",
			imports: map[string][]string{"crypto": {""}, "": nil},
			want:    []string{"crypto_leaf: crypto -> (module root)"},
		},
		{
			name:    "cache imports index",
			imports: map[string][]string{"cache": {"index"}, "index": nil},
			want:    []string{"cache_not_index: cache -> index"},
		},
		{
			name:    "index reaches up to resolver",
			imports: map[string][]string{"index": {"resolver"}, "resolver": nil},
			want:    []string{"lower_not_upper: index -> resolver"},
		},
		{
			name:    "resolver imports fs",
			imports: map[string][]string{"resolver": {"fs"}, "fs": nil},
			want:    []string{"resolver_not_fs: resolver -> fs"},
		},
		{
			name:    "a package imports a cmd subpackage",
			imports: map[string][]string{"fstests": {"cmd/syncfs/internal/x"}, "cmd/syncfs/internal/x": nil, "cmd/other": {"cmd/syncfs/internal/x"}},
			want:    []string{"nothing_imports_cmd: cmd/other -> cmd/syncfs/internal/x", "nothing_imports_cmd: fstests -> cmd/syncfs/internal/x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range rules {
				for _, v := range layeringCheck(tt.imports, r) {
					got = append(got, v.rule+": "+v.String())
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got %q\nwant %q", got, want)
			}
		})
	}
	t.Run("message names the chain and the edge", func(t *testing.T) {
		v := layeringViolation{rule: "r", chain: []string{"fs", "index", "crypto"}}
		got := v.message(layeringRule{why: "because"})
		want := "forbidden dependency fs -> index -> crypto: fs must not import crypto, even indirectly (the edge index -> crypto brings it in): because"
		if got != want {
			t.Errorf("message:\n got %q\nwant %q", got, want)
		}
	})
	t.Run("rules without packages are skipped", func(t *testing.T) {
		if layeringRuleApplies(map[string][]string{"fs": nil}, layeringRule{from: []string{"resolver"}}) {
			t.Errorf("a rule about resolver applies to a graph without it")
		}
	})
}
