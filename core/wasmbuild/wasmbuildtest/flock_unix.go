//go:build unix

package wasmbuildtest

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on f: one test process builds a
// module, the others wait and read the cached result.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
