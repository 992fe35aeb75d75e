//go:build !linux

package storage

import "unsafe"

// mapIOMem: direct I/O is Linux only; elsewhere the slab is empty and Get
// returns heap buffers.
func mapIOMem(int) []byte { return nil }

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
