package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/syncfs/syncfs/resolver"
)

type verifyRequest struct {
	ReadData bool `json:"read_data"`
}

func newVerifyCommand() *cobra.Command {
	var t storeAccess
	var req verifyRequest
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify [MOUNTPOINT] [--store STORE] [--read-data]",
		Short: "Check the whole store: journals, snapshots, trees, and every chunk still in use",
		Long: "verify reads every journal, snapshot and tree, and checks that every chunk the current tree,\n" +
			"a file version inside retention or a snapshot uses is present; with --read-data it downloads\n" +
			"and authenticates each one. Every problem is listed with the object and what uses it; the exit\n" +
			"status is 10 when any was found.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			return runVerify(c.Context(), os.Stdout, t, path, req, asJSON)
		},
	}
	t.addFlags(c.Flags())
	c.Flags().BoolVar(&req.ReadData, "read-data", false, "download and authenticate every chunk in use")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func runVerifyOp(ctx context.Context, repo *resolver.Repo, raw json.RawMessage, emit func(opLine)) (any, error) {
	var req verifyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	last := 0
	return resolver.VerifyStore(ctx, repo, resolver.StoreVerifyOptions{
		ReadData: req.ReadData,
		Progress: func(done, total int) {
			if done == total || done-last >= max(1, total/200) {
				last = done
				emit(opLine{Done: done, Total: total})
			}
		},
	})
}

func runVerify(ctx context.Context, w io.Writer, t storeAccess, path string, req verifyRequest, asJSON bool) error {
	var bar *progressbar.ProgressBar
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	last, err := t.run(ctx, path, "verify", req, func(l opLine) {
		if l.Total == 0 || !tty || asJSON {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions(l.Total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("reading chunks"), progressbar.OptionShowCount())
		}
		bar.Set(l.Done)
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	var rep resolver.StoreVerifyReport
	if err := json.Unmarshal(last.Result, &rep); err != nil {
		return fmt.Errorf("verify report: %w", err)
	}
	if asJSON {
		fmt.Fprintln(w, string(last.Result))
	} else {
		for _, p := range rep.Problems {
			if p.UsedBy != "" {
				fmt.Fprintf(w, "%s: %s (used by %s)\n", p.Object, p.Problem, p.UsedBy)
			} else {
				fmt.Fprintf(w, "%s: %s\n", p.Object, p.Problem)
			}
		}
		read := ""
		if req.ReadData {
			read = fmt.Sprintf(", %s read and authenticated", humanBytes(rep.BytesRead))
		}
		fmt.Fprintf(w, "%d devices, %d files with content, %d snapshots, %d chunks in use%s: %d problems\n",
			rep.Devices, rep.Files, rep.Snapshots, rep.Chunks, read, len(rep.Problems))
	}
	if len(rep.Problems) > 0 {
		return exitCodeError{code: exitDamaged, msg: fmt.Sprintf("verify found %d problems", len(rep.Problems))}
	}
	return nil
}
