package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// errUsage reports a bad command line; main exits 2 for it.
var errUsage = errors.New("usage: benchtool meta|ops|report|bulkload [flags]")

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand, writing its output to w.
func run(args []string, w io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "meta":
		return runMeta(args[1:], w)
	case "ops":
		return runOps(args[1:], w)
	case "report":
		return runReport(args[1:], w)
	case "bulkload":
		return runBulkload(args[1:], w)
	default:
		return fmt.Errorf("unknown subcommand %q: %w", args[0], errUsage)
	}
}
