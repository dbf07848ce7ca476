package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Better values: which way a figure improves. "info" figures (a store's size)
// have no direction and get no ratio.
const (
	betterHigh = "hi"
	betterLow  = "lo"
	betterInfo = "info"
)

// refTarget is the target every ratio is taken against.
const refTarget = "raw"

// errBadInput reports a malformed measurements file.
var errBadInput = errors.New("bad measurements line")

// row is one workload's figures, one per target.
type row struct {
	workload string
	unit     string
	better   string
	values   map[string]float64 // target -> value; NaN when the run failed
}

// ratio returns target's ratio to the reference, oriented so that higher is
// better, and false when there is none (no reference, a failed run, an info
// figure, or a zero that would divide).
func (r *row) ratio(target string) (float64, bool) {
	ref, okRef := r.values[refTarget]
	v, ok := r.values[target]
	if !okRef || !ok || math.IsNaN(ref) || math.IsNaN(v) || ref == 0 || v == 0 {
		return 0, false
	}
	switch r.better {
	case betterHigh:
		return v / ref, true
	case betterLow:
		return ref / v, true
	default:
		return 0, false
	}
}

// runReport implements "benchtool report".
func runReport(args []string, w io.Writer) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fl.String("in", "", "measurements file written by scripts/bench")
	out := fl.String("out", "", "directory for results.tsv, results.md and ratios.dat")
	targetList := fl.String("targets", "raw,syncfs,rclone,gocryptfs", "targets, in column order, raw first")
	note := fl.String("note", "", "a line on the run's settings, printed above the tables")
	opsFile := fl.String("ops", "", "FUSE request counts per workload written by benchtool ops (optional)")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("report flags: %w", errUsage)
	}
	if *in == "" || *out == "" {
		return fmt.Errorf("report needs -in and -out: %w", errUsage)
	}
	targets := strings.Split(*targetList, ",")
	rows, err := readRows(*in)
	if err != nil {
		return err
	}
	if *note != "" {
		fmt.Fprintln(w, *note)
	}
	var ops *opsTable
	if *opsFile != "" {
		if ops, err = readOpsTable(*opsFile); err != nil {
			return err
		}
	}
	writeText(w, rows, targets)
	if ops != nil && len(ops.labels) > 0 {
		fmt.Fprintln(w)
		ops.writeText(w)
	}
	markdown := func(w io.Writer, rows []*row, targets []string) {
		if *note != "" {
			fmt.Fprintf(w, "%s\n\n", *note)
		}
		writeMarkdown(w, rows, targets)
		if ops != nil && len(ops.labels) > 0 {
			fmt.Fprintln(w)
			ops.writeMarkdown(w)
		}
	}
	files := []struct {
		name  string
		write func(io.Writer, []*row, []string)
	}{
		{"results.tsv", writeTSV},
		{"results.md", markdown},
		{"ratios.dat", writeRatios},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(*out, f.name), func(fw io.Writer) { f.write(fw, rows, targets) }); err != nil {
			return err
		}
	}
	return nil
}

// readRows parses the measurements file, keeping workloads in first-seen
// order. A value that is not a number ("fail") records a failed run.
func readRows(path string) ([]*row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open measurements: %w", err)
	}
	defer f.Close()
	var rows []*row
	byName := map[string]*row{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 5 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 5: %w", path, n, len(fields), errBadInput)
		}
		name, unit, better, target := fields[0], fields[1], fields[2], fields[3]
		switch better {
		case betterHigh, betterLow, betterInfo:
		default:
			return nil, fmt.Errorf("%s:%d: better %q: %w", path, n, better, errBadInput)
		}
		v, err := strconv.ParseFloat(fields[4], 64)
		if err != nil || math.IsInf(v, 0) {
			v = math.NaN()
		}
		r := byName[name]
		if r == nil {
			r = &row{workload: name, unit: unit, better: better, values: map[string]float64{}}
			byName[name] = r
			rows = append(rows, r)
		}
		r.values[target] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read measurements: %w", err)
	}
	return rows, nil
}

