package fstests

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A Group is the cases for one system call (or a family of them), as
// pjdfstest groups its tests by directory: tests/chmod, tests/open, ...
type Group struct {
	Name    string
	Scripts []Script
}

// A Script is one pjdfstest-style test file: steps that build some state and
// assert what each system call returns on it. Every script runs in a fresh
// directory of mode 0755, which is its working directory.
type Script struct {
	Name string
	// Steps is the script text, one step per line:
	//
	//	expect WANT [-u UID] [-g GID[,GID...]] [-U UMASK] OP ARG... [: OP ARG...]
	//	save VAR [-u UID] [-g GID...] OP ARG...
	//	check VALUE CMP VALUE        (CMP is one of == != < <= > >=)
	//
	// WANT is 0 (success), an errno name (alternatives joined by "|") or
	// the value the last operation returns (stat fields, a readlink target,
	// an xattr value). Operations chained with ":" run in one thread and
	// share descriptors, which later operations name by their index (0 is
	// the first descriptor the chain opened). ${VAR} is replaced by a saved
	// value or a built-in (see pjdVars). Blank lines and # comments are
	// ignored.
	Steps string
}

// step is one parsed line of a script.
type step struct {
	Line  int
	Text  string
	Kind  string // "expect", "save" or "check"
	Want  string // expect: the result wanted; save: the variable
	Cred  Cred
	Root  bool // run as the caller (root), not as Cred
	Umask int
	Ops   [][]string // the chain, each operation's name then its arguments
}

// GroupSummary counts one group's assertions after a run.
type GroupSummary struct {
	Group          string
	Passed, Failed int // assertions (expect and check lines)
	FailedScripts  []string
}

var stepWords = regexp.MustCompile(`\S+`)

// parseScript turns a script's text into steps.
func parseScript(text string) ([]step, error) {
	var steps []step
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		st, err := parseStep(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
		st.Line = i + 1
		steps = append(steps, st)
	}
	return steps, nil
}

func parseStep(line string) (step, error) {
	w := stepWords.FindAllString(line, -1)
	st := step{Text: line, Kind: w[0], Root: true}
	switch st.Kind {
	case "check":
		if len(w) != 4 {
			return st, fmt.Errorf("check takes VALUE CMP VALUE")
		}
		st.Ops = [][]string{w[1:]}
		return st, nil
	case "expect", "save":
	default:
		return st, fmt.Errorf("unknown step kind %q", st.Kind)
	}
	if len(w) < 3 {
		return st, fmt.Errorf("%s needs a value and an operation", st.Kind)
	}
	st.Want = w[1]
	w = w[2:]
	for len(w) >= 2 && strings.HasPrefix(w[0], "-") && len(w[0]) == 2 {
		var err error
		switch w[0] {
		case "-u":
			var u uint64
			u, err = strconv.ParseUint(w[1], 10, 32)
			st.Cred.UID = uint32(u)
			st.Root = false
		case "-g":
			for j, g := range strings.Split(w[1], ",") {
				var v uint64
				if v, err = strconv.ParseUint(g, 10, 32); err != nil {
					break
				}
				if j == 0 {
					st.Cred.GID = uint32(v)
				}
				st.Cred.Groups = append(st.Cred.Groups, uint32(v))
			}
			st.Root = false
		case "-U":
			var m uint64
			m, err = strconv.ParseUint(w[1], 8, 32)
			st.Umask = int(m)
		default:
			return st, fmt.Errorf("unknown option %s", w[0])
		}
		if err != nil {
			return st, fmt.Errorf("option %s %s: %w", w[0], w[1], err)
		}
		w = w[2:]
	}
	var op []string
	for _, word := range w {
		if word == ":" {
			st.Ops = append(st.Ops, op)
			op = nil
			continue
		}
		op = append(op, word)
	}
	st.Ops = append(st.Ops, op)
	for _, op := range st.Ops {
		if len(op) == 0 {
			return st, fmt.Errorf("empty operation in a chain")
		}
		if _, ok := pjdOps[op[0]]; !ok {
			return st, fmt.Errorf("unknown operation %q", op[0])
		}
	}
	return st, nil
}

// scriptRun is the state of one script while it runs.
type scriptRun struct {
	t     *testing.T
	dirfd int
	vars  map[string]string
	pass  int
	fail  int
}

// RunGroup runs one group's scripts, each as a subtest in a fresh directory
// under dir, and returns the group's counts. Steps as another user need
// root; without it those scripts fail (they are never skipped silently).
func RunGroup(t *testing.T, dir string, g Group) GroupSummary {
	t.Helper()
	sum := GroupSummary{Group: g.Name}
	for _, sc := range g.Scripts {
		var run *scriptRun
		ok := t.Run(sc.Name, func(t *testing.T) {
			run = runScript(t, dir, sc)
		})
		if run != nil {
			sum.Passed += run.pass
			sum.Failed += run.fail
		}
		if !ok {
			sum.FailedScripts = append(sum.FailedScripts, sc.Name)
			if run == nil || run.fail == 0 {
				sum.Failed++ // a script that could not run counts as one failure
			}
		}
	}
	t.Logf("%s: %d passed, %d failed", g.Name, sum.Passed, sum.Failed)
	return sum
}

