//go:build !unix

package wasmbuildtest

import "os"

// lockFile does nothing without flock(2): concurrent test processes may then
// build the same module twice; the rename into the cache keeps it whole.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
