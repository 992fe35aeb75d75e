//go:build !unix

package storage

import (
	"errors"
	"io"
	"os"
)

// pread reads like pread(2), a short read at the end of the file included.
// Only direct reads need it, and there are none without O_DIRECT.
func pread(f *os.File, b []byte, off int64) (int, error) {
	n, err := f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
