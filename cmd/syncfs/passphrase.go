package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// passphraseOptions say where the passphrase comes from: a file, the
// SYNCFS_PASSPHRASE variable, or a prompt on the terminal.
type passphraseOptions struct {
	File string
}

func (o *passphraseOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.File, "passphrase-file", "", "read the passphrase from this file (first line)")
}

// get returns the passphrase; confirm asks twice on a terminal (init).
func (o passphraseOptions) get(confirm bool) ([]byte, error) {
	if o.File != "" {
		b, err := os.ReadFile(o.File)
		if err != nil {
			return nil, fmt.Errorf("read passphrase file: %w", err)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[:i]
		}
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, usageError{fmt.Errorf("passphrase file %s is empty", o.File)}
		}
		return b, nil
	}
	if p := os.Getenv("SYNCFS_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, usageError{errors.New("no passphrase: use --passphrase-file, SYNCFS_PASSPHRASE or a terminal")}
	}
	fmt.Fprint(os.Stderr, "Passphrase: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, usageError{errors.New("empty passphrase")}
	}
	if confirm {
		fmt.Fprint(os.Stderr, "Again: ")
		q, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		if !bytes.Equal(p, q) {
			return nil, usageError{errors.New("the passphrases differ")}
		}
	}
	return p, nil
}
