//go:build unix

package storage

import (
	"os"
	"syscall"
)

// pread is one pread(2): os.File.ReadAt would retry a short read at an
// unaligned offset, which O_DIRECT refuses.
func pread(f *os.File, b []byte, off int64) (int, error) {
	var n int
	err := withFD(f, func(fd int) (err error) {
		n, err = syscall.Pread(fd, b, off)
		return err
	})
	return n, err
}
