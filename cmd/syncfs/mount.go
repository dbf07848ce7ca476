package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/fs"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/metrics"
	"github.com/syncfs/syncfs/metrics/storemetrics"
	"github.com/syncfs/syncfs/resolver"
)

// kernelCacheTimeout is how long the kernel may keep names, attributes and
// "no such name" answers without asking again.
const kernelCacheTimeout = 30 * time.Second

type mountOptions struct {
	store        storeOptions
	passphrase   passphraseOptions
	cacheDir     string
	cacheSize    string
	foreground   bool
	poll         time.Duration
	fetchTimeout time.Duration
	allowOther   bool
	suid         bool
	dev          bool
	debug        bool
	// noPassthrough keeps reads of cached files going through the daemon.
	noPassthrough bool

	snapshotEvery time.Duration // take a snapshot this often (0: never)
	metricsAddr   string        // serve Prometheus metrics and pprof here (loopback only)

	// Set by a parent that daemonised this process.
	readyFD      int
	passphraseFD int
}

func newMountCommand() *cobra.Command {
	var o mountOptions
	c := &cobra.Command{
		Use:   "mount --store STORE MOUNTPOINT",
		Short: "Mount a store (returns once mounted; -f stays in the foreground)",
		Args:  exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.poll <= 0 || o.fetchTimeout <= 0 {
				return usageError{errors.New("--poll and --fetch-timeout must be positive durations")}
			}
			if o.metricsAddr != "" {
				if err := metrics.CheckAddr(o.metricsAddr); err != nil {
					return usageError{fmt.Errorf("--metrics-addr: %w", err)}
				}
			}
			if o.cacheSize != "" {
				if _, err := parseSize(o.cacheSize); err != nil {
					return usageError{fmt.Errorf("--cache-size: %w", err)}
				}
			}
			if o.foreground {
				return runDaemon(c.Context(), o, args[0])
			}
			return daemonise(c.Context(), o, args[0])
		},
	}
	f := c.Flags()
	o.store.addFlags(f)
	o.passphrase.addFlags(f)
	f.StringVar(&o.cacheDir, "cache-dir", "", "cache directory (default: a per-store directory under the user's cache dir)")
	f.StringVar(&o.cacheSize, "cache-size", "", "most bytes of content to keep in the cache (e.g. 500M, 10G; 0 for no limit); the least recently used is evicted, never unsynced changes (default: a quarter of the cache disk, at most 50G)")
	f.BoolVarP(&o.foreground, "foreground", "f", false, "stay in the foreground and log to stderr")
	f.DurationVar(&o.poll, "poll", 2*time.Second, "how often to pull other devices' changes")
	f.DurationVar(&o.fetchTimeout, "fetch-timeout", 60*time.Second, "how long a read waits for content from the store before failing with EIO")
	f.BoolVar(&o.allowOther, "allow-other", false, "let other users access the mount")
	f.BoolVar(&o.suid, "suid", false, "honour setuid bits (default nosuid)")
	f.BoolVar(&o.dev, "dev", false, "honour device nodes (default nodev)")
	f.BoolVar(&o.debug, "debug", false, "log every FUSE request")
	f.BoolVar(&o.noPassthrough, "no-passthrough", false, "serve every read through the daemon, even of files wholly in the cache (by default the kernel reads those from the cache directly, where it can)")
	f.DurationVar(&o.snapshotEvery, "snapshot-every", 0, "take a snapshot (named scheduled) at this interval while mounted, e.g. 1h (0: never)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (/metrics) and pprof (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:9100")
	f.IntVar(&o.readyFD, "ready-fd", 0, "internal: report readiness on this descriptor")
	f.IntVar(&o.passphraseFD, "passphrase-fd", 0, "internal: read the passphrase from this descriptor")
	f.MarkHidden("ready-fd")
	f.MarkHidden("passphrase-fd")
	return c
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s: want %s, got %d arguments", c.Name(), what, len(args))}
		}
		return nil
	}
}

// checkMountpoint requires an existing, empty directory that is not
// already a mount point: an empty mount (another syncfs mount of an empty
// store, say) passes the emptiness check, and mounting over it would hide
// it and make the next unmount take down the wrong one.
func checkMountpoint(mnt string) (string, error) {
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", errBadMountpoint, mnt, err)
	}
	if isMounted(abs) {
		return "", fmt.Errorf("%w %s: already a mount point", errBadMountpoint, mnt)
	}
	d, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", errBadMountpoint, mnt, err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%w %s: not a directory", errBadMountpoint, mnt)
	}
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return "", fmt.Errorf("%w %s: not empty", errBadMountpoint, mnt)
	}
	return abs, nil
}

