package storage

import (
	"os"
	"syscall"
)

const directFlag = syscall.O_DIRECT

// openDirect opens an existing segment file for writing with O_DIRECT.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|directFlag, 0)
}
