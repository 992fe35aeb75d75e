package storage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// allocSlots returns a zeroed table of n slots in an anonymous mapping outside
// the Go heap, with every page mapped at once (MAP_POPULATE), and the function
// that unmaps it; when the mapping fails, a heap slice and nil.
//
// The table is written at random places as keys go in, so a heap slice (whose
// pages the kernel maps on first touch) took one page fault per 4 KiB: growing
// to 2 M slots took 140 ms of faults, during which a third of the produce
// path's requests were slower than the idle p99 on the development VM. Mapped
// at once, the same table costs 20-26 ms of the cleaner thread's time and
// hardly any produce request is slower (docs/benchmarks.md, "Compaction").
func allocSlots(n int) ([]offsetSlot, func()) {
	size := n * offsetSlotBytes
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return make([]offsetSlot, n), nil
	}
	return unsafe.Slice((*offsetSlot)(unsafe.Pointer(unsafe.SliceData(mem))), n), func() { _ = unix.Munmap(mem) }
}
