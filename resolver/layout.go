package resolver

import "fmt"

// The store layout, in one place. No name is a prefix directory of another.
const (
	configName    = "config"
	chunksPrefix  = "chunks/"
	journalPrefix = "journal/"
	devicesPrefix = "devices/"
)

func chunkName(id string) string { return chunksPrefix + id[:2] + "/" + id }

// journalName zero-pads seq so that a listing sorts in sequence order.
func journalName(device string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", journalPrefix, device, seq)
}

func journalID(device string, seq uint64) string { return fmt.Sprintf("%s/%d", device, seq) }

func deviceName(device string) string { return devicesPrefix + device }
