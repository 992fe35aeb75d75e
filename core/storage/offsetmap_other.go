//go:build !linux

package storage

// allocSlots returns a zeroed heap table of n slots (see offsetmap_linux.go).
func allocSlots(n int) ([]offsetSlot, func()) { return make([]offsetSlot, n), nil }
