package storage

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and the metadata needed to read it, such as
// its size) to stable storage.
func fdatasync(f *os.File) error {
	return withFD(f, syscall.Fdatasync)
}

// writeback starts writing [from, from+n) of f to disk and waits until
// [prevFrom, prevFrom+prevN) (the range started last time) is written, with
// sync_file_range(2): it bounds how much dirty data a large write leaves for
// its final fdatasync without a journal commit per step. It makes nothing
// durable by itself (no metadata, no disk cache flush).
func writeback(f *os.File, from, n, prevFrom, prevN int64) error {
	const (
		waitBefore = 0x1 // SYNC_FILE_RANGE_WAIT_BEFORE
		write      = 0x2 // SYNC_FILE_RANGE_WRITE
		waitAfter  = 0x4 // SYNC_FILE_RANGE_WAIT_AFTER
	)
	if err := withFD(f, func(fd int) error { return syscall.SyncFileRange(fd, from, n, write) }); err != nil || prevN == 0 {
		return err
	}
	return withFD(f, func(fd int) error { return syscall.SyncFileRange(fd, prevFrom, prevN, waitBefore|write|waitAfter) })
}