func runScript(t *testing.T, dir string, sc Script) *scriptRun {
	steps, err := parseScript(sc.Steps)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	sdir := join(dir, safeName(sc.Name))
	if err := os.Mkdir(sdir, 0o755); err != nil {
		t.Fatalf("make script directory: %v", err)
	}
	if err := os.Chmod(sdir, 0o755); err != nil { // whatever the umask
		t.Fatalf("chmod script directory: %v", err)
	}
	fd, err := unix.Open(sdir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open script directory: %v", err)
	}
	defer unix.Close(fd)
	run := &scriptRun{t: t, dirfd: fd, vars: pjdVars()}
	for _, st := range steps {
		run.run(st)
	}
	return run
}

func (r *scriptRun) run(st step) {
	t := r.t
	t.Helper()
	subst := func(s string) string { return r.expand(s) }
	if st.Kind == "check" {
		a, cmp, b := subst(st.Ops[0][0]), st.Ops[0][1], subst(st.Ops[0][2])
		if ok, err := compare(a, cmp, b); err != nil || !ok {
			r.fail++
			t.Errorf("line %d `%s`: %s %s %s is false %v", st.Line, st.Text, a, cmp, b, errOrEmpty(err))
			return
		}
		r.pass++
		return
	}
	ops := make([][]string, len(st.Ops))
	for i, op := range st.Ops {
		ops[i] = make([]string, len(op))
		for j, a := range op {
			ops[i][j] = subst(a)
		}
	}
	var got string
	err := onThread(threadOpts{dirfd: r.dirfd, umask: st.Umask, cred: st.Cred, keepCaller: st.Root}, func() {
		got = runChain(ops)
	})
	if err != nil {
		r.fail++
		t.Errorf("line %d `%s`: %v", st.Line, st.Text, err)
		return
	}
	if st.Kind == "save" {
		if isErrnoName(got) {
			r.fail++
			t.Errorf("line %d `%s`: failed with %s", st.Line, st.Text, got)
			return
		}
		r.vars[st.Want] = got
		return
	}
	want := subst(st.Want)
	for _, w := range strings.Split(want, "|") {
		if got == w {
			r.pass++
			return
		}
	}
	r.fail++
	t.Errorf("line %d `%s`: got %s, want %s", st.Line, st.Text, got, want)
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func (r *scriptRun) expand(s string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := r.vars[name]; ok {
			return v
		}
		r.t.Errorf("unknown variable %s", m)
		return m
	})
}

// compare compares two values, as integers if both parse as integers.
func compare(a, cmp, b string) (bool, error) {
	x, errA := strconv.ParseInt(a, 0, 64)
	y, errB := strconv.ParseInt(b, 0, 64)
	if errA != nil || errB != nil {
		switch cmp {
		case "==":
			return a == b, nil
		case "!=":
			return a != b, nil
		}
		return false, fmt.Errorf("compare %q %s %q: not numbers", a, cmp, b)
	}
	switch cmp {
	case "==":
		return x == y, nil
	case "!=":
		return x != y, nil
	case "<":
		return x < y, nil
	case "<=":
		return x <= y, nil
	case ">":
		return x > y, nil
	case ">=":
		return x >= y, nil
	}
	return false, fmt.Errorf("unknown comparison %q", cmp)
}

func isErrnoName(s string) bool {
	if len(s) < 2 || s[0] != 'E' {
		return false
	}
	for e := unix.Errno(1); e < 256; e++ {
		if unix.ErrnoName(e) == s {
			return true
		}
	}
	return false
}

// pjdVars returns the built-in variables: names and paths at and just past
// the kernel's limits. ${name255} is a name of 255 bytes (NAME_MAX),
// ${name256} one byte longer; ${path4095} is a relative path of PATH_MAX-1
// bytes whose directories ${path4095dir} names (make them with mkdirall),
// and ${path4096} one byte longer; ${target4095} and ${target4096} are
// symlink targets of those lengths, ${xattr255} an xattr name of 255 bytes
// (XATTR_NAME_MAX) and ${xattr256} one byte longer.
func pjdVars() map[string]string {
	name255 := strings.Repeat("x", 254) + "0"
	// Directories of 200-byte names leave a last component well under
	// NAME_MAX, so that ${path4096} is too long as a path, not as a name.
	comp := strings.Repeat("d", 200)
	dir := comp
	for len(dir)+1+len(comp)+1 < 4095 {
		dir += "/" + comp
	}
	path4095 := dir + "/" + strings.Repeat("y", 4095-len(dir)-1)
	return map[string]string{
		"name255":     name255,
		"name256":     name255 + "1",
		"path4095dir": dir,
		"path4095":    path4095,
		"path4096":    path4095 + "z",
		"target4095":  strings.Repeat("t", 4095),
		"xattr255":    "user." + strings.Repeat("a", 250),
		"xattr256":    "user." + strings.Repeat("a", 251),
		"target4096":  strings.Repeat("t", 4096),
	}
}
