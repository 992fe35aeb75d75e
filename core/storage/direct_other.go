//go:build !linux

package storage

import (
	"errors"
	"os"
)

// directFlag: opening with it fails (see directReader) because openDirect
// fails first and the log never uses direct reads.
const directFlag = 0

const directSyncFlag = 0

// openDirect: direct appends are implemented for Linux only.
func openDirect(string) (*os.File, error) {
	return nil, errors.New("direct I/O is supported on Linux only")
}

// pwritev writes the pieces one after the other from file position off.
func pwritev(f *os.File, pieces [][]byte, off int64) error {
	for _, p := range pieces {
		if _, err := f.WriteAt(p, off); err != nil {
			return err
		}
		off += int64(len(p))
	}
	return nil
}
