package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

func newConfigCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "config set KEY VALUE [MOUNTPOINT] [--store STORE]",
		Short: "Change a store-wide setting in the store's config",
		Args:  cobra.NoArgs,
	}
	var access storeAccess
	set := &cobra.Command{
		Use:   "set conflict copy|newest [MOUNTPOINT] [--store STORE]",
		Short: "Set the store's conflict policy: copy (conflict copies) or newest (the loser only in versions)",
		Long: "Rewrite the store's config (authenticated with a new MAC) with a new conflict policy:\n" +
			"copy keeps a losing version as a conflict copy beside the winner; newest keeps only the\n" +
			"winner under the name and the loser in the file's versions. Neither loses data. Given a\n" +
			"mount, that mount uses the new policy at once; other mounts of the store pick it up at a\n" +
			"poll within 30 seconds, or when mounted again. A change made by another device at the\n" +
			"same time is detected: this one then changes nothing and says so (run it again).",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usageError{fmt.Errorf("config set: want KEY VALUE [MOUNTPOINT], got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			mnt := ""
			if len(args) == 3 {
				mnt = args[2]
			}
			return runConfigSet(c.Context(), os.Stdout, access, args[0], args[1], mnt)
		},
	}
	access.store.addFlags(set.Flags())
	access.passphrase.addFlags(set.Flags())
	c.AddCommand(set)
	return c
}

func runConfigSet(ctx context.Context, w io.Writer, a storeAccess, key, value, mnt string) error {
	if key != "conflict" {
		return usageError{fmt.Errorf("config set: unknown setting %q (settable: conflict)", key)}
	}
	if value != index.PolicyCopy && value != index.PolicyNewest {
		return usageError{fmt.Errorf("config set conflict %q: want copy or newest", value)}
	}
	switch {
	case mnt != "" && a.store.URL != "":
		return usageError{errors.New("config set: give a mount point or --store, not both")}
	case mnt != "":
		var rep conflictsReply
		if err := conflictsCall(ctx, mnt, "policy", conflictsRequest{Policy: value}, &rep); err != nil {
			return err
		}
		fmt.Fprintf(w, "conflict policy is now %s: %s uses it at once; other mounts of the store pick it up within 30 seconds (at a poll), or when mounted again\n", rep.Policy, rep.Mountpoint)
		return nil
	case a.store.URL == "":
		return usageError{errors.New("config set: give a mount point or --store")}
	}
	repo, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	if err := resolver.SetConflictPolicy(ctx, repo, value); err != nil {
		return err
	}
	fmt.Fprintf(w, "conflict policy is now %s: running mounts pick it up within 30 seconds (at a poll), or when mounted again\n", value)
	return nil
}