// daemonise starts this program again in the background with the same
// flags plus --foreground, hands it the passphrase through a pipe, and waits
// for it to say the mount is ready (or why it is not).
func daemonise(ctx context.Context, o mountOptions, mnt string) error {
	if _, err := checkMountpoint(mnt); err != nil {
		return err
	}
	if o.store.URL == "" {
		return usageError{errors.New("--store is required")}
	}
	pass, err := o.passphrase.get(false)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	passR, passW, err := os.Pipe()
	if err != nil {
		return err
	}
	args := []string{"mount", "--foreground", "--ready-fd=3", "--passphrase-fd=4"}
	args = append(args, os.Args[2:]...)
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{readyW, passR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "SYNCFS_PASSPHRASE=") // the pipe carries it
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	readyW.Close()
	passR.Close()
	passW.Write(pass)
	passW.Close()
	go cmd.Wait()
	line, err := bufio.NewReader(readyR).ReadString('\n')
	readyR.Close()
	line = strings.TrimSpace(line)
	switch {
	case line == "ok":
		fmt.Printf("mounted at %s (unmount with: syncfs unmount %s)\n", mnt, mnt)
		return nil
	case strings.HasPrefix(line, "error "):
		code, msg, _ := strings.Cut(strings.TrimPrefix(line, "error "), " ")
		n, _ := strconv.Atoi(code)
		return exitCodeError{code: n, msg: msg}
	}
	if err == nil || errors.Is(err, io.EOF) {
		return errors.New("the daemon exited before mounting; see the log in the cache directory")
	}
	return fmt.Errorf("wait for daemon: %w", err)
}

// exitCodeError carries a daemon's exit code and message to the parent.
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return e.msg }

// runDaemon mounts and serves until unmounted or signalled.
func runDaemon(ctx context.Context, o mountOptions, mnt string) (err error) {
	var ready *os.File
	if o.readyFD > 0 {
		ready = os.NewFile(uintptr(o.readyFD), "ready")
		defer func() {
			if err != nil && ready != nil {
				code, msg := describe(err)
				fmt.Fprintf(ready, "error %d %s\n", code, msg)
				ready.Close()
			}
		}()
	}
	if o.passphraseFD > 0 {
		f := os.NewFile(uintptr(o.passphraseFD), "passphrase")
		b, rerr := io.ReadAll(io.LimitReader(f, 1<<16))
		f.Close()
		if rerr != nil || len(b) == 0 {
			return fmt.Errorf("read passphrase from parent: %v", rerr)
		}
		os.Setenv("SYNCFS_PASSPHRASE", string(b))
	}
	d, err := startDaemon(ctx, o, mnt)
	if err != nil {
		return err
	}
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
		ready = nil
		// Detach from the parent's terminal; stderr already goes to the
		// log (startDaemon).
		if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
			syscall.Dup2(int(null.Fd()), 0)
			syscall.Dup2(int(null.Fd()), 1)
		}
	}
	return d.serve(ctx)
}

// unmountRequest is the control API's request to unmount: serve answers on
// reply, and waits for answered before exiting.
type unmountRequest struct {
	reply    chan error
	answered chan struct{}
}

// daemon is one running mount.
type daemon struct {
	mnt      string
	loc      blobstore.Location
	cacheDir string
	log      *slog.Logger
	lock     *os.File
	logFile  *os.File
	idx      *index.DB
	cache    *cache.Cache
	repo     *resolver.Repo // for fsck --store
	eng      *resolver.Engine
	fsys     *fs.FS
	srv      interface {
		Unmount() error
		Wait()
	}
	ln       net.Listener
	unmounts chan unmountRequest // control API asks serve to unmount

	metrics   *metrics.Metrics // nil without --metrics-addr
	metricSrv *metrics.Server

	snapshotEvery time.Duration // --snapshot-every
}

