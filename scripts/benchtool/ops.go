package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// opsMetric is the counter of FUSE requests that syncfs mount --metrics-addr
// serves, one series per op.
const opsMetric = "syncfs_fuse_requests_total"

// runOps implements "benchtool ops": scrape the daemon's request counts,
// print the change since the snapshot file (under a label) and save the new
// counts as the next snapshot.
func runOps(args []string, w io.Writer) error {
	fl := flag.NewFlagSet("ops", flag.ContinueOnError)
	url := fl.String("url", "", "the daemon's metrics URL, e.g. http://127.0.0.1:9178/metrics")
	snap := fl.String("snap", "", "snapshot file: read for the previous counts, then rewritten")
	label := fl.String("label", "", "workload the requests since the snapshot belong to (empty: only save the snapshot)")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("ops flags: %w", errUsage)
	}
	if *url == "" || *snap == "" {
		return fmt.Errorf("ops needs -url and -snap: %w", errUsage)
	}
	now, err := scrapeOps(*url)
	if err != nil {
		return err
	}
	if *label != "" {
		before, err := readOpsSnapshot(*snap)
		if err != nil {
			return err
		}
		for _, op := range slices.Sorted(maps.Keys(now)) {
			if d := now[op] - before[op]; d > 0 {
				fmt.Fprintf(w, "%s\t%s\t%d\n", *label, op, d)
			}
		}
	}
	return writeFile(*snap, func(fw io.Writer) {
		for op, n := range now {
			fmt.Fprintf(fw, "%s\t%d\n", op, n)
		}
	})
}

// scrapeOps fetches the Prometheus text at url and returns the request
// count of each op.
func scrapeOps(url string) (map[string]int64, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseOps(resp.Body)
}

// parseOps reads lines like `syncfs_fuse_requests_total{op="READ"} 42`.
func parseOps(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, opsMetric+`{op="`)
		if !ok {
			continue
		}
		op, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("ops line %q: %w", line, errBadInput)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("ops line %q: %w", line, errBadInput)
		}
		out[op] = int64(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// readOpsSnapshot reads a snapshot written by runOps; a missing one is empty.
func readOpsSnapshot(path string) (map[string]int64, error) {
	out := map[string]int64{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ops snapshot: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		op, n, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ops snapshot line %q: %w", line, errBadInput)
		}
		out[op] = v
	}
	return out, nil
}

// opsTable is the FUSE requests per workload: labels in first-seen order,
// ops by total requests, most first.
type opsTable struct {
	labels []string
	ops    []string
	counts map[[2]string]int64 // (label, op) -> requests
}

// readOpsTable parses the lines "label<TAB>op<TAB>count" runOps printed.
func readOpsTable(path string) (*opsTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ops: %w", err)
	}
	defer f.Close()
	t := &opsTable{counts: map[[2]string]int64{}}
	totals := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			continue
		}
		n, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ops line %q: %w", sc.Text(), errBadInput)
		}
		label, op := fields[0], fields[1]
		if !slices.Contains(t.labels, label) {
			t.labels = append(t.labels, label)
		}
		if _, ok := totals[op]; !ok {
			t.ops = append(t.ops, op)
		}
		totals[op] += n
		t.counts[[2]string{label, op}] += n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ops: %w", err)
	}
	slices.SortStableFunc(t.ops, func(a, b string) int { return int(totals[b] - totals[a]) })
	return t, nil
}

const opsNote = "syncfs FUSE requests per workload (from the daemon's metrics):"

// writeText prints the table aligned for the terminal.
func (t *opsTable) writeText(w io.Writer) {
	fmt.Fprintln(w, opsNote)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\t%s\t\n", strings.Join(t.labels, "\t"))
	for _, op := range t.ops {
		fmt.Fprintf(tw, "%s\t%s\t\n", op, strings.Join(t.row(op), "\t"))
	}
	tw.Flush()
}

// writeMarkdown writes the same table as Markdown.
func (t *opsTable) writeMarkdown(w io.Writer) {
	fmt.Fprintln(w, opsNote)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| op | %s |\n", strings.Join(t.labels, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(t.labels)))
	for _, op := range t.ops {
		fmt.Fprintf(w, "| %s | %s |\n", op, strings.Join(t.row(op), " | "))
	}
}

func (t *opsTable) row(op string) []string {
	cells := make([]string, len(t.labels))
	for i, l := range t.labels {
		cells[i] = "-"
		if n, ok := t.counts[[2]string{l, op}]; ok {
			cells[i] = strconv.FormatInt(n, 10)
		}
	}
	return cells
}
