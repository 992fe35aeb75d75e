package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// prefetch asks the kernel to start reading [off, off+n) of f into the page
// cache (POSIX_FADV_WILLNEED) without waiting for it. Advisory: errors are ignored.
func prefetch(f *os.File, off, n int64) { fadvise(f, off, n, unix.FADV_WILLNEED) }

// noReadahead turns off the kernel's read-ahead for f (POSIX_FADV_RANDOM): the
// buffered reads left on a direct log's file are single batch headers.
func noReadahead(f *os.File) { fadvise(f, 0, 0, unix.FADV_RANDOM) }

func fadvise(f *os.File, off, n int64, advice int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.Fadvise(int(fd), off, n, advice)
	})
}