// writeFile creates path and fills it with fill.
func writeFile(path string, fill func(io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	bw := bufio.NewWriter(f)
	fill(bw)
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	return nil
}

// formatValue prints a figure with about three significant digits.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "failed"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// formatRatio prints a ratio with two decimals, or three below 0.1 so that
// small ratios still differ.
func formatRatio(q float64) string {
	if q < 0.1 {
		return strconv.FormatFloat(q, 'f', 3, 64)
	}
	return strconv.FormatFloat(q, 'f', 2, 64)
}

// cell is what the tables show for one target: the figure and, for targets
// other than the reference, its ratio.
func (r *row) cell(target string) string {
	v, ok := r.values[target]
	if !ok {
		return "-"
	}
	s := formatValue(v)
	if target == refTarget {
		return s
	}
	if q, ok := r.ratio(target); ok {
		s += " (" + formatRatio(q) + "x)"
	}
	return s
}

// betterWord says in the tables which way a figure improves.
func betterWord(b string) string {
	switch b {
	case betterHigh:
		return "higher"
	case betterLow:
		return "lower"
	default:
		return ""
	}
}

const ratioNote = "Ratio to raw in parentheses, oriented so that 1.00x = as fast as the raw disk and higher is better:\n" +
	"target/raw for throughput, IOPS and ops/s; raw/target for seconds and latencies."

// writeText prints the aligned table for the terminal.
func writeText(w io.Writer, rows []*row, targets []string) {
	fmt.Fprintln(w, ratioNote)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\tunit\tbetter\t%s\t\n", strings.Join(targets, "\t"))
	for _, r := range rows {
		cells := make([]string, len(targets))
		for i, t := range targets {
			cells[i] = r.cell(t)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.workload, r.unit, betterWord(r.better), strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// writeMarkdown writes the same table as Markdown.
func writeMarkdown(w io.Writer, rows []*row, targets []string) {
	fmt.Fprintln(w, strings.ReplaceAll(ratioNote, "\n", " "))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| workload | unit | better | %s |\n", strings.Join(targets, " | "))
	fmt.Fprintf(w, "|---|---|---|%s\n", strings.Repeat("---:|", len(targets)))
	for _, r := range rows {
		cells := make([]string, len(targets))
		for i, t := range targets {
			cells[i] = r.cell(t)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.workload, r.unit, betterWord(r.better), strings.Join(cells, " | "))
	}
}

// writeTSV writes one line per workload and target, for scripts.
func writeTSV(w io.Writer, rows []*row, targets []string) {
	fmt.Fprintln(w, "workload\tunit\tbetter\ttarget\tvalue\tratio")
	for _, r := range rows {
		for _, t := range targets {
			v, ok := r.values[t]
			if !ok {
				continue
			}
			ratio := ""
			if q, ok := r.ratio(t); ok {
				ratio = strconv.FormatFloat(q, 'f', 4, 64)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.workload, r.unit, r.better, t, strconv.FormatFloat(v, 'g', 6, 64), ratio)
		}
	}
}

// writeRatios writes the chart's data: one line per workload that has a
// reference figure, one column per target other than the reference, "-" where
// a ratio is missing (gnuplot's missing-data mark).
func writeRatios(w io.Writer, rows []*row, targets []string) {
	var others []string
	for _, t := range targets {
		if t != refTarget {
			others = append(others, t)
		}
	}
	fmt.Fprintf(w, "workload\t%s\n", strings.Join(others, "\t"))
	for _, r := range rows {
		if r.better == betterInfo {
			continue
		}
		if _, ok := r.values[refTarget]; !ok {
			continue
		}
		cells := make([]string, len(others))
		for i, t := range others {
			cells[i] = "-"
			if q, ok := r.ratio(t); ok {
				cells[i] = strconv.FormatFloat(q, 'f', 4, 64)
			}
		}
		fmt.Fprintf(w, "%q\t%s\n", r.workload, strings.Join(cells, "\t"))
	}
}