func startDaemon(ctx context.Context, o mountOptions, mntArg string) (_ *daemon, err error) {
	mnt, err := checkMountpoint(mntArg)
	if err != nil {
		return nil, err
	}
	if o.store.URL == "" {
		return nil, usageError{errors.New("--store is required")}
	}
	loc, err := blobstore.ParseURL(o.store.URL)
	if err != nil {
		return nil, usageError{err}
	}
	d := &daemon{mnt: mnt, loc: loc, cacheDir: o.cacheDir, unmounts: make(chan unmountRequest), snapshotEvery: o.snapshotEvery}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.cacheDir == "" {
		if d.cacheDir, err = defaultCacheDir(loc); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(d.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	if d.lock, err = lockDir(d.cacheDir); err != nil {
		return nil, err
	}
	d.logFile, err = os.OpenFile(filepath.Join(d.cacheDir, "syncfs.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	var w io.Writer = d.logFile
	if o.readyFD == 0 {
		w = io.MultiWriter(d.logFile, os.Stderr)
	} else {
		// A daemon's stderr is /dev/null: point it at the log, so that
		// the trace of a panic (or of SIGQUIT) is kept.
		syscall.Dup2(int(d.logFile.Fd()), 2)
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	d.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))

	if o.metricsAddr != "" {
		d.metrics = metrics.New()
	}
	d.idx, err = index.Open(filepath.Join(d.cacheDir, "index.db"), index.Options{RootUID: uint32(os.Getuid()), RootGID: uint32(os.Getgid()), RootMode: 0o755,
		GroupWindow: index.DefaultGroupWindow, Logger: d.log})
	if err != nil {
		return nil, err
	}
	pass, err := o.passphrase.get(false)
	if err != nil {
		return nil, err
	}
	repo, err := d.openRepo(ctx, o.store, pass)
	if err != nil {
		return nil, err
	}
	d.repo = repo
	// The passphrase's KDF area (64 MiB) is garbage now: give it back
	// before the engine's start-up reads the index, rather than let the
	// heap grow on top of it.
	debug.FreeOSMemory()
	if d.cache, err = cache.New(d.cacheDir, nil); err != nil {
		return nil, err
	}
	budget, err := cacheBudget(o.cacheSize, d.cacheDir, d.cache)
	if err != nil {
		return nil, err
	}
	d.eng = resolver.New(repo, d.idx, d.cache, resolver.Options{PollInterval: o.poll, CacheBudget: budget, Logger: d.log, CheckpointEvery: resolver.DefaultCheckpointEvery})
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := d.eng.RegisterDevice(rctx); err != nil {
		d.log.Warn("store not reachable; working offline", "err", err)
	} else if err := d.eng.Pull(rctx); err != nil {
		d.log.Warn("first pull failed; changes will arrive later", "err", err)
	}
	cancel()

	sock := filepath.Join(d.cacheDir, "control.sock")
	os.Remove(sock) // stale from a crashed daemon; we hold the lock
	if d.ln, err = listenUnix(sock); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Listen before mounting: a busy port then fails the mount cleanly.
	if d.metrics != nil {
		d.metrics.SetSources(metrics.Sources{
			Queue: func() (int, int64, error) {
				p, err := d.eng.Pending()
				return p.Files, p.Bytes, err
			},
			Cache: func() (int64, int64, error) {
				r := d.eng.Residency()
				return r.Used, r.Budget, nil
			},
			Conflicts: func() (int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := d.idx.Conflicts(ctx)
				return len(c), err
			},
		})
		if d.metricSrv, err = metrics.Listen(o.metricsAddr, d.metrics); err != nil {
			return nil, err
		}
		d.log.Info("serving metrics", "addr", d.metricSrv.Addr())
	}
	// Long kernel cache timeouts: every change that does not come through
	// this mount (other devices' batches, restores) reaches the kernel as
	// an invalidation from the index's change feed.
	d.fsys = fs.New(d.idx, d.cache, fs.Options{
		EntryTimeout: kernelCacheTimeout, AttrTimeout: kernelCacheTimeout, NegativeTimeout: kernelCacheTimeout,
		FetchTimeout: o.fetchTimeout, CacheDir: d.cacheDir, ControlSocket: sock, Logger: d.log,
		Metrics: d.metrics, NoPassthrough: o.noPassthrough,
	})
	srv, err := fs.Mount(mnt, d.fsys, fs.MountOptions{FsName: "syncfs:" + loc.String(), AllowOther: o.allowOther, Suid: o.suid, Dev: o.dev, Debug: o.debug})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadMountpoint, err)
	}
	d.srv = srv
	// What start-up read (the engine's recovery of staged sizes, the
	// first pull) is garbage too.
	debug.FreeOSMemory()
	d.log.Info("mounted", "mountpoint", mnt, "store", loc.String(), "device", d.idx.Device(), "cache", d.cacheDir)
	return d, nil
}

// openRepo unlocks the store's config, or, with the store unreachable, the
// copy cached by an earlier mount.
func (d *daemon) openRepo(ctx context.Context, so storeOptions, pass []byte) (*resolver.Repo, error) {
	cached, err := d.idx.Meta("config")
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, _, err := openStore(cctx, so, false)
	var raw []byte
	if err == nil {
		raw, err = resolver.ReadConfig(cctx, s)
	}
	if err != nil {
		if cached == nil || errors.Is(err, resolver.ErrNotInitialized) {
			return nil, err
		}
		d.log.Warn("store not reachable; mounting from the cached config", "err", err)
		raw = cached
		s = &lazyStore{open: func(ctx context.Context) (blobstore.Store, error) {
			st, _, err := openStore(ctx, so, false)
			return st, err
		}}
	}
	cfg, keys, err := resolver.OpenConfig(raw, pass)
	if err != nil {
		return nil, err
	}
	if id, _ := d.idx.Meta("store_id"); id != nil && string(id) != cfg.StoreID {
		return nil, fmt.Errorf("%w: cache directory %s belongs to store %s, not %s", errCacheInUse, d.cacheDir, id, cfg.StoreID)
	}
	if err := d.idx.SetMeta("store_id", []byte(cfg.StoreID)); err != nil {
		return nil, err
	}
	if err := d.idx.SetMeta("config", raw); err != nil {
		return nil, err
	}
	if d.metrics != nil {
		// Count calls above the retries and attempts below them.
		s = storemetrics.Calls(withRetry(storemetrics.Attempts(s, d.metrics), d.log), d.metrics)
	} else {
		s = withRetry(s, d.log)
	}
	return &resolver.Repo{Store: s, Keys: keys, Config: cfg, ConfigBytes: raw}, nil
}

// lockDir takes the cache directory's lock, held for the daemon's life.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cache directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", errCacheInUse, dir)
		}
		return nil, fmt.Errorf("lock cache directory: %w", err)
	}
	return f, nil
}

