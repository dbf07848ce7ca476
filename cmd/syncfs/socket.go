package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest path a unix socket address can hold
// (sun_path is 108 bytes, NUL included). A cache directory deeper than
// about 95 bytes puts control.sock past it, and bind fails with a bare
// "invalid argument".
const maxSocketPath = 107

// viaDir calls f with a name for path that fits in a socket address: path
// itself if short enough, else /proc/self/fd/N/<base> with N an open
// descriptor of path's directory, valid while f runs.
func viaDir(path string, f func(name string) error) error {
	if len(path) <= maxSocketPath {
		return f(path)
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open socket directory: %w", err)
	}
	defer unix.Close(fd)
	return f(fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path)))
}

// listenUnix listens on the unix socket path, however long. The caller
// removes the socket file when done (by path: the listener may know it
// only by a /proc name that is gone by then).
func listenUnix(path string) (net.Listener, error) {
	var ln net.Listener
	err := viaDir(path, func(name string) error {
		var err error
		ln, err = net.Listen("unix", name)
		return err
	})
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// dialUnix connects to the unix socket path, however long.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var c net.Conn
	err := viaDir(path, func(name string) error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "unix", name)
		return err
	})
	return c, err
}
