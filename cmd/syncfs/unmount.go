package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type unmountOptions struct {
	wait time.Duration
	lazy bool
}

func newUnmountCommand() *cobra.Command {
	var o unmountOptions
	c := &cobra.Command{
		Use:   "unmount MOUNTPOINT",
		Short: "Upload what is pending (bounded wait), then unmount",
		Args:  exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.wait < 0 {
				return usageError{errors.New("--wait must not be negative")}
			}
			return runUnmount(c.Context(), o, args[0])
		},
	}
	c.Flags().DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for pending uploads before unmounting anyway")
	c.Flags().BoolVar(&o.lazy, "lazy", false, "detach even if files on the mount are still open")
	return c
}

func runUnmount(ctx context.Context, o unmountOptions, mnt string) error {
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return err
	}
	cl, err := dial(abs)
	if err != nil {
		if isMounted(abs) {
			// A daemon that died leaves a dead mount: detach it.
			if uerr := syscall.Unmount(abs, syscall.MNT_DETACH); uerr == nil {
				fmt.Fprintf(os.Stderr, "no daemon answered; detached %s\n", abs)
				return nil
			}
		}
		return err
	}
	if o.wait > 0 {
		if err := flushWithProgress(ctx, cl, "flush", o.wait); err != nil {
			fmt.Fprintf(os.Stderr, "not everything was uploaded (%v); the rest goes at the next mount\n", err)
		}
	}
	resp, err := cl.do(ctx, "POST", "/v1/unmount")
	if err != nil && !isMounted(abs) {
		err = nil // the daemon unmounted and went before its answer arrived
		resp = nil
	}
	if err != nil {
		if !o.lazy {
			return fmt.Errorf("%w (close the files using it, or use --lazy)", err)
		}
		if err := syscall.Unmount(abs, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("detach %s: %w", abs, err)
		}
	} else if resp != nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for isMounted(abs) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if isMounted(abs) {
		return fmt.Errorf("%s is still mounted", abs)
	}
	fmt.Printf("unmounted %s\n", abs)
	return nil
}

// flushWithProgress runs a flush or sync through the daemon, showing what
// is left: a bar on a terminal, plain lines otherwise.
func flushWithProgress(ctx context.Context, cl *controlClient, verb string, wait time.Duration) error {
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	var bar *progressbar.ProgressBar
	total := -1
	err := cl.flush(ctx, verb, wait, func(l progressLine) {
		if total < 0 {
			total = l.Files
		}
		if tty && total > 0 {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("uploading"), progressbar.OptionShowCount())
			}
			bar.Set(max(total-l.Files, 0))
			bar.Describe(fmt.Sprintf("uploading, %d changes (%s) left", l.Files, humanBytes(l.Bytes)))
			return
		}
		if l.Files > 0 {
			fmt.Fprintf(os.Stderr, "%d changes (%s) left to upload\n", l.Files, humanBytes(l.Bytes))
		}
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
