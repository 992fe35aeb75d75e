package storage

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and the metadata needed to read it, such as
// its size) to stable storage.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// writeback starts writing [from, from+n) of f to disk and waits until
// [prevFrom, prevFrom+prevN) (the range started last time) is written, with
// sync_file_range(2): it bounds how much dirty data a large write leaves for
// its final fdatasync without a journal commit per step. It makes nothing
// durable by itself (no metadata, no disk cache flush).
func writeback(f *os.File, from, n, prevFrom, prevN int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	const (
		waitBefore = 0x1 // SYNC_FILE_RANGE_WAIT_BEFORE
		write      = 0x2 // SYNC_FILE_RANGE_WRITE
		waitAfter  = 0x4 // SYNC_FILE_RANGE_WAIT_AFTER
	)
	call := func(fd uintptr, off, n int64, flags int) error {
		for {
			if err := syscall.SyncFileRange(int(fd), off, n, flags); err != syscall.EINTR {
				return err
			}
		}
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = call(fd, from, n, write); serr == nil && prevN > 0 {
			serr = call(fd, prevFrom, prevN, waitBefore|write|waitAfter)
		}
	}); err != nil {
		return err
	}
	return serr
}
