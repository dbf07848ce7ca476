package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/resolver"
)

type initOptions struct {
	store      storeOptions
	passphrase passphraseOptions
	conflict   string
}

func newInitCommand() *cobra.Command {
	var o initOptions
	c := &cobra.Command{
		Use:   "init --store STORE",
		Short: "Create a new encrypted store",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runInit(c, o)
		},
	}
	o.store.addFlags(c.Flags())
	o.passphrase.addFlags(c.Flags())
	c.Flags().StringVar(&o.conflict, "conflict", "copy", "conflict policy: copy (keep both as conflict copies) or newest")
	return c
}

func runInit(c *cobra.Command, o initOptions) error {
	if o.conflict != "copy" && o.conflict != "newest" {
		return usageError{fmt.Errorf("--conflict %q: want copy or newest", o.conflict)}
	}
	s, loc, err := openStore(c.Context(), o.store, true)
	if err != nil {
		return err
	}
	pass, err := o.passphrase.get(true)
	if err != nil {
		return err
	}
	repo, err := resolver.Init(c.Context(), s, pass, resolver.InitOptions{Conflict: o.conflict})
	if err != nil {
		return fmt.Errorf("init %s: %w", loc, err)
	}
	fmt.Fprintf(os.Stdout, "created syncfs store %s at %s\n", repo.Config.StoreID, loc)
	return nil
}
