package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/syncfs/syncfs/resolver"
)

// Store-wide maintenance (prune, verify, device list/forget) runs either in
// the daemon of a mount, which already holds the unlocked store, or in the
// command itself on a store given with --store. Both run the same function
// (a storeOp) and stream the same lines, so the output does not depend on
// where the work happened.

// opLine is one line of a streamed maintenance operation.
type opLine struct {
	Msg    string          `json:"msg,omitempty"`
	Done   int             `json:"done,omitempty"`
	Total  int             `json:"total,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Last   bool            `json:"last,omitempty"`
}

// opRequest names an operation and carries its options.
type opRequest struct {
	Op      string          `json:"op"`
	Options json.RawMessage `json:"options"`
}

// storeOp does one operation on an opened store; progress lines go to emit,
// and the result is returned for the last line.
type storeOp func(ctx context.Context, repo *resolver.Repo, opts json.RawMessage, emit func(opLine)) (any, error)

// storeOps are the operations, by name.
var storeOps = map[string]storeOp{
	"prune":  runPruneOp,
	"verify": runVerifyOp,
	"device": runDeviceOp,
}

// handleStoreOp is POST /v1/op: it runs an operation on the mount's store.
func (d *daemon) handleStoreOp(w http.ResponseWriter, r *http.Request) {
	var req opRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op, ok := storeOps[req.Op]
	if !ok {
		http.Error(w, "unknown operation "+req.Op, http.StatusBadRequest)
		return
	}
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(l opLine) {
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	res, err := op(r.Context(), d.repo, req.Options, send)
	send(finalLine(res, err))
}

func finalLine(res any, err error) opLine {
	l := opLine{Last: true}
	if err != nil {
		l.Error = err.Error()
	}
	if res != nil {
		l.Result, _ = json.Marshal(res)
	}
	return l
}

// run runs a maintenance operation in the daemon of the mount at path, or on the
// store itself when --store is given; it returns the last line.
func (t storeAccess) run(ctx context.Context, path, op string, opts any, emit func(opLine)) (opLine, error) {
	raw, err := json.Marshal(opts)
	if err != nil {
		return opLine{}, err
	}
	if t.store.URL != "" {
		repo, err := t.openRepo(ctx)
		if err != nil {
			return opLine{}, err
		}
		res, err := storeOps[op](ctx, repo, raw, emit)
		if err != nil {
			return opLine{}, err
		}
		return finalLine(res, nil), nil
	}
	if path == "" {
		return opLine{}, usageError{fmt.Errorf("%s: give a mount point (or a path in it), or --store", op)}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return opLine{}, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return opLine{}, fmt.Errorf("%s: %w", path, err)
	} else if !fi.IsDir() {
		abs = filepath.Dir(abs)
	}
	cl, err := dial(abs)
	if err != nil {
		return opLine{}, err
	}
	resp, err := cl.post(ctx, "/v1/op", opRequest{Op: op, Options: raw})
	if err != nil {
		return opLine{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return opLine{}, fmt.Errorf("%s: the daemon answered %s", op, resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var l opLine
		if err := dec.Decode(&l); err != nil {
			return opLine{}, fmt.Errorf("read the daemon's reply: %w", err)
		}
		if l.Last {
			if l.Error != "" {
				return l, errors.New(l.Error)
			}
			return l, nil
		}
		emit(l)
	}
}
