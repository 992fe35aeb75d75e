package storage

import (
	"os"
	"syscall"
)

// withFD runs fn with f's descriptor (f stays open meanwhile), again for as
// long as it fails with EINTR, and returns its error.
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = fn(int(fd)); ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
