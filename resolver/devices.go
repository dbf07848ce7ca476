package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
)

// ErrUnknownDevice reports a device ID with no record in the store.
var ErrUnknownDevice = errors.New("no such device in the store")

// DeviceInfo describes one device of a store, for `syncfs device list`.
type DeviceInfo struct {
	Device     string
	Host       string    `json:",omitempty"`
	Registered time.Time `json:",omitzero"`
	Updated    time.Time `json:",omitzero"`
	// Batches is how many journal batches the device has written.
	Batches uint64
	GCSeen  uint64
	Idle    bool
	Retired bool
	// Damaged is set when the device's record cannot be read.
	Damaged string `json:",omitempty"`
}

// Devices lists the store's devices.
func Devices(ctx context.Context, repo *Repo) ([]DeviceInfo, error) {
	ids, err := listDevices(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []DeviceInfo
	for _, d := range ids {
		info := DeviceInfo{Device: d}
		r, err := readDeviceRecord(ctx, repo, d)
		switch {
		case errors.Is(err, ErrDamaged):
			info.Damaged = err.Error()
		case err != nil:
			return nil, err
		default:
			info.Host, info.Registered, info.Updated = r.Host, r.Registered, r.Updated
			info.GCSeen, info.Idle, info.Retired = r.GCSeen, r.Idle, r.Retired
		}
		if info.Batches, err = journalLength(ctx, repo, d); err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// journalLength counts a device's journal batches.
func journalLength(ctx context.Context, repo *Repo, device string) (uint64, error) {
	var n uint64
	err := repo.Store.List(ctx, journalPrefix+device+"/", func(i blobstore.Info) error {
		n++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list journal of %s: %w", device, err)
	}
	return n, nil
}

// ForgetDevice retires a device for good: the garbage collector stops
// waiting for it. Its journal stays and other devices keep its changes; if
// it ever mounts again it refuses to upload.
func ForgetDevice(ctx context.Context, repo *Repo, device string) error {
	device = strings.TrimSpace(device)
	if !isHex(device, 16) {
		return fmt.Errorf("%w: %q is not a device ID (16 hex digits)", ErrUnknownDevice, device)
	}
	r, err := readDeviceRecord(ctx, repo, device)
	if errors.Is(err, blobstore.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrUnknownDevice, device)
	}
	if errors.Is(err, ErrDamaged) {
		// Rewrite it: the record held only progress, and retiring the
		// device is what the user asked for.
		r = deviceRecord{Device: device}
	} else if err != nil {
		return err
	}
	r.Retired = true
	return writeDeviceRecord(ctx, repo, r)
}
