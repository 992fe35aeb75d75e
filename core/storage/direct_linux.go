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
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		for len(pieces) > 0 {
			n, err := unix.Pwritev(int(fd), pieces[:min(len(pieces), 1024)], off) // IOV_MAX
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return
			}
			if n == 0 {
				werr = io.ErrShortWrite
				return
			}
			off += int64(n)
			for n > 0 && len(pieces) > 0 {
				if n < len(pieces[0]) {
					pieces[0] = pieces[0][n:] // an unaligned remainder fails with EINVAL under O_DIRECT
					n = 0
					break
				}
				n -= len(pieces[0])
				pieces = pieces[1:]
			}
		}
	}); err != nil {
		return err
	}
	return werr
}
