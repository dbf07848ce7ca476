package main

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

func newSyncCommand() *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "sync MOUNTPOINT",
		Short: "Pull other devices' changes and upload local ones now",
		Args:  exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			if wait <= 0 {
				return usageError{errors.New("--wait must be positive")}
			}
			abs, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			cl, err := dial(abs)
			if err != nil {
				return err
			}
			return flushWithProgress(c.Context(), cl, "sync", wait)
		},
	}
	c.Flags().DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the upload queue to drain")
	return c
}
