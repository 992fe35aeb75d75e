package storage

import (
	"os"
	"syscall"
)

const directFlag = syscall.O_DIRECT

// directSyncFlag makes each direct write durable when it completes (the
// cleaner's output: nothing it wrote is left for someone else's sync).
const directSyncFlag = syscall.O_DSYNC

// openDirect opens an existing segment file for writing with O_DIRECT.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|directFlag, 0)
}
