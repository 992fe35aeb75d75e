//go:build race

package storage

// raceEnabled: built with -race. The race detector sees only memory of the
// Go heap, so the direct-I/O slabs give heap buffers then (iomem.go), and a
// race on the bytes of a read buffer or tail chunk is still reported.
const raceEnabled = true
