package storage

import "golang.org/x/sys/unix"

// mapIOMem returns n bytes of anonymous memory outside the Go heap, aligned
// to hugePage and advised to be backed by transparent huge pages, or nil when
// the mapping fails. Pages are faulted in on first touch.
func mapIOMem(n int) []byte {
	n = (n + hugePage - 1) &^ (hugePage - 1)
	mem, err := unix.Mmap(-1, 0, n+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	off := int(-uintptrOf(&mem[0]) & (hugePage - 1))
	b := mem[off : off+n : off+n]
	// Without THP (or with it disabled) the advice fails or does nothing and
	// the pieces are ordinary pages.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b
}