// serve runs until the filesystem is unmounted (by syncfs unmount, umount
// or a signal).
func (d *daemon) serve(ctx context.Context) error {
	engCtx, stopEngine := context.WithCancel(context.Background())
	engDone := make(chan struct{})
	go func() { d.eng.Run(engCtx); close(engDone) }()
	snapsDone := d.startSnapshotSchedule(engCtx, d.snapshotEvery)
	go d.serveControl()
	unmounted := make(chan struct{})
	go func() { d.srv.Wait(); close(unmounted) }()
	for done := false; !done; {
		select {
		case <-unmounted:
			done = true
		case req := <-d.unmounts:
			err := d.srv.Unmount()
			req.reply <- err
			if err == nil {
				<-unmounted
				// Let the handler answer before the process goes away.
				select {
				case <-req.answered:
				case <-time.After(5 * time.Second):
				}
				done = true
			}
		case <-ctx.Done():
			// A signal: unmount, lazily if something still holds it.
			if err := d.srv.Unmount(); err != nil {
				d.log.Warn("unmount busy; detaching", "err", err)
				syscall.Unmount(d.mnt, syscall.MNT_DETACH)
			}
			<-unmounted
			done = true
		}
	}
	stopEngine()
	<-engDone
	<-snapsDone
	// With nothing left to upload, say so in the store, so that a prune
	// does not wait for this device while it is away.
	// (Offline, skip it: the device simply stays live.)
	if d.eng.Status().Reachable {
		ictx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := d.eng.SetIdle(ictx, false); err != nil {
			d.log.Info("device stays live in the store", "reason", err)
		}
		cancel()
	}
	d.log.Info("unmounted", "mountpoint", d.mnt)
	d.close()
	return nil
}

func (d *daemon) close() {
	if d.metricSrv != nil {
		d.metricSrv.Close()
	}
	if d.ln != nil {
		d.ln.Close()
		os.Remove(filepath.Join(d.cacheDir, "control.sock"))
	}
	if d.fsys != nil {
		d.fsys.Close()
	}
	if d.cache != nil {
		// After the engine has stopped and the kernel let go: nothing
		// writes to the cache any more, so its usage figure is final.
		if err := d.cache.Close(); err != nil && d.log != nil {
			d.log.Warn("close the cache", "err", err)
		}
	}
	if d.idx != nil {
		d.idx.Close()
	}
	if d.logFile != nil {
		d.logFile.Close()
	}
	if d.lock != nil {
		d.lock.Close()
	}
}
