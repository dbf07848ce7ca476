package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/resolver"
)

type deviceRequest struct {
	Forget string `json:"forget,omitempty"`
}

func newDeviceCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "List the devices of a store, or retire one that is gone for good",
	}
	var lt storeAccess
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [MOUNTPOINT] [--store STORE]",
		Short: "List the store's devices: journal length, GC epoch seen, idle or retired",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			return runDevice(c.Context(), os.Stdout, lt, path, deviceRequest{}, asJSON)
		},
	}
	lt.addFlags(list.Flags())
	list.Flags().BoolVar(&asJSON, "json", false, "print the devices as JSON")
	var ft storeAccess
	forget := &cobra.Command{
		Use:   "forget DEVICE [MOUNTPOINT] [--store STORE]",
		Short: "Retire a device for good: prune stops waiting for it (its changes stay)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			return runDevice(c.Context(), os.Stdout, ft, path, deviceRequest{Forget: args[0]}, false)
		},
	}
	ft.addFlags(forget.Flags())
	c.AddCommand(list, forget)
	return c
}

func runDeviceOp(ctx context.Context, repo *resolver.Repo, raw json.RawMessage, emit func(opLine)) (any, error) {
	var req deviceRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	if req.Forget != "" {
		if err := resolver.ForgetDevice(ctx, repo, req.Forget); err != nil {
			return nil, err
		}
	}
	return resolver.Devices(ctx, repo)
}

func runDevice(ctx context.Context, w io.Writer, t storeAccess, path string, req deviceRequest, asJSON bool) error {
	last, err := t.run(ctx, path, "device", req, func(opLine) {})
	if errors.Is(err, resolver.ErrUnknownDevice) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if asJSON {
		fmt.Fprintln(w, string(last.Result))
		return nil
	}
	var devs []resolver.DeviceInfo
	if err := json.Unmarshal(last.Result, &devs); err != nil {
		return fmt.Errorf("device list: %w", err)
	}
	if req.Forget != "" {
		fmt.Fprintf(w, "device %s retired\n", req.Forget)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tHOST\tBATCHES\tGC EPOCH\tSTATE\tUPDATED")
	for _, d := range devs {
		state := "live"
		switch {
		case d.Damaged != "":
			state = "damaged record"
		case d.Retired:
			state = "retired"
		case d.Idle:
			state = "idle"
		}
		updated := "-"
		if !d.Updated.IsZero() {
			updated = d.Updated.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", d.Device, d.Host, d.Batches, d.GCSeen, state, updated)
	}
	return tw.Flush()
}
