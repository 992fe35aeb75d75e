package storage

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const directFlag = syscall.O_DIRECT

// directSyncFlag makes each direct write durable when it completes (the
// cleaner's output: nothing it wrote is left for someone else's sync).
const directSyncFlag = syscall.O_DSYNC

// openDirect opens an existing segment file for writing with O_DIRECT.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|directFlag, 0)
}

// pwritev writes the pieces one after the other from file position off, with
// as few system calls as the kernel allows (one, unless it writes short).
// For O_DIRECT every piece must be aligned (each chunk of the tail is).
func pwritev(f *os.File, pieces [][]byte, off int64) error {
	return withFD(f, func(fd int) error {
		for len(pieces) > 0 {
			n, err := unix.Pwritev(fd, pieces[:min(len(pieces), 1024)], off) // IOV_MAX
			if err != nil {
				return err // EINTR: withFD calls again with what is left
			}
			if n == 0 {
				return io.ErrShortWrite
			}
			off += int64(n)
			for n > 0 {
				if n < len(pieces[0]) {
					pieces[0] = pieces[0][n:] // an unaligned remainder fails with EINVAL under O_DIRECT
					break
				}
				n -= len(pieces[0])
				pieces = pieces[1:]
			}
		}
		return nil
	})
}
