package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/syncfs/syncfs/index"
)

// A target is one path given to pin, unpin or evict, resolved on the client
// side: st_ino of a file on the mount is its index inode number, so the
// daemon never has to walk names.
type target struct {
	Path string `json:"path"`
	Ino  uint64 `json:"ino"`
}

// targetsRequest is the body of POST /v1/pin, /v1/unpin and /v1/evict.
type targetsRequest struct {
	Targets []target `json:"targets"`
}

func (r targetsRequest) inos() []uint64 {
	out := make([]uint64, len(r.Targets))
	for i, t := range r.Targets {
		out[i] = t.Ino
	}
	return out
}

// pinLine is one line of POST /v1/pin's stream: first what was pinned, then
// what is still to fetch below the pinned paths.
type pinLine struct {
	Pinned *index.PinResult `json:"pinned,omitempty"`
	Files  int              `json:"files"`
	Bytes  int64            `json:"bytes"`
	Done   bool             `json:"done,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// resolveTargets finds the daemon serving paths and their inode numbers.
// Every path must be on the same mount.
func resolveTargets(paths []string) (*controlClient, targetsRequest, error) {
	var req targetsRequest
	var cl *controlClient
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, req, err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(abs, &st); err != nil {
			return nil, req, fmt.Errorf("%s: %w", p, err)
		}
		// Ask a directory for the daemon: a symlink's xattr would be its
		// target's, which may be elsewhere.
		dir := abs
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			dir = filepath.Dir(abs)
		}
		c, err := dial(dir)
		if err != nil {
			return nil, req, err
		}
		if cl != nil && c.socket != cl.socket {
			return nil, req, usageError{fmt.Errorf("%s is on another mount than %s; give one mount's paths at a time", p, req.Targets[0].Path)}
		}
		cl = c
		req.Targets = append(req.Targets, target{Path: p, Ino: st.Ino})
	}
	if cl == nil {
		return nil, req, usageError{errors.New("no paths given")}
	}
	return cl, req, nil
}

// post sends a JSON body to the daemon.
func (c *controlClient) post(ctx context.Context, path string, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.doBody(ctx, http.MethodPost, path, bytes.NewReader(b))
}

type pinOptions struct {
	background bool
	wait       time.Duration
}

func newPinCommand() *cobra.Command {
	var o pinOptions
	c := &cobra.Command{
		Use:   "pin PATH...",
		Short: "Keep files (directories: everything below, now and later) on this device, fetching them now",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if o.wait < 0 {
				return usageError{errors.New("--wait must not be negative")}
			}
			return runPin(c.Context(), o, args)
		},
	}
	c.Flags().BoolVar(&o.background, "background", false, "return once pinned; fetching goes on in the background")
	c.Flags().DurationVar(&o.wait, "wait", 0, "stop showing progress after this long (0: until everything pinned is here); fetching goes on")
	return c
}

func runPin(ctx context.Context, o pinOptions, paths []string) error {
	cl, req, err := resolveTargets(paths)
	if err != nil {
		return err
	}
	q := "?wait=0s"
	if !o.background {
		q = "?wait=" + o.wait.String()
		if o.wait == 0 {
			q = "?wait=forever"
		}
	}
	resp, err := cl.post(ctx, "/v1/pin"+q, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	var bar *progressbar.ProgressBar
	total, lastFiles, lastErr := -1, -1, ""
	for {
		var l pinLine
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if l.Pinned != nil {
			fmt.Printf("pinned %d files in %d directories; %d files (%s) to fetch\n", l.Pinned.Files, l.Pinned.Dirs, l.Pinned.FetchFiles, humanBytes(l.Pinned.FetchBytes))
			continue
		}
		if l.Error != "" && l.Error != lastErr {
			fmt.Fprintf(os.Stderr, "fetch failed (retrying): %s\n", l.Error)
			lastErr = l.Error
		}
		if total < 0 {
			total = l.Files
		}
		switch {
		case tty && total > 0:
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("fetching"), progressbar.OptionShowCount())
			}
			bar.Set(max(total-l.Files, 0))
			bar.Describe(fmt.Sprintf("fetching, %d files (%s) left", l.Files, humanBytes(l.Bytes)))
		case !tty && l.Files != lastFiles && !l.Done:
			fmt.Fprintf(os.Stderr, "%d pinned files (%s) left to fetch\n", l.Files, humanBytes(l.Bytes))
		}
		lastFiles = l.Files
		if l.Done {
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			switch {
			case l.Files == 0:
				if !o.background {
					fmt.Println("everything pinned is on this device")
				}
			default:
				fmt.Printf("%d pinned files (%s) still to fetch; fetching goes on in the background (see syncfs status)\n", l.Files, humanBytes(l.Bytes))
			}
			return nil
		}
	}
}

func newUnpinCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unpin PATH...",
		Short: "Let pinned files (directories: everything below) be evicted again",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, req, err := resolveTargets(args)
			if err != nil {
				return err
			}
			resp, err := cl.post(c.Context(), "/v1/unpin", req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var res index.PinResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return fmt.Errorf("read reply: %w", err)
			}
			fmt.Printf("unpinned %d files in %d directories\n", res.Files, res.Dirs)
			return nil
		},
	}
}

// handlePin pins the targets, then streams the pin backlog until it is
// empty or the wait ends (fetching goes on either way).
func (d *daemon) handlePin(w http.ResponseWriter, r *http.Request) {
	var req targetsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
		return
	}
	res, err := d.eng.Pin(req.inos(), true)
	if err != nil {
		http.Error(w, fmt.Sprintf("pin: %v", err), http.StatusConflict)
		return
	}
	ctx := r.Context()
	if q := r.URL.Query().Get("wait"); q != "forever" {
		wait, err := time.ParseDuration(q)
		if err != nil || wait < 0 {
			wait = 0
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(l pinLine) {
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(pinLine{Pinned: &res})
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		files, size, lastErr, err := d.eng.PinBacklog(r.Context(), req.inos())
		if err != nil {
			send(pinLine{Done: true, Error: err.Error()})
			return
		}
		l := pinLine{Files: files, Bytes: size, Error: lastErr, Done: files == 0}
		select {
		case <-ctx.Done():
			l.Done = true
		default:
		}
		send(l)
		if l.Done {
			return
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// handleUnpin unpins the targets, one at a time, naming the first one it
// refuses.
func (d *daemon) handleUnpin(w http.ResponseWriter, r *http.Request) {
	var req targetsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
		return
	}
	var total index.PinResult
	for _, t := range req.Targets {
		res, err := d.eng.Pin([]uint64{t.Ino}, false)
		if errors.Is(err, index.ErrPinInherited) {
			http.Error(w, fmt.Sprintf("%s: pinned through its directory; unpin the directory instead", t.Path), http.StatusConflict)
			return
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("unpin %s: %v", t.Path, err), http.StatusConflict)
			return
		}
		total.Files += res.Files
		total.Dirs += res.Dirs
	}
	json.NewEncoder(w).Encode(total)
}
