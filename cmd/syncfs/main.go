// Command syncfs mounts an encrypted, synced filesystem whose content lives
// in object storage or a local directory. Each verb lives in its own file;
// this file builds the command tree and maps errors to exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if _, _, ferr := root.Find(args); ferr != nil {
		// An unknown command: cobra's error is a plain one, but it is as
		// much a usage error as an unknown flag.
		err = usageError{ferr}
	}
	code, msg := describe(err)
	fmt.Fprintln(os.Stderr, "syncfs: "+msg)
	return code
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "syncfs",
		Short:         "An encrypted filesystem synced through object storage",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newInitCommand(),
		newMountCommand(),
		newUnmountCommand(),
		newStatusCommand(),
		newSyncCommand(),
		newPinCommand(),
		newUnpinCommand(),
		newEvictCommand(),
		newFsckCommand(),
		newVersionsCommand(),
		newRestoreCommand(),
		newSnapshotCommand(),
		newPruneCommand(),
		newVerifyCommand(),
		newDeviceCommand(),
		newConflictsCommand(), newConfigCommand(),
	)
	return root
}
